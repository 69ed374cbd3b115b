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

using RawLifecycleBase = v1::ReferralService::WithRawCallbackMethod_AcceptReferral<
    v1::ReferralService::WithRawCallbackMethod_DeclineReferral<
        v1::ReferralService::WithRawCallbackMethod_RedirectReferral<
            v1::ReferralService::WithRawCallbackMethod_StartReferral<
                v1::ReferralService::WithRawCallbackMethod_CompleteReferral<
                    v1::ReferralService::WithRawCallbackMethod_CancelReferral<
                        v1::ReferralService::WithRawCallbackMethod_ReopenReferral<
                            v1::ReferralService::Service>>>>>>>;

using RawCaseUpdatesBase = v1::ReferralService::WithRawCallbackMethod_AddCaseUpdate<
    v1::ReferralService::WithRawCallbackMethod_ListCaseUpdates<
        v1::ReferralService::WithRawCallbackMethod_RecordSubjectNotification<
            v1::ReferralService::WithRawCallbackMethod_ListSubjectNotifications<RawLifecycleBase>>>>;

using RawReferralServiceBase = v1::ReferralService::WithRawCallbackMethod_CreateReferral<
    v1::ReferralService::WithRawCallbackMethod_GetReferral<
        v1::ReferralService::WithRawCallbackMethod_ListReferrals<
            v1::ReferralService::WithRawCallbackMethod_WhoAmI<
                v1::ReferralService::WithRawCallbackMethod_WatchReferrals<RawCaseUpdatesBase>>>>>;

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
  // Server streaming (server/watch_stream.h).
  grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchReferrals(grpc::CallbackServerContext* ctx,
                                                             const grpc::ByteBuffer* request) override;
  // Lifecycle transitions (core/referral_lifecycle.h).
  grpc::ServerUnaryReactor* AcceptReferral(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* DeclineReferral(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                            grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* RedirectReferral(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                             grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* StartReferral(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* CompleteReferral(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                             grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* CancelReferral(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ReopenReferral(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;
  // Case updates: the referral's append-only case record.
  grpc::ServerUnaryReactor* AddCaseUpdate(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListCaseUpdates(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                            grpc::ByteBuffer* response) override;
  // The NCHI subject's notification, kept apart from the referral.
  grpc::ServerUnaryReactor* RecordSubjectNotification(grpc::CallbackServerContext* ctx,
                                                      const grpc::ByteBuffer* request,
                                                      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListSubjectNotifications(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                                     grpc::ByteBuffer* response) override;

 private:
  // One transition RPC: `convert` turns the request into TransitionParams.
  template <typename Request, typename Convert>
  grpc::ServerUnaryReactor* RunTransition(const char* method, grpc::CallbackServerContext* ctx,
                                          const grpc::ByteBuffer* request, grpc::ByteBuffer* response,
                                          Convert convert);

  ServiceContext context_;
};

}  // namespace refx::server

#endif  // REFX_SERVER_REFERRAL_SERVICE_H_
