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

// The caller of an RPC, from its AuthContext. UNAUTHENTICATED if the peer is
// not an authenticated, registered, active agency. `acting_user` is copied
// into the result as metadata only.
absl::StatusOr<core::Caller> IdentifyCaller(const grpc::AuthContext& context,
                                            const core::Partnership& partnership,
                                            const std::string& acting_user);

}  // namespace refx::auth

#endif  // REFX_AUTH_CALLER_IDENTITY_H_
