#include "server/status_mapping.h"

#include "absl/strings/str_cat.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/status_details.h"

namespace refx::server {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  absl::Status outgoing = status;
  if (status.code() == absl::StatusCode::kInternal || status.code() == absl::StatusCode::kUnknown) {
    const std::string incident = NewRandomId().substr(0, 12);
    log::Error("internal_error", {{"incident", incident}, {"message", std::string(status.message())}});
    outgoing = WithErrorInfo(absl::Status(status.code(), absl::StrCat("internal error; incident ", incident,
                                                                      " is in the server log")),
                             "INTERNAL_ERROR", {{"incident", incident}});
  }
  // Every error carries an ErrorInfo (and overload a RetryInfo), so a
  // client can always branch on a reason.
  outgoing = WithDefaultErrorDetails(std::move(outgoing));
  google::rpc::Status rpc = ToRpcStatus(outgoing);
  return grpc::Status(static_cast<grpc::StatusCode>(outgoing.code()), std::string(outgoing.message()),
                      rpc.details_size() > 0 ? rpc.SerializeAsString() : std::string());
}

}  // namespace refx::server
