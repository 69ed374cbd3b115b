#include "common/status_details.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace refx {
namespace {

constexpr absl::string_view kTypeUrlPrefix = "type.googleapis.com/";

std::string TypeUrlOf(const google::protobuf::Message& m) {
  return absl::StrCat(kTypeUrlPrefix, m.GetDescriptor()->full_name());
}

}  // namespace

absl::Status InvalidArgumentError(absl::string_view message,
                                  const std::vector<FieldViolation>& violations) {
  absl::Status status(absl::StatusCode::kInvalidArgument, message);
  google::rpc::BadRequest bad_request;
  // Bounded: a request with thousands of bad fields gets the first few and a
  // count, not an answer the client's metadata limit would refuse.
  for (size_t i = 0; i < violations.size() && i < kMaxFieldViolations; ++i) {
    auto* fv = bad_request.add_field_violations();
    fv->set_field(violations[i].field.substr(0, 256));
    fv->set_description(violations[i].description.substr(0, 512));
  }
  if (violations.size() > kMaxFieldViolations) {
    auto* more = bad_request.add_field_violations();
    more->set_field("...");
    more->set_description(absl::StrCat(violations.size() - kMaxFieldViolations, " more violations not listed"));
  }
  status.SetPayload(TypeUrlOf(bad_request), absl::Cord(bad_request.SerializeAsString()));
  return status;
}

absl::Status FailedPreconditionError(absl::string_view message,
                                     const std::vector<PreconditionViolation>& violations) {
  absl::Status status(absl::StatusCode::kFailedPrecondition, message);
  google::rpc::PreconditionFailure failure;
  for (const PreconditionViolation& v : violations) {
    auto* out = failure.add_violations();
    out->set_type(v.type);
    out->set_subject(v.subject);
    out->set_description(v.description);
  }
  status.SetPayload(TypeUrlOf(failure), absl::Cord(failure.SerializeAsString()));
  return status;
}

std::vector<PreconditionViolation> PreconditionViolationsOf(const absl::Status& status) {
  std::vector<PreconditionViolation> out;
  auto payload = status.GetPayload(TypeUrlOf(google::rpc::PreconditionFailure()));
  if (!payload.has_value()) return out;
  google::rpc::PreconditionFailure failure;
  if (!failure.ParseFromString(std::string(*payload))) return out;
  for (const auto& v : failure.violations()) out.push_back({v.type(), v.subject(), v.description()});
  return out;
}

absl::Status WithErrorInfo(absl::Status status, absl::string_view reason,
                           const std::map<std::string, std::string>& metadata) {
  google::rpc::ErrorInfo info;
  info.set_reason(std::string(reason));
  info.set_domain(std::string(kErrorDomain));
  for (const auto& [k, v] : metadata) (*info.mutable_metadata())[k] = v;
  status.SetPayload(TypeUrlOf(info), absl::Cord(info.SerializeAsString()));
  return status;
}

absl::Status ReferralNotFoundError(absl::string_view name) {
  return ResourceNotFoundError(absl::StrCat("referral ", name, " not found"), "refx.v1.Referral", name,
                               "no such referral, or your agency is not a party to it", "REFERRAL_NOT_FOUND");
}

absl::Status ResourceNotFoundError(absl::string_view message, absl::string_view resource_type,
                                   absl::string_view name, absl::string_view description, absl::string_view reason) {
  google::rpc::ResourceInfo resource;
  resource.set_resource_type(std::string(resource_type));
  resource.set_resource_name(std::string(name));
  resource.set_description(std::string(description));
  absl::Status status = absl::NotFoundError(message);
  status.SetPayload(TypeUrlOf(resource), absl::Cord(resource.SerializeAsString()));
  return WithErrorInfo(std::move(status), reason);
}

absl::Status QuotaExceededError(absl::string_view message, absl::string_view reason, absl::string_view subject,
                                absl::string_view limit, const std::map<std::string, std::string>& metadata) {
  google::rpc::QuotaFailure failure;
  auto* violation = failure.add_violations();
  violation->set_subject(std::string(subject));
  violation->set_description(std::string(limit));
  absl::Status status = absl::ResourceExhaustedError(message);
  status.SetPayload(TypeUrlOf(failure), absl::Cord(failure.SerializeAsString()));
  return WithErrorInfo(std::move(status), reason, metadata);
}

absl::Status WithRequestInfo(absl::Status status, absl::string_view call_id) {
  google::rpc::RequestInfo info;
  info.set_request_id(std::string(call_id));
  status.SetPayload(TypeUrlOf(info), absl::Cord(info.SerializeAsString()));
  return status;
}

std::string CallIdOf(const absl::Status& status) {
  auto payload = status.GetPayload(TypeUrlOf(google::rpc::RequestInfo()));
  if (!payload.has_value()) return "";
  google::rpc::RequestInfo info;
  if (!info.ParseFromString(std::string(*payload))) return "";
  return info.request_id();
}

absl::Status WithRetryInfo(absl::Status status, absl::Duration delay) {
  google::rpc::RetryInfo retry;
  const int64_t nanos = absl::ToInt64Nanoseconds(delay);
  retry.mutable_retry_delay()->set_seconds(nanos / 1000000000);
  retry.mutable_retry_delay()->set_nanos(static_cast<int32_t>(nanos % 1000000000));
  status.SetPayload(TypeUrlOf(retry), absl::Cord(retry.SerializeAsString()));
  return status;
}

