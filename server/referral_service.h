// The gRPC face of refx.v1.ReferralService.
//
// Every method is RunUnary (server/unary_call.h) around one core call.
// Methods are registered raw (ByteBuffer in and out) only so that parsing
// errors can be explained; the messages are the generated ones.
#ifndef REFX_SERVER_REFERRAL_SERVICE_H_
#define REFX_SERVER_REFERRAL_SERVICE_H_

#include <memory>

#include "core/agreement.h"
#include "core/auditor.h"
#include "core/partnership.h"
#include "core/referral_manager.h"
#include "refx/v1/referral_service.grpc.pb.h"
#include "server/unary_call.h"
#include "server/work_pool.h"

namespace refx::server {

using RawReferralServiceBase = v1::ReferralService::WithRawCallbackMethod_CreateReferral<
    v1::ReferralService::WithRawCallbackMethod_GetReferral<
        v1::ReferralService::WithRawCallbackMethod_ListReferrals<
            v1::ReferralService::WithRawCallbackMethod_WhoAmI<v1::ReferralService::Service>>>>;

class ReferralServiceImpl final : public RawReferralServiceBase {
 public:
  explicit ReferralServiceImpl(ServiceContext context) : context_(std::move(context)) {}

  grpc::ServerUnaryReactor* CreateReferral(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetReferral(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListReferrals(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* WhoAmI(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override;

 private:
  ServiceContext context_;
};

}  // namespace refx::server

#endif  // REFX_SERVER_REFERRAL_SERVICE_H_
