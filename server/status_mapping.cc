#include "server/status_mapping.h"

#include "absl/strings/str_cat.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/status_details.h"

namespace refx::server {

std::string StartCall(grpc::CallbackServerContext* ctx) {
  // 64 random bits: unique enough to find one call in a log, short enough
  // for a caseworker to read out over the phone.
  std::string id = NewRandomId().substr(0, 16);
  ctx->AddInitialMetadata(kCallIdHeader, id);
  return id;
}

grpc::Status ToGrpcStatus(const absl::Status& status, absl::string_view call_id) {
  if (status.ok()) return grpc::Status::OK;
  absl::Status outgoing = status;
  if (status.code() == absl::StatusCode::kInternal || status.code() == absl::StatusCode::kUnknown) {
    log::Error("internal_error", {{"call_id", call_id}, {"message", std::string(status.message())}});
    outgoing = WithErrorInfo(absl::Status(status.code(), absl::StrCat("internal error; call ", call_id,
                                                                      " is in the server log")),
                             "INTERNAL_ERROR", {{"call_id", std::string(call_id)}});
  }
  // Every error carries an ErrorInfo (and overload a RetryInfo), so a
  // client can always branch on a reason, and a RequestInfo to quote.
  outgoing = WithDefaultErrorDetails(std::move(outgoing));
  outgoing = WithRequestInfo(std::move(outgoing), call_id);
  google::rpc::Status rpc = ToRpcStatus(outgoing);
  return grpc::Status(static_cast<grpc::StatusCode>(outgoing.code()), std::string(outgoing.message()),
                      rpc.details_size() > 0 ? rpc.SerializeAsString() : std::string());
}

}  // namespace refx::server
