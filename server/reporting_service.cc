#include "server/reporting_service.h"

#include <memory>
#include <string>

#include "server/watch_stream.h"

namespace refx::server {

grpc::ServerUnaryReactor* ReportingServiceImpl::CountReferrals(grpc::CallbackServerContext* ctx,
                                                               const grpc::ByteBuffer* request,
                                                               grpc::ByteBuffer* response) {
  return RunUnary<v1::CountReferralsRequest, v1::CountReferralsResponse>(
      "refx.v1.ReportingService.CountReferrals", ctx, request, response, context_,
      [this](const core::Caller& caller, const v1::CountReferralsRequest& req, v1::CountReferralsResponse* out,
             core::CallAudit* audit) -> absl::Status {
        REFX_ASSIGN_OR_RETURN(*out, reports_->CountReferrals(caller, req, audit));
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* ReportingServiceImpl::ReportResponseTimes(grpc::CallbackServerContext* ctx,
                                                                    const grpc::ByteBuffer* request,
                                                                    grpc::ByteBuffer* response) {
  return RunUnary<v1::ReportResponseTimesRequest, v1::ReportResponseTimesResponse>(
      "refx.v1.ReportingService.ReportResponseTimes", ctx, request, response, context_,
      [this](const core::Caller& caller, const v1::ReportResponseTimesRequest& req,
             v1::ReportResponseTimesResponse* out, core::CallAudit* audit) -> absl::Status {
        REFX_ASSIGN_OR_RETURN(*out, reports_->ReportResponseTimes(caller, req, audit));
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* ReportingServiceImpl::ListTensionAlerts(grpc::CallbackServerContext* ctx,
                                                                  const grpc::ByteBuffer* request,
                                                                  grpc::ByteBuffer* response) {
  return RunUnary<v1::ListTensionAlertsRequest, v1::ListTensionAlertsResponse>(
      "refx.v1.ReportingService.ListTensionAlerts", ctx, request, response, context_,
      [this](const core::Caller& caller, const v1::ListTensionAlertsRequest& req, v1::ListTensionAlertsResponse* out,
             core::CallAudit* audit) -> absl::Status {
        REFX_ASSIGN_OR_RETURN(*out, tensions_->List(caller, req, audit));
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* ReportingServiceImpl::AcknowledgeTensionAlert(grpc::CallbackServerContext* ctx,
                                                                        const grpc::ByteBuffer* request,
                                                                        grpc::ByteBuffer* response) {
  return RunUnary<v1::AcknowledgeTensionAlertRequest, v1::TensionAlert>(
      "refx.v1.ReportingService.AcknowledgeTensionAlert", ctx, request, response, context_,
      [this](const core::Caller& caller, const v1::AcknowledgeTensionAlertRequest& req, v1::TensionAlert* out,
             core::CallAudit* audit) -> absl::Status {
        REFX_ASSIGN_OR_RETURN(*out, tensions_->Acknowledge(caller, req, audit));
        return absl::OkStatus();
      });
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* ReportingServiceImpl::WatchTensionAlerts(grpc::CallbackServerContext* ctx,
                                                                                     const grpc::ByteBuffer* request) {
  return WatchStream::Start(
      ctx, request, context_, core::kTensionWatchMethod,
      [hub = tension_watch_](const core::Caller& identified, const core::Caller& admitted, const std::string& purpose,
                             const std::string& bytes,
                             core::WatchSink* sink) -> absl::StatusOr<std::shared_ptr<core::WatchSubscription>> {
        v1::WatchTensionAlertsRequest parsed;
        REFX_RETURN_IF_ERROR(ParseMessageOrExplain(bytes, &parsed));
        REFX_RETURN_IF_ERROR(internal::ApplyFieldBehavior(&parsed));
        REFX_ASSIGN_OR_RETURN(std::shared_ptr<core::TensionWatchSession> session,
                              hub->Subscribe(identified, admitted, parsed.first_week(), purpose, sink));
        return session;
      });
}

}  // namespace refx::server
