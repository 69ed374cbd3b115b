// Rich error details carried inside absl::Status as payloads, so that core/
// can say *which* field is wrong without knowing about gRPC. The server's
// status mapping turns each payload into a google.rpc.Status detail; the
// client library turns them back.
#ifndef REFX_COMMON_STATUS_DETAILS_H_
#define REFX_COMMON_STATUS_DETAILS_H_

#include <map>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace refx {

// The ErrorInfo domain of every refx error.
inline constexpr absl::string_view kErrorDomain = "refx.llr.example";

// One invalid request field: a path such as `referral.victim.given_name` and
// what is wrong with it. Descriptions never echo the submitted value, which
// may be personal data.
struct FieldViolation {
  std::string field;
  std::string description;
};

// Field violations one error carries at most; the rest are counted in one
// last entry (field "...").
inline constexpr size_t kMaxFieldViolations = 64;

// INVALID_ARGUMENT carrying a google.rpc.BadRequest with the violations (at
// most kMaxFieldViolations of them, then a count of the rest).
absl::Status InvalidArgumentError(absl::string_view message,
                                  const std::vector<FieldViolation>& violations);

// One failed precondition: `type` (e.g. `STATE`), `subject` (e.g. the
// referral's name) and what is wrong.
struct PreconditionViolation {
  std::string type;
  std::string subject;
  std::string description;
};

// FAILED_PRECONDITION carrying a google.rpc.PreconditionFailure.
absl::Status FailedPreconditionError(absl::string_view message,
                                     const std::vector<PreconditionViolation>& violations);

// The precondition violations attached to `status`, if any.
std::vector<PreconditionViolation> PreconditionViolationsOf(const absl::Status& status);

// Attaches a google.rpc.ErrorInfo (reason in UPPER_SNAKE_CASE) to `status`.
absl::Status WithErrorInfo(absl::Status status, absl::string_view reason,
                           const std::map<std::string, std::string>& metadata = {});

// The field violations attached to `status`, if any.
std::vector<FieldViolation> FieldViolationsOf(const absl::Status& status);

// NOT_FOUND for `name` (`referrals/{id}`), the same answer, byte for byte,
// whether the referral does not exist or the caller is not a party to it:
// ErrorInfo REFERRAL_NOT_FOUND and a ResourceInfo naming what was asked for.
absl::Status ReferralNotFoundError(absl::string_view name);

// NOT_FOUND with `message`, an ErrorInfo with `reason` and a ResourceInfo
// of `resource_type` (e.g. `refx.v1.TensionAlert`), the name asked for and
// `description`.
absl::Status ResourceNotFoundError(absl::string_view message, absl::string_view resource_type,
                                   absl::string_view name, absl::string_view description, absl::string_view reason);

// RESOURCE_EXHAUSTED for a quota the caller ran into: an ErrorInfo with
// `reason` (and `metadata`) and a google.rpc.QuotaFailure naming what ran
// out (`subject`, e.g. `agencies/met-police`) and the limit in words.
absl::Status QuotaExceededError(absl::string_view message, absl::string_view reason, absl::string_view subject,
                                absl::string_view limit, const std::map<std::string, std::string>& metadata = {});

// Attaches a google.rpc.RequestInfo whose request_id is the call id: the
// server's name for one call, on every log line about it, so a user can
// quote it and an operator can find the call. (Not the client-chosen
// idempotency key that requests call `request_id`.)
absl::Status WithRequestInfo(absl::Status status, absl::string_view call_id);

// The call id attached to `status` (RequestInfo.request_id), or "" if none.
std::string CallIdOf(const absl::Status& status);

// Attaches a google.rpc.RetryInfo: how long a client should wait first.
absl::Status WithRetryInfo(absl::Status status, absl::Duration delay);

// `status` with an ErrorInfo if it had none, its reason the generic one of
// its code (GenericErrorReason), so that every error a client sees carries a
// reason it can branch on; unavailability and a full queue or share
// (SERVER_OVERLOADED, AGENCY_CALL_LIMIT, WATCH_CAPACITY) also get a
// RetryInfo. What the server's edge applies to every error it returns.
absl::Status WithDefaultErrorDetails(absl::Status status);

// The reason WithDefaultErrorDetails gives an error of `code` that has none.
absl::string_view GenericErrorReason(absl::StatusCode code);

// The ErrorInfo reason attached to `status`, or "" if none.
std::string ErrorReasonOf(const absl::Status& status);

// The reason a client is told for `status`: its ErrorInfo's, or the generic
// one of its code (what WithDefaultErrorDetails attaches). For log lines and
// refusal counts, so they name the reason the caller saw.
std::string ErrorReasonSent(const absl::Status& status);
// One ErrorInfo metadata value attached to `status`, or "" if none.
std::string ErrorMetadataOf(const absl::Status& status, absl::string_view key);

// Converts to and from google.rpc.Status; payloads whose type URL names a
// google.rpc detail message become `details`.
google::rpc::Status ToRpcStatus(const absl::Status& status);
absl::Status FromRpcStatus(const google::rpc::Status& status);

}  // namespace refx

#endif  // REFX_COMMON_STATUS_DETAILS_H_
