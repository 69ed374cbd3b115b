#include "clients/lib/referral_client.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "clients/lib/handshake_diagnosis.h"
#include "common/status_details.h"
#include "common/yaml_proto.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace refx::client {
namespace {

// Reads one PEM file for `option`, checking it holds `marker` so that a
// swapped cert/key path fails here, by name, not in the TLS stack.
absl::StatusOr<std::string> ReadPem(const ConnectionOptions& options,
                                    const std::string& option, const std::string& path,
                                    const char* marker) {
  auto it = options.origin.find(option);
  const std::string where =
      it == options.origin.end() ? option : absl::StrCat(option, ", from ", it->second);
  if (path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("no ", option, " was given"));
  }
  std::string pem;
  if (!ReadFileToString(path, &pem).ok()) {
    return absl::NotFoundError(absl::StrCat("cannot read ", path, " (", where, ")"));
  }
  if (pem.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, " (", where, ") is empty"));
  }
  if (!absl::StrContains(pem, marker)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " (", where, ") holds no PEM \"", marker, "\" block"));
  }
  return pem;
}

}  // namespace

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  const auto code = static_cast<absl::StatusCode>(status.error_code());
  if (!status.error_details().empty()) {
    google::rpc::Status rpc;
    // A details blob whose code disagrees with the call's is not trusted:
    // the call's own code is the one gRPC guarantees.
    if (rpc.ParseFromString(status.error_details()) &&
        rpc.code() == static_cast<int>(code)) {
      return FromRpcStatus(rpc);
    }
  }
  return absl::Status(code, status.error_message());
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const ConnectionOptions& options) {
  grpc::SslCredentialsOptions ssl;
  auto roots = ReadPem(options, "ca_file", options.ca_file, "CERTIFICATE");
  if (!roots.ok()) return roots.status();
  auto chain = ReadPem(options, "cert_file", options.cert_file, "CERTIFICATE");
  if (!chain.ok()) return chain.status();
  auto key = ReadPem(options, "key_file", options.key_file, "PRIVATE KEY");
  if (!key.ok()) return key.status();
  ssl.pem_root_certs = *std::move(roots);
  ssl.pem_cert_chain = *std::move(chain);
  ssl.pem_private_key = *std::move(key);
  return grpc::SslCredentials(ssl);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const ConnectionOptions& options) {
  auto credentials = MakeChannelCredentials(options);
  if (!credentials.ok()) return credentials.status();
  grpc::ChannelArguments args;
  if (!options.server_name_override.empty()) {
    args.SetSslTargetNameOverride(options.server_name_override);
  }
  return grpc::CreateCustomChannel(options.server, *credentials, args);
}

absl::StatusOr<ReferralClient> ReferralClient::Connect(const ConnectionOptions& options) {
  auto channel = MakeChannel(options);
  if (!channel.ok()) return channel.status();
  return ReferralClient(*std::move(channel), options);
}

ReferralClient::ReferralClient(std::shared_ptr<grpc::Channel> channel,
                               ConnectionOptions options)
    : channel_(std::move(channel)),
      stub_(refx::v1::ReferralService::NewStub(channel_)),
      audit_stub_(refx::v1::AuditService::NewStub(channel_)),
      reporting_stub_(refx::v1::ReportingService::NewStub(channel_)),
      options_(std::move(options)) {}

ReferralClient::ReferralClient(
    std::shared_ptr<refx::v1::ReferralService::StubInterface> stub,
    ConnectionOptions options)
    : stub_(std::move(stub)), options_(std::move(options)) {}

absl::Status ReferralClient::RequireStub(const void* stub) {
  if (stub == nullptr) return absl::FailedPreconditionError("this client has no stub for that service");
  return absl::OkStatus();
}

void ReferralClient::Prepare(grpc::ClientContext* context) const {
  context->set_deadline(absl::ToChronoTime(absl::Now() + options_.timeout));
  PrepareMetadata(context);
}

void ReferralClient::PrepareMetadata(grpc::ClientContext* context) const {
  if (!options_.acting_user.empty()) {
    context->AddMetadata(kActingUserMetadataKey, options_.acting_user);
  }
  if (!options_.purpose.empty()) context->AddMetadata(kPurposeMetadataKey, options_.purpose);
}

void WatchCancellation::Cancel() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
  if (context_ != nullptr) context_->TryCancel();
}

bool WatchCancellation::cancelled() const {
  absl::MutexLock lock(&mu_);
  return cancelled_;
}

