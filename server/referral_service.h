// The gRPC face of refx.v1.ReferralService.
//
// Every method follows the same steps, in RunUnary: identify the caller from
// the verified certificate, parse the request (naming a field whose text is
// not UTF-8), hand the work to the pool, call one core method, convert,
// finish. Methods are registered raw (ByteBuffer in and out) only so that
// parsing errors can be explained; the messages are the generated ones.
#ifndef REFX_SERVER_REFERRAL_SERVICE_H_
#define REFX_SERVER_REFERRAL_SERVICE_H_

#include <memory>

#include "core/agreement.h"
#include "core/auditor.h"
#include "core/partnership.h"
#include "core/referral_manager.h"
#include "refx/v1/referral_service.grpc.pb.h"
#include "server/work_pool.h"

namespace refx::server {

using RawReferralServiceBase = v1::ReferralService::WithRawCallbackMethod_CreateReferral<
    v1::ReferralService::WithRawCallbackMethod_GetReferral<
        v1::ReferralService::WithRawCallbackMethod_ListReferrals<
            v1::ReferralService::WithRawCallbackMethod_WhoAmI<v1::ReferralService::Service>>>>;

// What every service's handlers share; nothing here is owned.
struct ServiceContext {
  std::shared_ptr<const core::Partnership> partnership;
  const core::AgreementHolder* agreements = nullptr;
  core::ReferralManager* referrals = nullptr;
  core::Auditor* auditor = nullptr;
  WorkPool* pool = nullptr;
};

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
