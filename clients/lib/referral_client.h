// The C++ client library of refx's ReferralService, in the style of
// google-cloud-cpp: a small, copyable ReferralClient whose every method
// returns absl::StatusOr, so callers (the `refx` CLI, agency integrations,
// the end-to-end tests) never see grpc::Status or exceptions.
//
// A call's error arrives exactly as the server built it: the
// google.rpc.Status in the trailing metadata is decoded once (FromGrpcStatus),
// so BadRequest field violations and the ErrorInfo reason are available
// through refx::FieldViolationsOf / refx::ErrorReasonOf. Connection and TLS
// handshake failures are rewritten into an actionable message by
// handshake_diagnosis.h.
#ifndef REFX_CLIENTS_LIB_REFERRAL_CLIENT_H_
#define REFX_CLIENTS_LIB_REFERRAL_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "clients/lib/connection_options.h"
#include "grpcpp/channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/status.h"
#include "refx/v1/audit_service.grpc.pb.h"
#include "refx/v1/referral_service.grpc.pb.h"
#include "refx/v1/reporting_service.grpc.pb.h"

namespace refx::client {

// The metadata key naming the person acting for the agency (audit only).
inline constexpr char kActingUserMetadataKey[] = "x-refx-acting-user";
inline constexpr char kPurposeMetadataKey[] = "x-refx-purpose";

// Converts a finished call's status to absl::Status, keeping the details of
// the google.rpc.Status in `error_details()` when it parses and its code
// matches; otherwise just code and message.
absl::Status FromGrpcStatus(const grpc::Status& status);

// Builds mutual-TLS channel credentials from the files in `options`.
// NOT_FOUND when a file cannot be read and INVALID_ARGUMENT when it is empty
// or holds no PEM certificate/key; both messages name the file and the
// option (and where it was set, when known).
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const ConnectionOptions& options);

// A channel to `options.server` over mutual TLS with those credentials,
// checking the server's name against `server_name_override` when set. It
// connects lazily. Errors are those of MakeChannelCredentials.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const ConnectionOptions& options);

// Lets another thread end a ReferralClient::Watch: the stream in progress
// ends (Watch returns CANCELLED) and no later one starts.
class WatchCancellation {
 public:
  void Cancel();
  bool cancelled() const;

 private:
  friend class ReferralClient;
  // Registers the stream's context; false if already cancelled.
  bool Attach(grpc::ClientContext* context);
  void Detach();
  mutable absl::Mutex mu_;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

// Whether a watch that ended with `status` should reconnect from its last
// sequence (server shutdown, a slow-subscriber close, a dropped connection).
bool IsResumableWatchEnd(const absl::Status& status);

class ReferralClient {
 public:
  // Creates a channel to `options.server` over mutual TLS. The channel
  // connects lazily: an unreachable server or a refused certificate shows up
  // as UNAVAILABLE on the first call, explained by handshake_diagnosis.
  // Errors are those of MakeChannelCredentials.
  static absl::StatusOr<ReferralClient> Connect(const ConnectionOptions& options);

  // Uses an existing channel (e.g. an in-process test server's). Only
  // `timeout`, `acting_user` and the file names (for diagnosis) of `options`
  // are used.
  ReferralClient(std::shared_ptr<grpc::Channel> channel, ConnectionOptions options);

  // Uses any stub, e.g. a generated MockReferralServiceStub in unit tests.
  ReferralClient(std::shared_ptr<refx::v1::ReferralService::StubInterface> stub,
                 ConnectionOptions options);

  ReferralClient(const ReferralClient&) = default;
  ReferralClient& operator=(const ReferralClient&) = default;
  ReferralClient(ReferralClient&&) = default;
  ReferralClient& operator=(ReferralClient&&) = default;

  // Creates `referral` from the caller's agency. Reusing `request_id` after
  // an uncertain failure (e.g. DEADLINE_EXCEEDED) is safe: the server
  // returns the referral first created. INVALID_ARGUMENT with field
  // violations for a bad referral, or for a reused id with a different
  // referral; PERMISSION_DENIED if the agency may not create referrals.
  absl::StatusOr<refx::v1::Referral> CreateReferral(const refx::v1::Referral& referral,
                                                    const std::string& request_id);

  // Gets `name` (`referrals/{id}`). NOT_FOUND if it does not exist or the
  // caller's agency is not a party to it.
  // `read_mask` (field paths) limits the fields returned; asking for one the
  // agreement does not share with the agency is PERMISSION_DENIED.
  absl::StatusOr<refx::v1::Referral> GetReferral(const std::string& name,
                                                 const std::vector<std::string>& read_mask = {});

  // One page of the referrals the caller's agency is a party to, newest
  // first. Pass `next_page_token` back in `page_token` for the next page.
  absl::StatusOr<refx::v1::ListReferralsResponse> ListReferrals(
      const refx::v1::ListReferralsRequest& request);