bool WatchCancellation::Attach(grpc::ClientContext* context) {
  absl::MutexLock lock(&mu_);
  if (cancelled_) return false;
  context_ = context;
  return true;
}

void WatchCancellation::Detach() {
  absl::MutexLock lock(&mu_);
  context_ = nullptr;
}

bool IsResumableWatchEnd(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:        // shutdown, slow subscriber, connection lost
    case absl::StatusCode::kResourceExhausted:  // server busy or at its stream limit
    case absl::StatusCode::kCancelled:          // cut by the server (a stalled stream)
    case absl::StatusCode::kInternal:           // transport errors (e.g. RST_STREAM)
    case absl::StatusCode::kAborted:
      return true;
    default:
      return false;
  }
}

template <typename Response>
absl::Status ReferralClient::ReadStream(
    const std::function<std::unique_ptr<grpc::ClientReaderInterface<Response>>(grpc::ClientContext*)>& open,
    const std::function<bool(const Response&)>& on_message, WatchCancellation* cancellation) const {
  grpc::ClientContext context;
  PrepareMetadata(&context);
  if (cancellation != nullptr && !cancellation->Attach(&context)) {
    return absl::CancelledError("watch cancelled");
  }
  auto reader = open(&context);
  Response message;
  bool stopped = false;
  while (reader->Read(&message)) {
    if (!on_message(message)) {
      stopped = true;
      context.TryCancel();
      break;
    }
  }
  if (stopped) {
    while (reader->Read(&message)) {
    }
  }
  grpc::Status status = reader->Finish();
  if (cancellation != nullptr) cancellation->Detach();
  if (stopped) return absl::OkStatus();
  if (cancellation != nullptr && cancellation->cancelled()) return absl::CancelledError("watch cancelled");
  return Finish(status);
}

absl::Status ReferralClient::Watch(const refx::v1::WatchReferralsRequest& request,
                                   const std::function<bool(const refx::v1::WatchReferralsResponse&)>& on_message,
                                   WatchCancellation* cancellation) {
  return ReadStream<refx::v1::WatchReferralsResponse>(
      [&](grpc::ClientContext* context) { return stub_->WatchReferrals(context, request); }, on_message, cancellation);
}

absl::Status ReferralClient::WatchTensionAlerts(
    const refx::v1::WatchTensionAlertsRequest& request,
    const std::function<bool(const refx::v1::WatchTensionAlertsResponse&)>& on_message,
    WatchCancellation* cancellation) {
  if (absl::Status present = RequireStub(reporting_stub_.get()); !present.ok()) return present;
  return ReadStream<refx::v1::WatchTensionAlertsResponse>(
      [&](grpc::ClientContext* context) { return reporting_stub_->WatchTensionAlerts(context, request); }, on_message,
      cancellation);
}

absl::Status ReferralClient::WatchWithResume(
    refx::v1::WatchReferralsRequest request,
    const std::function<bool(const refx::v1::WatchReferralsResponse&)>& on_message, WatchCancellation* cancellation,
    const std::function<void(const absl::Status&, int64_t resume_after)>& on_reconnect, absl::Duration backoff) {
  const absl::Duration initial_backoff = backoff;
  while (true) {
    bool progressed = false;
    absl::Status ended = Watch(
        request,
        [&](const refx::v1::WatchReferralsResponse& message) {
          // Resume after whatever arrived last: SUBSCRIBED fixes the start
          // of a from-now stream, each event moves it on.
          request.set_after_sequence(message.sequence());
          request.set_start_at_head(false);
          if (message.kind() != refx::v1::WatchReferralsResponse::SUBSCRIBED) progressed = true;
          return on_message(message);
        },
        cancellation);
    if (ended.ok() || !IsResumableWatchEnd(ended)) return ended;
    if (cancellation != nullptr && cancellation->cancelled()) return ended;
    if (on_reconnect) on_reconnect(ended, request.after_sequence());
    if (progressed) backoff = initial_backoff;
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(10));
  }
}

absl::Status ReferralClient::Finish(const grpc::Status& status) const {
  return ExplainConnectionFailure(FromGrpcStatus(status), options_);
}

absl::StatusOr<refx::v1::Referral> ReferralClient::CreateReferral(
    const refx::v1::Referral& referral, const std::string& request_id) {
  refx::v1::CreateReferralRequest request;
  *request.mutable_referral() = referral;
  request.set_request_id(request_id);
  return Unary(&refx::v1::ReferralService::StubInterface::CreateReferral, stub_.get(), request);
}

