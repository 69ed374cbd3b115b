// gRPC's own log lines (TLS handshake failures, transport errors) written
// through refx's logger, so that in JSON mode every line on stderr is one
// JSON object a log pipeline can parse, with the same timestamp, level and
// field names as refx's own events (event "grpc_log").
#ifndef REFX_SERVER_GRPC_LOG_BRIDGE_H_
#define REFX_SERVER_GRPC_LOG_BRIDGE_H_

namespace refx::server {

// Installs the bridge for the whole process (gRPC has one log function).
// Call once, after log::Configure and before any gRPC object exists.
void RouteGrpcLogsToRefxLog();

}  // namespace refx::server

#endif  // REFX_SERVER_GRPC_LOG_BRIDGE_H_
