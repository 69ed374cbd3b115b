#include "auth/credential_gate.h"

#include "absl/strings/str_cat.h"
#include "common/status_details.h"

namespace refx::auth {

CredentialGate::CredentialGate(std::shared_ptr<const RevocationChecker> revocation, const Clock* clock)
    : revocation_(std::move(revocation)), clock_(clock != nullptr ? clock : SystemClock::Get()) {}

absl::Status CredentialGate::Check(const core::Caller& caller, std::string_view leaf_pem,
                                   std::string_view chain_pem) const {
  if (clock_->Now() >= caller.certificate_not_after) {
    return WithErrorInfo(absl::UnauthenticatedError(absl::StrCat("client certificate serial ",
                                                                 caller.certificate_serial, " has expired")),
                         "CERTIFICATE_EXPIRED");
  }
  if (revocation_ == nullptr) return absl::OkStatus();
  // UNAUTHENTICATED with its reason: CERTIFICATE_REVOKED,
  // REVOCATION_STATE_UNKNOWN (fail closed) or CERTIFICATE_UNVERIFIABLE.
  return revocation_->CheckPeer(leaf_pem, chain_pem);
}

}  // namespace refx::auth
