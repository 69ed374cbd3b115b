// Establishes who is calling from the verified TLS peer, and nothing else.
//
// The identity is the agency id in the certificate's single URI SAN
// `spiffe://<trust-domain>/agency/<id>`, and that agency must be a party to
// the partnership and not suspended. The certificate's CN, O and OU, gRPC's
// "peer identity" (which falls back to the CN when there is no SAN) and any
// call metadata are never used to decide who the caller is.
#ifndef REFX_AUTH_CALLER_IDENTITY_H_
#define REFX_AUTH_CALLER_IDENTITY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/caller.h"
#include "core/partnership.h"
#include "grpcpp/security/auth_context.h"

namespace refx::auth {

// The agency id named by `uris` (the certificate's URI SANs), or an
// UNAUTHENTICATED status saying why not: no URI SAN, more than one, outside
// the trust domain, malformed, not a party, or suspended. Shared by the TLS
// verifier (at handshake) and IdentifyCaller (on every call).
absl::StatusOr<std::string> AgencyIdFromUriSans(const std::vector<std::string>& uris,
                                                const core::Partnership& partnership);

// What the verified TLS peer presented, read once from the AuthContext on
// the reactor thread: everything identification and the per-call
// credential checks (expiry, revocation) need.
struct PeerCredential {
  bool authenticated = false;
  std::vector<std::string> uris;  // the URI SANs
  std::string leaf_pem;           // the client certificate
  std::string chain_pem;          // what it sent after the leaf (may be empty)
};
PeerCredential ReadPeerCredential(const grpc::AuthContext& context);

// The caller of an RPC, from its peer credential and the registry in force.
// UNAUTHENTICATED, with ErrorInfo reason AGENCY_NOT_REGISTERED,
// AGENCY_SUSPENDED or CERTIFICATE_IDENTITY_INVALID, if the peer is not an
// authenticated, registered, active agency. `acting_user` is copied into the
// result as metadata only.
absl::StatusOr<core::Caller> IdentifyCaller(const PeerCredential& peer, const core::Partnership& partnership,
                                            const std::string& acting_user);

// Who a refused peer claims to be, for the audit event of the refusal only:
// the agency its certificate's single URI SAN names ("-" when it names none
// in the trust domain) and the certificate's serial. Never used to decide.
core::Caller ClaimedCaller(const PeerCredential& peer, const core::Partnership& partnership);

}  // namespace refx::auth

#endif  // REFX_AUTH_CALLER_IDENTITY_H_
