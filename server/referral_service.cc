#include "server/referral_service.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "auth/caller_identity.h"
#include "core/method_permissions.h"
#include "common/log.h"
#include "common/proto_parse.h"
#include "server/referral_convert.h"
#include "server/status_mapping.h"

namespace refx::server {
namespace {

// Metadata naming the person acting for a back-office system. Recorded,
// never used to authorize.
constexpr char kActingUserHeader[] = "x-refx-acting-user";
// Metadata naming the purpose of the call under the agreement.
constexpr char kPurposeHeader[] = "x-refx-purpose";
constexpr char kServicePrefix[] = "refx.v1.ReferralService.";

std::string ByteBufferToString(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

void ToByteBuffer(const google::protobuf::Message& message, grpc::ByteBuffer* out) {
  grpc::Slice slice(message.SerializeAsString());
  *out = grpc::ByteBuffer(&slice, 1);
}

std::string Metadata(const grpc::CallbackServerContext& ctx, const char* key) {
  auto it = ctx.client_metadata().find(key);
  if (it == ctx.client_metadata().end()) return "";
  // Bounded so a hostile header cannot bloat logs or records.
  return std::string(it->second.data(), std::min<size_t>(it->second.size(), 128));
}

// The common shape of every unary method. `handler` runs on the work pool
// with the authenticated caller and the parsed request, and fills the
// response or returns an error.
template <typename Request, typename Response, typename Handler>
grpc::ServerUnaryReactor* RunUnary(const char* method, grpc::CallbackServerContext* ctx,
                                   const grpc::ByteBuffer* raw_request, grpc::ByteBuffer* raw_response,
                                   const core::Partnership& partnership, const core::AgreementHolder& agreements,
                                   WorkPool* pool, Handler handler) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  const absl::Time start = absl::Now();
  auto finish = [reactor, method, start](const absl::Status& status, const std::string& agency) {
    log::Event(status.ok() ? log::Level::kInfo : log::Level::kWarning, "rpc",
               {{"method", method},
                {"agency", agency.empty() ? "-" : agency},
                {"code", absl::StatusCodeToString(status.code())},
                {"latency_ms", absl::StrCat(absl::ToDoubleMilliseconds(absl::Now() - start))}});
    reactor->Finish(ToGrpcStatus(status));
  };
  // Identity first, then the method gate, before a single byte of the
  // request is looked at.
  auto identified = auth::IdentifyCaller(*ctx->auth_context(), partnership, Metadata(*ctx, kActingUserHeader));
  if (!identified.ok()) {
    finish(identified.status(), "");
    return reactor;
  }
  const std::string agency_id = identified->agency_id;
  auto caller = core::AdmitCall(*std::move(identified), absl::StrCat(kServicePrefix, method),
                                agreements.Current(), Metadata(*ctx, kPurposeHeader));
  if (!caller.ok()) {
    finish(caller.status(), agency_id);
    return reactor;
  }
  auto request = std::make_shared<Request>();
  absl::Status parsed = ParseMessageOrExplain(ByteBufferToString(*raw_request), request.get());
  if (!parsed.ok()) {
    finish(parsed, caller->agency_id);
    return reactor;
  }
  const std::string agency = caller->agency_id;
  const bool queued = pool->TrySubmit([caller = *std::move(caller), request, raw_response, finish, handler]() mutable {
    Response response;
    absl::Status status = handler(caller, *request, &response);
    if (status.ok()) ToByteBuffer(response, raw_response);
    finish(status, caller.agency_id);
  });
  if (!queued) finish(absl::ResourceExhaustedError("server busy; retry with backoff"), agency);
  return reactor;
}

}  // namespace

grpc::ServerUnaryReactor* ReferralServiceImpl::CreateReferral(grpc::CallbackServerContext* ctx,
                                                              const grpc::ByteBuffer* request,
                                                              grpc::ByteBuffer* response) {
  return RunUnary<v1::CreateReferralRequest, v1::Referral>(
      "CreateReferral", ctx, request, response, *partnership_, *agreements_, pool_,
      [this](const core::Caller& caller, const v1::CreateReferralRequest& req, v1::Referral* out) {
        auto created = referrals_->CreateReferral(caller, req.referral(), req.request_id());
        if (!created.ok()) return created.status();
        *out = *std::move(created);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* ReferralServiceImpl::GetReferral(grpc::CallbackServerContext* ctx,
                                                           const grpc::ByteBuffer* request,
                                                           grpc::ByteBuffer* response) {
  return RunUnary<v1::GetReferralRequest, v1::Referral>(
      "GetReferral", ctx, request, response, *partnership_, *agreements_, pool_,
      [this](const core::Caller& caller, const v1::GetReferralRequest& req, v1::Referral* out) {
        auto referral = referrals_->GetReferral(
            caller, req.name(), std::vector<std::string>(req.read_mask().paths().begin(), req.read_mask().paths().end()));
        if (!referral.ok()) return referral.status();
        *out = *std::move(referral);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* ReferralServiceImpl::ListReferrals(grpc::CallbackServerContext* ctx,
                                                             const grpc::ByteBuffer* request,
                                                             grpc::ByteBuffer* response) {
  return RunUnary<v1::ListReferralsRequest, v1::ListReferralsResponse>(
      "ListReferrals", ctx, request, response, *partnership_, *agreements_, pool_,
      [this](const core::Caller& caller, const v1::ListReferralsRequest& req, v1::ListReferralsResponse* out) {
        auto params = ToListParams(req);
        if (!params.ok()) return params.status();
        auto page = referrals_->ListReferrals(caller, *params);
        if (!page.ok()) return page.status();
        for (auto& r : page->referrals) *out->add_referrals() = std::move(r);
        out->set_next_page_token(page->next_page_token);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* ReferralServiceImpl::WhoAmI(grpc::CallbackServerContext* ctx,
                                                      const grpc::ByteBuffer* request,
                                                      grpc::ByteBuffer* response) {
  return RunUnary<v1::WhoAmIRequest, v1::WhoAmIResponse>(
      "WhoAmI", ctx, request, response, *partnership_, *agreements_, pool_,
      [this](const core::Caller& caller, const v1::WhoAmIRequest&, v1::WhoAmIResponse* out) {
        ToWhoAmIResponse(caller, partnership_->id(), out);
        return absl::OkStatus();
      });
}

}  // namespace refx::server
