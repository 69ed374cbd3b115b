// The gRPC face of refx.v1.AuditService: the audit log for data protection
// officers (AUDIT_READ). Every method is RunUnary around one core call.
#ifndef REFX_SERVER_AUDIT_SERVICE_H_
#define REFX_SERVER_AUDIT_SERVICE_H_

#include "refx/v1/audit_service.grpc.pb.h"
#include "server/unary_call.h"

namespace refx::server {

using RawAuditServiceBase = v1::AuditService::WithRawCallbackMethod_ListAuditEvents<
    v1::AuditService::WithRawCallbackMethod_VerifyAuditChain<v1::AuditService::Service>>;

class AuditServiceImpl final : public RawAuditServiceBase {
 public:
  explicit AuditServiceImpl(ServiceContext context) : context_(std::move(context)) {}

  grpc::ServerUnaryReactor* ListAuditEvents(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                            grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* VerifyAuditChain(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                             grpc::ByteBuffer* response) override;

 private:
  ServiceContext context_;
};

}  // namespace refx::server

#endif  // REFX_SERVER_AUDIT_SERVICE_H_
