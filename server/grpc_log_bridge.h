// gRPC's own log lines (TLS handshake failures, transport errors) written
// through refx's logger, so that in JSON mode every line on stderr is one
// JSON object a log pipeline can parse, with the same timestamp, level and
// field names as refx's own events (event "grpc_log").
//
// A handshake that gRPC's TLS stack refuses before refx's certificate
// verifier runs (no client certificate, an issuer outside the partnership's
// CA, an expired certificate, a client that does not speak TLS) is only a
// gRPC log line; the bridge recognises those lines and also writes a refx
// event, "tls_handshake_refused" with a reason, as the verifier does for the
// refusals it decides (revoked, unknown or suspended agency), and counts it
// in refx_tls_handshakes_refused_total. gRPC 1.51 names no peer address in
// these lines, so the event has none, and it logs OpenSSL's X.509 error
// code only when its verify callback is installed (tls.crl_directory set):
// otherwise every failed verification is CERTIFICATE_INVALID. The
// verifier's refusals name the certificate serial.
#ifndef REFX_SERVER_GRPC_LOG_BRIDGE_H_
#define REFX_SERVER_GRPC_LOG_BRIDGE_H_

#include <functional>
#include <string>

#include "absl/strings/string_view.h"

namespace refx::server {

// Installs the bridge for the whole process (gRPC has one log function).
// Call once, after log::Configure and before any gRPC object exists.
void RouteGrpcLogsToRefxLog();

// Receives the reason of every handshake the TLS stack refused (the metrics
// counter); empty to stop. One per process: the server in force sets it.
void SetTlsRefusalObserver(std::function<void(absl::string_view reason)> observer);

// The reason for a refused handshake, from the TLS stack's error text and
// the X.509 verification error code of the same handshake (0 if none):
// NO_CLIENT_CERTIFICATE, CERTIFICATE_UNTRUSTED_ISSUER, CERTIFICATE_EXPIRED,
// CERTIFICATE_NOT_YET_VALID, CERTIFICATE_REVOKED, CERTIFICATE_WRONG_PURPOSE,
// CERTIFICATE_NAME_CONSTRAINT, REVOCATION_STATE_UNKNOWN, CERTIFICATE_INVALID,
// NOT_TLS, TLS_PARAMETERS_REFUSED or TLS_HANDSHAKE_FAILED.
std::string TlsRefusalReason(absl::string_view handshake_error, int verify_code);

}  // namespace refx::server

#endif  // REFX_SERVER_GRPC_LOG_BRIDGE_H_