absl::string_view GenericErrorReason(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kCancelled: return "CANCELLED";
    case absl::StatusCode::kInvalidArgument: return "INVALID_REQUEST";
    case absl::StatusCode::kDeadlineExceeded: return "DEADLINE_EXCEEDED";
    case absl::StatusCode::kNotFound: return "NOT_FOUND";
    case absl::StatusCode::kAlreadyExists: return "ALREADY_EXISTS";
    case absl::StatusCode::kPermissionDenied: return "PERMISSION_DENIED";
    case absl::StatusCode::kResourceExhausted: return "RESOURCE_EXHAUSTED";
    case absl::StatusCode::kFailedPrecondition: return "PRECONDITION_FAILED";
    case absl::StatusCode::kAborted: return "CONFLICT";
    case absl::StatusCode::kOutOfRange: return "OUT_OF_RANGE";
    case absl::StatusCode::kUnimplemented: return "NOT_IMPLEMENTED";
    case absl::StatusCode::kUnavailable: return "SERVICE_UNAVAILABLE";
    case absl::StatusCode::kUnauthenticated: return "UNAUTHENTICATED";
    case absl::StatusCode::kDataLoss: return "DATA_LOSS";
    default: return "INTERNAL_ERROR";
  }
}

absl::Status WithDefaultErrorDetails(absl::Status status) {
  if (status.ok()) return status;
  if (!status.GetPayload(TypeUrlOf(google::rpc::ErrorInfo())).has_value()) {
    // The reason first: the order in which a call's arguments are evaluated
    // is unspecified, and clang moves `status` before reading its code.
    const absl::string_view generic = GenericErrorReason(status.code());
    status = WithErrorInfo(std::move(status), generic);
  }
  // Waiting helps an unavailable server and a full queue or share, not a
  // request that is simply too large (READ_MASK_TOO_LARGE and the like).
  const std::string reason = ErrorReasonOf(status);
  const bool retryable = status.code() == absl::StatusCode::kUnavailable ||
                         (status.code() == absl::StatusCode::kResourceExhausted &&
                          (reason == "SERVER_OVERLOADED" || reason == "AGENCY_CALL_LIMIT" ||
                           reason == "WATCH_CAPACITY"));
  if (retryable && !status.GetPayload(TypeUrlOf(google::rpc::RetryInfo())).has_value()) {
    status = WithRetryInfo(std::move(status), absl::Seconds(1));
  }
  return status;
}

std::vector<FieldViolation> FieldViolationsOf(const absl::Status& status) {
  std::vector<FieldViolation> out;
  auto payload = status.GetPayload(TypeUrlOf(google::rpc::BadRequest()));
  if (!payload.has_value()) return out;
  google::rpc::BadRequest bad_request;
  if (!bad_request.ParseFromString(std::string(*payload))) return out;
  for (const auto& fv : bad_request.field_violations()) {
    out.push_back({fv.field(), fv.description()});
  }
  return out;
}

std::string ErrorReasonOf(const absl::Status& status) {
  auto payload = status.GetPayload(TypeUrlOf(google::rpc::ErrorInfo()));
  if (!payload.has_value()) return "";
  google::rpc::ErrorInfo info;
  if (!info.ParseFromString(std::string(*payload))) return "";
  return info.reason();
}

std::string ErrorReasonSent(const absl::Status& status) {
  if (status.ok()) return "";
  std::string reason = ErrorReasonOf(status);
  return reason.empty() ? std::string(GenericErrorReason(status.code())) : reason;
}

std::string ErrorMetadataOf(const absl::Status& status, absl::string_view key) {
  auto payload = status.GetPayload(TypeUrlOf(google::rpc::ErrorInfo()));
  if (!payload.has_value()) return "";
  google::rpc::ErrorInfo info;
  if (!info.ParseFromString(std::string(*payload))) return "";
  auto it = info.metadata().find(std::string(key));
  return it == info.metadata().end() ? "" : it->second;
}

google::rpc::Status ToRpcStatus(const absl::Status& status) {
  google::rpc::Status out;
  out.set_code(static_cast<int>(status.code()));
  out.set_message(std::string(status.message()));
  // Payloads come in no stable order: sorted by type, so the same error is
  // always the same bytes (an answer must not vary with anything but its
  // content, or the variation itself could tell a caller something).
  std::map<std::string, std::string> details;
  status.ForEachPayload([&details](absl::string_view type_url, const absl::Cord& payload) {
    if (type_url.substr(0, kTypeUrlPrefix.size()) != kTypeUrlPrefix) return;
    details[std::string(type_url)] = std::string(payload);
  });
  for (const auto& [type_url, value] : details) {
    auto* any = out.add_details();
    any->set_type_url(type_url);
    any->set_value(value);
  }
  return out;
}

absl::Status FromRpcStatus(const google::rpc::Status& rpc) {
  absl::Status status(static_cast<absl::StatusCode>(rpc.code()), rpc.message());
  for (const auto& any : rpc.details()) {
    status.SetPayload(any.type_url(), absl::Cord(any.value()));
  }
  return status;
}

}  // namespace refx