absl::StatusOr<refx::v1::Referral> ReferralClient::AcceptReferral(const refx::v1::AcceptReferralRequest& request) {
  return Unary(&refx::v1::ReferralService::StubInterface::AcceptReferral, stub_.get(), request);
}

absl::StatusOr<refx::v1::Referral> ReferralClient::DeclineReferral(const refx::v1::DeclineReferralRequest& request) {
  return Unary(&refx::v1::ReferralService::StubInterface::DeclineReferral, stub_.get(), request);
}

absl::StatusOr<refx::v1::Referral> ReferralClient::RedirectReferral(const refx::v1::RedirectReferralRequest& request) {
  return Unary(&refx::v1::ReferralService::StubInterface::RedirectReferral, stub_.get(), request);
}

absl::StatusOr<refx::v1::Referral> ReferralClient::StartReferral(const refx::v1::StartReferralRequest& request) {
  return Unary(&refx::v1::ReferralService::StubInterface::StartReferral, stub_.get(), request);
}

absl::StatusOr<refx::v1::Referral> ReferralClient::CompleteReferral(const refx::v1::CompleteReferralRequest& request) {
  return Unary(&refx::v1::ReferralService::StubInterface::CompleteReferral, stub_.get(), request);
}

absl::StatusOr<refx::v1::Referral> ReferralClient::CancelReferral(const refx::v1::CancelReferralRequest& request) {
  return Unary(&refx::v1::ReferralService::StubInterface::CancelReferral, stub_.get(), request);
}

absl::StatusOr<refx::v1::Referral> ReferralClient::ReopenReferral(const refx::v1::ReopenReferralRequest& request) {
  return Unary(&refx::v1::ReferralService::StubInterface::ReopenReferral, stub_.get(), request);
}

absl::StatusOr<refx::v1::CaseUpdate> ReferralClient::AddCaseUpdate(const refx::v1::AddCaseUpdateRequest& request) {
  return Unary(&refx::v1::ReferralService::StubInterface::AddCaseUpdate, stub_.get(), request);
}

absl::StatusOr<refx::v1::ListCaseUpdatesResponse> ReferralClient::ListCaseUpdates(
    const refx::v1::ListCaseUpdatesRequest& request) {
  return Unary(&refx::v1::ReferralService::StubInterface::ListCaseUpdates, stub_.get(), request);
}

absl::StatusOr<refx::v1::SubjectNotification> ReferralClient::RecordSubjectNotification(
    const refx::v1::RecordSubjectNotificationRequest& request) {
  return Unary(&refx::v1::ReferralService::StubInterface::RecordSubjectNotification, stub_.get(), request);
}

absl::StatusOr<refx::v1::ListSubjectNotificationsResponse> ReferralClient::ListSubjectNotifications(
    const refx::v1::ListSubjectNotificationsRequest& request) {
  return Unary(&refx::v1::ReferralService::StubInterface::ListSubjectNotifications, stub_.get(), request);
}

absl::StatusOr<refx::v1::Referral> ReferralClient::GetReferral(const std::string& name,
                                                               const std::vector<std::string>& read_mask) {
  refx::v1::GetReferralRequest request;
  request.set_name(name);
  for (const std::string& path : read_mask) request.mutable_read_mask()->add_paths(path);
  return Unary(&refx::v1::ReferralService::StubInterface::GetReferral, stub_.get(), request);
}

absl::StatusOr<refx::v1::ListReferralsResponse> ReferralClient::ListReferrals(
    const refx::v1::ListReferralsRequest& request) {
  return Unary(&refx::v1::ReferralService::StubInterface::ListReferrals, stub_.get(), request);
}

absl::StatusOr<refx::v1::ListAuditEventsResponse> ReferralClient::ListAuditEvents(
    const refx::v1::ListAuditEventsRequest& request) {
  return Unary(&refx::v1::AuditService::StubInterface::ListAuditEvents, audit_stub_.get(), request);
}

absl::StatusOr<refx::v1::FindSubjectReferralsResponse> ReferralClient::FindSubjectReferrals(
    const refx::v1::FindSubjectReferralsRequest& request) {
  return Unary(&refx::v1::AuditService::StubInterface::FindSubjectReferrals, audit_stub_.get(), request);
}

absl::StatusOr<refx::v1::SubjectAccessBundle> ReferralClient::ExportSubjectAccessBundle(
    const refx::v1::ExportSubjectAccessBundleRequest& request) {
  return Unary(&refx::v1::AuditService::StubInterface::ExportSubjectAccessBundle, audit_stub_.get(), request);
}