  // Lifecycle transitions. Each request carries the referral's `etag` as
  // last read (ABORTED if it changed: re-read and decide again) and a
  // `request_id` that makes a retry return the first result.
  absl::StatusOr<refx::v1::Referral> AcceptReferral(const refx::v1::AcceptReferralRequest& request);
  absl::StatusOr<refx::v1::Referral> DeclineReferral(const refx::v1::DeclineReferralRequest& request);
  absl::StatusOr<refx::v1::Referral> RedirectReferral(const refx::v1::RedirectReferralRequest& request);
  absl::StatusOr<refx::v1::Referral> StartReferral(const refx::v1::StartReferralRequest& request);
  absl::StatusOr<refx::v1::Referral> CompleteReferral(const refx::v1::CompleteReferralRequest& request);
  absl::StatusOr<refx::v1::Referral> CancelReferral(const refx::v1::CancelReferralRequest& request);
  absl::StatusOr<refx::v1::Referral> ReopenReferral(const refx::v1::ReopenReferralRequest& request);

  // Streams events (WatchReferrals) to `on_message` until it returns false
  // (then OK), the stream ends (its status), or `cancellation` is used. One
  // stream, no reconnection: see WatchWithResume. No deadline applies.
  absl::Status Watch(const refx::v1::WatchReferralsRequest& request,
                     const std::function<bool(const refx::v1::WatchReferralsResponse&)>& on_message,
                     WatchCancellation* cancellation = nullptr);

  // As Watch, reconnecting after a resumable end (IsResumableWatchEnd) from
  // the last sequence received, so no event is lost or repeated; waits
  // `backoff` (doubling to 10 s, reset by a received event) between tries.
  // `on_reconnect` (optional) hears each resumable end first. Returns the
  // first non-resumable end, or OK when `on_message` returns false.
  absl::Status WatchWithResume(refx::v1::WatchReferralsRequest request,
                               const std::function<bool(const refx::v1::WatchReferralsResponse&)>& on_message,
                               WatchCancellation* cancellation = nullptr,
                               const std::function<void(const absl::Status&, int64_t resume_after)>& on_reconnect = {},
                               absl::Duration backoff = absl::Milliseconds(200));

  // Case updates: the referral's append-only case record. AddCaseUpdate
  // carries the referral's `etag` (ABORTED if it changed) and a
  // `request_id` (a retry returns the update first added); the referral's
  // etag changes with every update. ListCaseUpdates is oldest first.
  absl::StatusOr<refx::v1::CaseUpdate> AddCaseUpdate(const refx::v1::AddCaseUpdateRequest& request);
  absl::StatusOr<refx::v1::ListCaseUpdatesResponse> ListCaseUpdates(
      const refx::v1::ListCaseUpdatesRequest& request);

  // The notification of an NCHI subject (the sending police force only):
  // kept apart from the referral, so recording a step needs no etag and
  // changes nothing else. A retry with the same `request_id` returns the
  // step first recorded.
  absl::StatusOr<refx::v1::SubjectNotification> RecordSubjectNotification(
      const refx::v1::RecordSubjectNotificationRequest& request);
  absl::StatusOr<refx::v1::ListSubjectNotificationsResponse> ListSubjectNotifications(
      const refx::v1::ListSubjectNotificationsRequest& request);

  // How the server sees this client: agency, role, certificate serial and
  // expiry. The first thing to run after installing a certificate.
  absl::StatusOr<refx::v1::WhoAmIResponse> WhoAmI();

