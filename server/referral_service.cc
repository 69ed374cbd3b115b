#include "server/referral_service.h"

#include <string>
#include <vector>

#include "server/referral_convert.h"

namespace refx::server {

grpc::ServerUnaryReactor* ReferralServiceImpl::CreateReferral(grpc::CallbackServerContext* ctx,
                                                              const grpc::ByteBuffer* request,
                                                              grpc::ByteBuffer* response) {
  return RunUnary<v1::CreateReferralRequest, v1::Referral>(
      "refx.v1.ReferralService.CreateReferral", ctx, request, response, context_,
      [this](const core::Caller& caller, const v1::CreateReferralRequest& req, v1::Referral* out,
             core::CallAudit* audit) {
        auto created = context_.referrals->CreateReferral(caller, req.referral(), req.request_id(), audit);
        if (!created.ok()) return created.status();
        *out = *std::move(created);
        return absl::OkStatus();
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
  return RunUnary<v1::ListReferralsRequest, v1::ListReferralsResponse>(
      "refx.v1.ReferralService.ListReferrals", ctx, request, response, context_,
      [this](const core::Caller& caller, const v1::ListReferralsRequest& req, v1::ListReferralsResponse* out,
             core::CallAudit* audit) {
        auto params = ToListParams(req);
        if (!params.ok()) return params.status();
        auto page = context_.referrals->ListReferrals(caller, *params, audit);
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
      "refx.v1.ReferralService.WhoAmI", ctx, request, response, context_,
      [this](const core::Caller& caller, const v1::WhoAmIRequest&, v1::WhoAmIResponse* out, core::CallAudit*) {
        ToWhoAmIResponse(caller, context_.partnership->id(), out);
        return absl::OkStatus();
      });
}

}  // namespace refx::server
