#include "server/referral_service.h"

#include <functional>
#include <string>
#include <vector>

#include "core/referral_watch.h"
#include "server/referral_convert.h"
#include "server/watch_stream.h"

namespace refx::server {
namespace {

// A write's completion as RunUnaryAsync wants it: the answer into `out`,
// then the call's status to `done`.
template <typename T>
std::function<void(absl::StatusOr<T>)> Answer(T* out, std::function<void(absl::Status)> done) {
  return [out, done = std::move(done)](absl::StatusOr<T> result) {
    if (result.ok()) *out = *std::move(result);
    done(result.status());
  };
}

}  // namespace

grpc::ServerUnaryReactor* ReferralServiceImpl::CreateReferral(grpc::CallbackServerContext* ctx,
                                                              const grpc::ByteBuffer* request,
                                                              grpc::ByteBuffer* response) {
  return RunUnaryAsync<v1::CreateReferralRequest, v1::Referral>(
      "refx.v1.ReferralService.CreateReferral", ctx, request, response, context_,
      [this](const core::Caller& caller, const v1::CreateReferralRequest& req, v1::Referral* out,
             core::CallAudit* audit, std::function<void(absl::Status)> done) {
        context_.referrals->CreateReferralAsync(caller, req.referral(), req.request_id(), audit,
                                                Answer(out, std::move(done)));
      });
}

grpc::ServerUnaryReactor* ReferralServiceImpl::GetReferral(grpc::CallbackServerContext* ctx,
                                                           const grpc::ByteBuffer* request,
                                                           grpc::ByteBuffer* response) {
  return RunUnary<v1::GetReferralRequest, v1::Referral>(
      "refx.v1.ReferralService.GetReferral", ctx, request, response, context_,
      [this](const core::Caller& caller, const v1::GetReferralRequest& req, v1::Referral* out,
             core::CallAudit* audit) {
        auto referral = context_.referrals->GetReferral(
            caller, req.name(), std::vector<std::string>(req.read_mask().paths().begin(), req.read_mask().paths().end()),
            audit);
        if (!referral.ok()) return referral.status();
        *out = *std::move(referral);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* ReferralServiceImpl::ListReferrals(grpc::CallbackServerContext* ctx,
                                                             const grpc::ByteBuffer* request,
                                                             grpc::ByteBuffer* response) {
  // The page arrives as the referrals core rendered (and serialized) for
  // the caller, and leaves as those bytes.
  return RunUnary<v1::ListReferralsRequest, std::string>(
      "refx.v1.ReferralService.ListReferrals", ctx, request, response, context_,
      [this](const core::Caller& caller, const v1::ListReferralsRequest& req, std::string* out,
             core::CallAudit* audit) {
        auto params = ToListParams(req);
        if (!params.ok()) return params.status();
        auto page = context_.referrals->ListReferrals(caller, *params, audit);
        if (!page.ok()) return page.status();
        *out = page->Serialize();
        return absl::OkStatus();
      });
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* ReferralServiceImpl::WatchReferrals(grpc::CallbackServerContext* ctx,
                                                                               const grpc::ByteBuffer* request) {
  return WatchStream::Start(
      ctx, request, context_, core::kWatchMethod,
      [hub = context_.watch_hub](const core::Caller& identified, const core::Caller& admitted,
                                 const std::string& purpose, const std::string& bytes,
                                 core::WatchSink* sink) -> absl::StatusOr<std::shared_ptr<core::WatchSubscription>> {
        v1::WatchReferralsRequest parsed;
        REFX_RETURN_IF_ERROR(ParseMessageOrExplain(bytes, &parsed));
        REFX_RETURN_IF_ERROR(internal::ApplyFieldBehavior(&parsed));
        core::WatchParams params;
        params.after_sequence = parsed.after_sequence();
        params.start_at_head = parsed.start_at_head();
        params.read_mask.assign(parsed.read_mask().paths().begin(), parsed.read_mask().paths().end());
        params.purpose = purpose;
        REFX_ASSIGN_OR_RETURN(std::shared_ptr<core::WatchSession> session,
                              hub->Subscribe(identified, admitted, std::move(params), sink));
        return session;
      });
}

grpc::ServerUnaryReactor* ReferralServiceImpl::WhoAmI(grpc::CallbackServerContext* ctx,
                                                      const grpc::ByteBuffer* request,
                                                      grpc::ByteBuffer* response) {
  return RunUnary<v1::WhoAmIRequest, v1::WhoAmIResponse>(
      "refx.v1.ReferralService.WhoAmI", ctx, request, response, context_,
      [this](const core::Caller& caller, const v1::WhoAmIRequest&, v1::WhoAmIResponse* out, core::CallAudit*) {
        ToWhoAmIResponse(caller, context_.registry->Current()->id(), out);
        return absl::OkStatus();
      });
}

template <typename Request, typename Convert>
grpc::ServerUnaryReactor* ReferralServiceImpl::RunTransition(const char* method, grpc::CallbackServerContext* ctx,
                                                             const grpc::ByteBuffer* request,
                                                             grpc::ByteBuffer* response, Convert convert) {
  return RunUnaryAsync<Request, v1::Referral>(
      method, ctx, request, response, context_,
      [this, convert](const core::Caller& caller, const Request& req, v1::Referral* out, core::CallAudit* audit,
                      std::function<void(absl::Status)> done) {
        core::TransitionParams params;
        params.name = req.name();
        params.request_id = req.request_id();
        params.etag = req.etag();
        convert(req, &params);
        context_.referrals->TransitionAsync(caller, params, audit, Answer(out, std::move(done)));
      });
}

grpc::ServerUnaryReactor* ReferralServiceImpl::AcceptReferral(grpc::CallbackServerContext* ctx,
                                                              const grpc::ByteBuffer* request,
                                                              grpc::ByteBuffer* response) {
  return RunTransition<v1::AcceptReferralRequest>(
      "refx.v1.ReferralService.AcceptReferral", ctx, request, response,
      [](const v1::AcceptReferralRequest&, core::TransitionParams* p) { p->action = core::LifecycleAction::kAccept; });
}

grpc::ServerUnaryReactor* ReferralServiceImpl::DeclineReferral(grpc::CallbackServerContext* ctx,
                                                               const grpc::ByteBuffer* request,
                                                               grpc::ByteBuffer* response) {
  return RunTransition<v1::DeclineReferralRequest>(
      "refx.v1.ReferralService.DeclineReferral", ctx, request, response,
      [](const v1::DeclineReferralRequest& req, core::TransitionParams* p) {
        p->action = core::LifecycleAction::kDecline;
        p->decline_reason = req.reason();
        p->text = req.reason_text();
      });
}

grpc::ServerUnaryReactor* ReferralServiceImpl::RedirectReferral(grpc::CallbackServerContext* ctx,
                                                                const grpc::ByteBuffer* request,
                                                                grpc::ByteBuffer* response) {
  return RunTransition<v1::RedirectReferralRequest>(
      "refx.v1.ReferralService.RedirectReferral", ctx, request, response,
      [](const v1::RedirectReferralRequest& req, core::TransitionParams* p) {
        p->action = core::LifecycleAction::kRedirect;
        p->target_agency = req.target_agency();
      });
}

grpc::ServerUnaryReactor* ReferralServiceImpl::StartReferral(grpc::CallbackServerContext* ctx,
                                                             const grpc::ByteBuffer* request,
                                                             grpc::ByteBuffer* response) {
  return RunTransition<v1::StartReferralRequest>(
      "refx.v1.ReferralService.StartReferral", ctx, request, response,
      [](const v1::StartReferralRequest&, core::TransitionParams* p) { p->action = core::LifecycleAction::kStart; });
}

grpc::ServerUnaryReactor* ReferralServiceImpl::CompleteReferral(grpc::CallbackServerContext* ctx,
                                                                const grpc::ByteBuffer* request,
                                                                grpc::ByteBuffer* response) {
  return RunTransition<v1::CompleteReferralRequest>(
      "refx.v1.ReferralService.CompleteReferral", ctx, request, response,
      [](const v1::CompleteReferralRequest& req, core::TransitionParams* p) {
        p->action = core::LifecycleAction::kComplete;
        p->outcome = req.outcome();
        p->text = req.note();
      });
}

grpc::ServerUnaryReactor* ReferralServiceImpl::CancelReferral(grpc::CallbackServerContext* ctx,
                                                              const grpc::ByteBuffer* request,
                                                              grpc::ByteBuffer* response) {
  return RunTransition<v1::CancelReferralRequest>(
      "refx.v1.ReferralService.CancelReferral", ctx, request, response,
      [](const v1::CancelReferralRequest& req, core::TransitionParams* p) {
        p->action = core::LifecycleAction::kCancel;
        p->text = req.reason();
      });
}

grpc::ServerUnaryReactor* ReferralServiceImpl::ReopenReferral(grpc::CallbackServerContext* ctx,
                                                              const grpc::ByteBuffer* request,
                                                              grpc::ByteBuffer* response) {
  return RunTransition<v1::ReopenReferralRequest>(
      "refx.v1.ReferralService.ReopenReferral", ctx, request, response,
      [](const v1::ReopenReferralRequest& req, core::TransitionParams* p) {
        p->action = core::LifecycleAction::kReopen;
        p->text = req.reason();
      });
}

grpc::ServerUnaryReactor* ReferralServiceImpl::AddCaseUpdate(grpc::CallbackServerContext* ctx,
                                                             const grpc::ByteBuffer* request,
                                                             grpc::ByteBuffer* response) {
  return RunUnaryAsync<v1::AddCaseUpdateRequest, v1::CaseUpdate>(
      "refx.v1.ReferralService.AddCaseUpdate", ctx, request, response, context_,
      [this](const core::Caller& caller, const v1::AddCaseUpdateRequest& req, v1::CaseUpdate* out,
             core::CallAudit* audit, std::function<void(absl::Status)> done) {
        core::AddCaseUpdateParams params{req.parent(), req.request_id(), req.etag(), req.update()};
        context_.referrals->AddCaseUpdateAsync(caller, params, audit, Answer(out, std::move(done)));
      });
}

grpc::ServerUnaryReactor* ReferralServiceImpl::ListCaseUpdates(grpc::CallbackServerContext* ctx,
                                                               const grpc::ByteBuffer* request,
                                                               grpc::ByteBuffer* response) {
  return RunUnary<v1::ListCaseUpdatesRequest, v1::ListCaseUpdatesResponse>(
      "refx.v1.ReferralService.ListCaseUpdates", ctx, request, response, context_,
      [this](const core::Caller& caller, const v1::ListCaseUpdatesRequest& req, v1::ListCaseUpdatesResponse* out,
             core::CallAudit* audit) {
        auto page = context_.referrals->ListCaseUpdates(caller, req.parent(), req.page_size(), req.page_token(), audit);
        if (!page.ok()) return page.status();
        *out = *std::move(page);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* ReferralServiceImpl::RecordSubjectNotification(grpc::CallbackServerContext* ctx,
                                                                         const grpc::ByteBuffer* request,
                                                                         grpc::ByteBuffer* response) {
  return RunUnary<v1::RecordSubjectNotificationRequest, v1::SubjectNotification>(
      "refx.v1.ReferralService.RecordSubjectNotification", ctx, request, response, context_,
      [this](const core::Caller& caller, const v1::RecordSubjectNotificationRequest& req, v1::SubjectNotification* out,
             core::CallAudit* audit) {
        core::RecordSubjectNotificationParams params{req.parent(), req.request_id(), req.notification()};
        auto step = context_.referrals->RecordSubjectNotification(caller, params, audit);
        if (!step.ok()) return step.status();
        *out = *std::move(step);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* ReferralServiceImpl::ListSubjectNotifications(grpc::CallbackServerContext* ctx,
                                                                        const grpc::ByteBuffer* request,
                                                                        grpc::ByteBuffer* response) {
  return RunUnary<v1::ListSubjectNotificationsRequest, v1::ListSubjectNotificationsResponse>(
      "refx.v1.ReferralService.ListSubjectNotifications", ctx, request, response, context_,
      [this](const core::Caller& caller, const v1::ListSubjectNotificationsRequest& req,
             v1::ListSubjectNotificationsResponse* out, core::CallAudit* audit) {
        auto steps = context_.referrals->ListSubjectNotifications(caller, req.parent(), audit);
        if (!steps.ok()) return steps.status();
        *out = *std::move(steps);
        return absl::OkStatus();
      });
}

}  // namespace refx::server