  // The audit log (data protection officer role only). FAILED_PRECONDITION
  // for a client built from a ReferralService stub alone.
  absl::StatusOr<refx::v1::ListAuditEventsResponse> ListAuditEvents(
      const refx::v1::ListAuditEventsRequest& request);
  // With a checkpoint in `request`, the server also holds its log to it.
  absl::StatusOr<refx::v1::VerifyAuditChainResponse> VerifyAuditChain(
      const refx::v1::VerifyAuditChainRequest& request = refx::v1::VerifyAuditChainRequest());
  // Subject access (SUBJECT_ACCESS): the referrals about a person.
  absl::StatusOr<refx::v1::FindSubjectReferralsResponse> FindSubjectReferrals(
      const refx::v1::FindSubjectReferralsRequest& request);
  absl::StatusOr<refx::v1::SubjectAccessBundle> ExportSubjectAccessBundle(
      const refx::v1::ExportSubjectAccessBundleRequest& request);
  // Retention (RETENTION_MANAGE): what the retention job will erase, and
  // the legal holds that pause it.
  absl::StatusOr<refx::v1::PreviewRetentionResponse> PreviewRetention(
      const refx::v1::PreviewRetentionRequest& request);
  absl::StatusOr<refx::v1::LegalHold> PlaceLegalHold(const refx::v1::PlaceLegalHoldRequest& request);
  absl::Status ReleaseLegalHold(const refx::v1::ReleaseLegalHoldRequest& request);
  absl::StatusOr<refx::v1::ListLegalHoldsResponse> ListLegalHolds();
  // The register of data subject requests (SUBJECT_ACCESS).
  absl::StatusOr<refx::v1::SubjectRequest> CreateSubjectRequest(const refx::v1::CreateSubjectRequestRequest& request);
  absl::StatusOr<refx::v1::SubjectRequest> GetSubjectRequest(const refx::v1::GetSubjectRequestRequest& request);
  absl::StatusOr<refx::v1::ListSubjectRequestsResponse> ListSubjectRequests(
      const refx::v1::ListSubjectRequestsRequest& request);
  absl::StatusOr<refx::v1::SubjectRequest> RecordSubjectRequestStep(
      const refx::v1::RecordSubjectRequestStepRequest& request);
  absl::StatusOr<refx::v1::EraseSubjectDataResponse> EraseSubjectData(
      const refx::v1::EraseSubjectDataRequest& request);
  absl::StatusOr<refx::v1::SubjectRequest> RecordRectification(const refx::v1::RecordRectificationRequest& request);

  // A protected aggregate table (roles with REPORT_READ).
  // FAILED_PRECONDITION for a client built from a ReferralService stub alone.
  absl::StatusOr<refx::v1::CountReferralsResponse> CountReferrals(const refx::v1::CountReferralsRequest& request);
  absl::StatusOr<refx::v1::ReportResponseTimesResponse> ReportResponseTimes(
      const refx::v1::ReportResponseTimesRequest& request);
  absl::StatusOr<refx::v1::ListTensionAlertsResponse> ListTensionAlerts(
      const refx::v1::ListTensionAlertsRequest& request);
  // The tensions group's note on an alert (TENSION_ACKNOWLEDGE).
  absl::StatusOr<refx::v1::TensionAlert> AcknowledgeTensionAlert(
      const refx::v1::AcknowledgeTensionAlertRequest& request);
  // Streams tension alerts (WatchTensionAlerts) to `on_message` as Watch
  // does: until it returns false (then OK), the stream ends (its status), or
  // `cancellation` is used. A resumable end (IsResumableWatchEnd) names the
  // week to resume from in its ErrorInfo (`resume_week`).
  absl::Status WatchTensionAlerts(const refx::v1::WatchTensionAlertsRequest& request,
                                  const std::function<bool(const refx::v1::WatchTensionAlertsResponse&)>& on_message,
                                  WatchCancellation* cancellation = nullptr);

  const ConnectionOptions& options() const { return options_; }

 private:
  // Sets the deadline and acting-user metadata on a fresh context.
  void Prepare(grpc::ClientContext* context) const;
  // The metadata only (streams have no deadline).
  void PrepareMetadata(grpc::ClientContext* context) const;
  // FromGrpcStatus plus connection-failure diagnosis.
  absl::Status Finish(const grpc::Status& status) const;
  // Every server stream: its metadata and cancellation on a fresh context,
  // `open` starting the call, each message to `on_message`.
  template <typename Response>
  absl::Status ReadStream(
      const std::function<std::unique_ptr<grpc::ClientReaderInterface<Response>>(grpc::ClientContext*)>& open,
      const std::function<bool(const Response&)>& on_message, WatchCancellation* cancellation) const;
  // FAILED_PRECONDITION for a null `stub`: a client built from a
  // ReferralService stub alone has none for the other services.
  static absl::Status RequireStub(const void* stub);
  // Every unary call: a prepared context, the call through `stub` (null
  // when the client was built from a ReferralService stub alone), and the
  // one conversion of its status.
  template <typename Stub, typename Request, typename Response>
  absl::StatusOr<Response> Unary(grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                                 Stub* stub, const std::type_identity_t<Request>& request) const {
    if (absl::Status present = RequireStub(stub); !present.ok()) return present;
    grpc::ClientContext context;
    Prepare(&context);
    Response response;
    grpc::Status status = (stub->*method)(&context, request, &response);
    if (!status.ok()) return Finish(status);
    return response;
  }

  std::shared_ptr<grpc::Channel> channel_;  // Null when built from a stub.
  std::shared_ptr<refx::v1::ReferralService::StubInterface> stub_;
  std::shared_ptr<refx::v1::AuditService::StubInterface> audit_stub_;  // null without a channel
  std::shared_ptr<refx::v1::ReportingService::StubInterface> reporting_stub_;  // null without a channel
  ConnectionOptions options_;
};

}  // namespace refx::client

#endif  // REFX_CLIENTS_LIB_REFERRAL_CLIENT_H_
