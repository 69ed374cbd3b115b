// The gRPC face of refx.v1.AuditService: the audit log for data protection
// officers (AUDIT_READ), subject access and the register of data subject
// requests (SUBJECT_ACCESS, core/subject_access.h, core/subject_requests.h) and retention (RETENTION_MANAGE, core/retention.h). Every method is RunUnary around one core call.
#ifndef REFX_SERVER_AUDIT_SERVICE_H_
#define REFX_SERVER_AUDIT_SERVICE_H_

#include "core/retention.h"
#include "core/subject_access.h"
#include "core/subject_requests.h"
#include "refx/v1/audit_service.grpc.pb.h"
#include "server/unary_call.h"

namespace refx::server {

using RawAuditServiceBase = v1::AuditService::WithRawCallbackMethod_ListAuditEvents<
    v1::AuditService::WithRawCallbackMethod_VerifyAuditChain<v1::AuditService::WithRawCallbackMethod_FindSubjectReferrals<
        v1::AuditService::WithRawCallbackMethod_ExportSubjectAccessBundle<
            v1::AuditService::WithRawCallbackMethod_PreviewRetention<v1::AuditService::WithRawCallbackMethod_PlaceLegalHold<
                v1::AuditService::WithRawCallbackMethod_ReleaseLegalHold<
                    v1::AuditService::WithRawCallbackMethod_ListLegalHolds<
                        v1::AuditService::WithRawCallbackMethod_CreateSubjectRequest<
                            v1::AuditService::WithRawCallbackMethod_GetSubjectRequest<
                                v1::AuditService::WithRawCallbackMethod_ListSubjectRequests<
                                    v1::AuditService::WithRawCallbackMethod_RecordSubjectRequestStep<
                                        v1::AuditService::WithRawCallbackMethod_EraseSubjectData<
                                            v1::AuditService::WithRawCallbackMethod_RecordRectification<
                                                v1::AuditService::Service>>>>>>>>>>>>>>;

class AuditServiceImpl final : public RawAuditServiceBase {
 public:
  AuditServiceImpl(ServiceContext context, core::SubjectAccess* subject_access,
                   core::SubjectRequestRegister* subject_requests, core::RetentionJob* retention)
      : context_(std::move(context)),
        subject_access_(subject_access),
        subject_requests_(subject_requests),
        retention_(retention) {}

  grpc::ServerUnaryReactor* ListAuditEvents(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                            grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* VerifyAuditChain(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                             grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* FindSubjectReferrals(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                                 grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ExportSubjectAccessBundle(grpc::CallbackServerContext* ctx,
                                                      const grpc::ByteBuffer* request,
                                                      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* PreviewRetention(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                             grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* PlaceLegalHold(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ReleaseLegalHold(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                             grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListLegalHolds(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* CreateSubjectRequest(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                                 grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetSubjectRequest(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                              grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListSubjectRequests(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                                grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* RecordSubjectRequestStep(grpc::CallbackServerContext* ctx,
                                                     const grpc::ByteBuffer* request,
                                                     grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* EraseSubjectData(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                             grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* RecordRectification(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                                grpc::ByteBuffer* response) override;

 private:
  ServiceContext context_;
  core::SubjectAccess* subject_access_;             // not owned
  core::SubjectRequestRegister* subject_requests_;  // not owned
  core::RetentionJob* retention_;        // not owned
};

}  // namespace refx::server

#endif  // REFX_SERVER_AUDIT_SERVICE_H_
