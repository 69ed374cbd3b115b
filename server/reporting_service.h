// The gRPC face of refx.v1.ReportingService: protected aggregate tables
// (core/report_manager.h) and community-tension alerts
// (core/tension_alerts.h, core/tension_watch.h). Every unary method is
// RunUnary around one core call; the stream is a WatchStream.
#ifndef REFX_SERVER_REPORTING_SERVICE_H_
#define REFX_SERVER_REPORTING_SERVICE_H_

#include "core/report_manager.h"
#include "core/tension_alerts.h"
#include "core/tension_watch.h"
#include "refx/v1/reporting_service.grpc.pb.h"
#include "server/unary_call.h"

namespace refx::server {

using RawReportingServiceBase = v1::ReportingService::WithRawCallbackMethod_CountReferrals<
    v1::ReportingService::WithRawCallbackMethod_ReportResponseTimes<
        v1::ReportingService::WithRawCallbackMethod_ListTensionAlerts<
            v1::ReportingService::WithRawCallbackMethod_AcknowledgeTensionAlert<
                v1::ReportingService::WithRawCallbackMethod_WatchTensionAlerts<v1::ReportingService::Service>>>>>;

class ReportingServiceImpl final : public RawReportingServiceBase {
 public:
  ReportingServiceImpl(ServiceContext context, core::ReportManager* reports, core::TensionAlerts* tensions,
                       core::TensionWatchHub* tension_watch)
      : context_(std::move(context)), reports_(reports), tensions_(tensions), tension_watch_(tension_watch) {}

  grpc::ServerUnaryReactor* CountReferrals(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ReportResponseTimes(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                                grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListTensionAlerts(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                              grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* AcknowledgeTensionAlert(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                                    grpc::ByteBuffer* response) override;
  grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchTensionAlerts(grpc::CallbackServerContext* ctx,
                                                                 const grpc::ByteBuffer* request) override;

 private:
  ServiceContext context_;
  core::ReportManager* reports_;    // not owned
  core::TensionAlerts* tensions_;   // not owned
  core::TensionWatchHub* tension_watch_;  // not owned
};

}  // namespace refx::server

#endif  // REFX_SERVER_REPORTING_SERVICE_H_
