// The checks a connection's credential must still pass on every call and on
// every watch batch, not only at the handshake: a TLS connection outlives
// the moment its certificate was checked, so a certificate that expires, or
// is revoked, while its connection is open must stop working at once, not
// when the connection reaches its maximum age. (The registry, which may
// suspend an agency, is consulted by IdentifyCaller on every call.)
#ifndef REFX_AUTH_CREDENTIAL_GATE_H_
#define REFX_AUTH_CREDENTIAL_GATE_H_

#include <memory>
#include <string_view>

#include "absl/status/status.h"
#include "auth/revocation_checker.h"
#include "common/clock.h"
#include "core/caller.h"

namespace refx::auth {

class CredentialGate {
 public:
  // `revocation` may be null (no list configured beyond the chain check);
  // `clock` null means the system clock.
  CredentialGate(std::shared_ptr<const RevocationChecker> revocation, const Clock* clock);

  // OK, or UNAUTHENTICATED with ErrorInfo reason CERTIFICATE_EXPIRED (by the
  // server's clock), REVOCATION_STATE_UNKNOWN (the list is configured but
  // unusable: fail closed), CERTIFICATE_REVOKED (the certificate or its
  // issuing CA) or CERTIFICATE_UNVERIFIABLE (its issuer is not in the CA
  // bundle any more). Cheap: the serials are cached per list snapshot.
  absl::Status Check(const core::Caller& caller, std::string_view leaf_pem, std::string_view chain_pem) const;

 private:
  std::shared_ptr<const RevocationChecker> revocation_;
  const Clock* clock_;
};

}  // namespace refx::auth

#endif  // REFX_AUTH_CREDENTIAL_GATE_H_
