// The one conversion of absl::Status to grpc::Status on the way out.
//
// Codes map one to one. Details (BadRequest, ErrorInfo, ...) travel as a
// google.rpc.Status in grpc-status-details-bin. INTERNAL and UNKNOWN
// messages are replaced by an incident id, and the real message goes only to
// the server log, so no internal detail reaches a client.
#ifndef REFX_SERVER_STATUS_MAPPING_H_
#define REFX_SERVER_STATUS_MAPPING_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace refx::server {

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace refx::server

#endif  // REFX_SERVER_STATUS_MAPPING_H_
