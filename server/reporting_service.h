// The gRPC face of refx.v1.ReportingService: protected aggregate tables
// (core/report_manager.h) and community-tension alerts
// (core/tension_alerts.h). Every method is RunUnary around one core call.
#ifndef REFX_SERVER_REPORTING_SERVICE_H_
#define REFX_SERVER_REPORTING_SERVICE_H_

#include "core/report_manager.h"
#include "core/tension_alerts.h"
#include "refx/v1/reporting_service.grpc.pb.h"
#include "server/unary_call.h"

namespace refx::server {

using RawReportingServiceBase = v1::ReportingService::WithRawCallbackMethod_CountReferrals<
    v1::ReportingService::WithRawCallbackMethod_ReportResponseTimes<
        v1::ReportingService::WithRawCallbackMethod_ListTensionAlerts<
            v1::ReportingService::WithRawCallbackMethod_AcknowledgeTensionAlert<v1::ReportingService::Service>>>>;

class ReportingServiceImpl final : public RawReportingServiceBase {
 public:
  ReportingServiceImpl(ServiceContext context, core::ReportManager* reports, core::TensionAlerts* tensions)
      : context_(std::move(context)), reports_(reports), tensions_(tensions) {}

  grpc::ServerUnaryReactor* CountReferrals(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ReportResponseTimes(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                                grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListTensionAlerts(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                              grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* AcknowledgeTensionAlert(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                                    grpc::ByteBuffer* response) override;

 private:
  ServiceContext context_;
  core::ReportManager* reports_;    // not owned
  core::TensionAlerts* tensions_;   // not owned
};

}  // namespace refx::server

#endif  // REFX_SERVER_REPORTING_SERVICE_H_