absl::StatusOr<refx::v1::PreviewRetentionResponse> ReferralClient::PreviewRetention(
    const refx::v1::PreviewRetentionRequest& request) {
  return Unary(&refx::v1::AuditService::StubInterface::PreviewRetention, audit_stub_.get(), request);
}

absl::StatusOr<refx::v1::LegalHold> ReferralClient::PlaceLegalHold(const refx::v1::PlaceLegalHoldRequest& request) {
  return Unary(&refx::v1::AuditService::StubInterface::PlaceLegalHold, audit_stub_.get(), request);
}

absl::Status ReferralClient::ReleaseLegalHold(const refx::v1::ReleaseLegalHoldRequest& request) {
  return Unary(&refx::v1::AuditService::StubInterface::ReleaseLegalHold, audit_stub_.get(), request).status();
}

absl::StatusOr<refx::v1::ListLegalHoldsResponse> ReferralClient::ListLegalHolds() {
  return Unary(&refx::v1::AuditService::StubInterface::ListLegalHolds, audit_stub_.get(),
               refx::v1::ListLegalHoldsRequest());
}

absl::StatusOr<refx::v1::SubjectRequest> ReferralClient::CreateSubjectRequest(
    const refx::v1::CreateSubjectRequestRequest& request) {
  return Unary(&refx::v1::AuditService::StubInterface::CreateSubjectRequest, audit_stub_.get(), request);
}

absl::StatusOr<refx::v1::SubjectRequest> ReferralClient::GetSubjectRequest(
    const refx::v1::GetSubjectRequestRequest& request) {
  return Unary(&refx::v1::AuditService::StubInterface::GetSubjectRequest, audit_stub_.get(), request);
}

absl::StatusOr<refx::v1::ListSubjectRequestsResponse> ReferralClient::ListSubjectRequests(
    const refx::v1::ListSubjectRequestsRequest& request) {
  return Unary(&refx::v1::AuditService::StubInterface::ListSubjectRequests, audit_stub_.get(), request);
}

absl::StatusOr<refx::v1::SubjectRequest> ReferralClient::RecordSubjectRequestStep(
    const refx::v1::RecordSubjectRequestStepRequest& request) {
  return Unary(&refx::v1::AuditService::StubInterface::RecordSubjectRequestStep, audit_stub_.get(), request);
}

absl::StatusOr<refx::v1::EraseSubjectDataResponse> ReferralClient::EraseSubjectData(
    const refx::v1::EraseSubjectDataRequest& request) {
  return Unary(&refx::v1::AuditService::StubInterface::EraseSubjectData, audit_stub_.get(), request);
}

absl::StatusOr<refx::v1::SubjectRequest> ReferralClient::RecordRectification(
    const refx::v1::RecordRectificationRequest& request) {
  return Unary(&refx::v1::AuditService::StubInterface::RecordRectification, audit_stub_.get(), request);
}

absl::StatusOr<refx::v1::CountReferralsResponse> ReferralClient::CountReferrals(
    const refx::v1::CountReferralsRequest& request) {
  return Unary(&refx::v1::ReportingService::StubInterface::CountReferrals, reporting_stub_.get(), request);
}

absl::StatusOr<refx::v1::ReportResponseTimesResponse> ReferralClient::ReportResponseTimes(
    const refx::v1::ReportResponseTimesRequest& request) {
  return Unary(&refx::v1::ReportingService::StubInterface::ReportResponseTimes, reporting_stub_.get(), request);
}

absl::StatusOr<refx::v1::ListTensionAlertsResponse> ReferralClient::ListTensionAlerts(
    const refx::v1::ListTensionAlertsRequest& request) {
  return Unary(&refx::v1::ReportingService::StubInterface::ListTensionAlerts, reporting_stub_.get(), request);
}

absl::StatusOr<refx::v1::TensionAlert> ReferralClient::AcknowledgeTensionAlert(
    const refx::v1::AcknowledgeTensionAlertRequest& request) {
  return Unary(&refx::v1::ReportingService::StubInterface::AcknowledgeTensionAlert, reporting_stub_.get(), request);
}

absl::StatusOr<refx::v1::VerifyAuditChainResponse> ReferralClient::VerifyAuditChain(
    const refx::v1::VerifyAuditChainRequest& request) {
  return Unary(&refx::v1::AuditService::StubInterface::VerifyAuditChain, audit_stub_.get(), request);
}

absl::StatusOr<refx::v1::WhoAmIResponse> ReferralClient::WhoAmI() {
  return Unary(&refx::v1::ReferralService::StubInterface::WhoAmI, stub_.get(), refx::v1::WhoAmIRequest());
}

}  // namespace refx::client
