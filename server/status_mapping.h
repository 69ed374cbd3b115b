// The one conversion of absl::Status to grpc::Status on the way out.
//
// Codes map one to one. Details (BadRequest, ErrorInfo, ...) travel as a
// google.rpc.Status in grpc-status-details-bin, with a RequestInfo naming
// the call id (the one on the call's log lines). INTERNAL and UNKNOWN
// messages are replaced by that id, and the real message goes only
// to the server log, so no internal detail reaches a client.
#ifndef REFX_SERVER_STATUS_MAPPING_H_
#define REFX_SERVER_STATUS_MAPPING_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"

namespace refx::server {

// Metadata carrying the call id back to the client (initial metadata, on
// every call, answered or refused). A call id names one call on the server;
// it is not the client-chosen idempotency key (`request_id` in requests).
inline constexpr char kCallIdHeader[] = "x-refx-call-id";

// A fresh call id, sent to the client as initial metadata.
std::string StartCall(grpc::CallbackServerContext* ctx);

grpc::Status ToGrpcStatus(const absl::Status& status, absl::string_view call_id);

}  // namespace refx::server

#endif  // REFX_SERVER_STATUS_MAPPING_H_
