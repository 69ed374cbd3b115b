// Turns gRPC's terse connection failures into a message an agency can act on.
//
// A mutual-TLS rejection reaches a gRPC 1.51 client only as
// `UNAVAILABLE: ... Socket closed` (shared/notes/grpc-security.md, V2): the
// server never says why. What the client *can* check is its own side: whether
// its certificate has expired or is not yet valid, whether the server's
// certificate failed against the local CA file, whether the server is even
// listening. This module does that and names the file, serial and SAN to
// take to the partnership administrator. The text names files, addresses
// and certificate identifiers only, never referral data.
#ifndef REFX_CLIENTS_LIB_HANDSHAKE_DIAGNOSIS_H_
#define REFX_CLIENTS_LIB_HANDSHAKE_DIAGNOSIS_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "auth/pki/certificate_authority.h"
#include "clients/lib/connection_options.h"

namespace refx::client {

// What the diagnosis looks at besides the failed status. Pure data, so the
// wording is unit-tested without files or a clock.
struct DiagnosisContext {
  std::string server;                // The address dialled.
  std::string ca_file;               // The local trust bundle.
  std::string cert_file;             // The local client certificate.
  std::string server_name_override;  // Empty when not used.
  // The local client certificate as parsed from cert_file; nullopt when it
  // could not be read or parsed.
  std::optional<pki::CertificateInfo> certificate;
  absl::Time now;
};

// True when `status` looks like a failure to connect or to complete the TLS
// handshake (UNAVAILABLE, or a message mentioning ssl/handshake/socket
// closed), as opposed to an answer from the server.
bool IsConnectionFailure(const absl::Status& status);

// The actionable explanation of `status`, or nullopt when it is not a
// connection failure (see IsConnectionFailure) and so needs none.
std::optional<std::string> DiagnoseConnectionFailure(const absl::Status& status,
                                                     const DiagnosisContext& context);

// Reads the client certificate named by `options` and, when `status` is a
// connection failure, returns it with the message replaced by the diagnosis
// followed by gRPC's original text in brackets. Code and payloads are kept.
// Any other status is returned unchanged.
absl::Status ExplainConnectionFailure(const absl::Status& status,
                                      const ConnectionOptions& options);

}  // namespace refx::client

#endif  // REFX_CLIENTS_LIB_HANDSHAKE_DIAGNOSIS_H_
