// The TLS handshake's custom certificate check for agency clients, and the
// same revocation check again on every call.
//
// OpenSSL (inside gRPC) has already verified the chain to the agency issuing
// CA, validity dates, EKU where present and name constraints when the
// verifier runs. It adds what OpenSSL does not enforce: the leaf must fit the
// agency client profile (pki::CheckAgencyClientProfile: EKU clientAuth
// present, not a CA, digitalSignature where keyUsage is present, an
// acceptable key), and what OpenSSL cannot know: the certificate must name exactly one
// registered, active agency of the partnership, and neither it nor the CA
// that issued it may be on the partnership's revocation list (when one is
// configured; a configured but unusable list refuses everyone). A refusal
// closes the handshake, so a stranger's certificate never reaches the HTTP/2
// layer. gRPC runs the verifier on full and resumed handshakes alike, so a
// TLS session resumed after a revocation is refused too.
//
// A handshake check cannot reach connections that are already open: every
// call and every watch batch repeats the checks (auth/credential_gate.h and
// IdentifyCaller with the registry in force), so a revocation, an expiry or
// a suspension also stops calls on open connections at once; the maximum
// connection age then closes them.
#ifndef REFX_AUTH_AGENCY_VERIFIER_H_
#define REFX_AUTH_AGENCY_VERIFIER_H_

#include <functional>
#include <memory>
#include <string_view>

#include "auth/revocation_checker.h"
#include "core/partnership.h"
#include "grpcpp/security/tls_certificate_verifier.h"

namespace refx::auth {

// A verifier for TlsServerCredentialsOptions::set_certificate_verifier.
// `revocation` may be null (no revocation checks beyond the partnership's).
// `registry` is read at each handshake (an agency suspended by a registry
// reload is refused from then on). `on_refused`, if set, is told the
// reason of each refusal (an ErrorInfo reason such as CERTIFICATE_REVOKED,
// or CERTIFICATE_REFUSED when the check gave none): a bounded set, for
// metrics.
std::shared_ptr<grpc::experimental::CertificateVerifier> MakeAgencyCertificateVerifier(
    std::shared_ptr<const core::PartnershipHolder> registry,
    std::shared_ptr<const RevocationChecker> revocation = nullptr,
    std::function<void(std::string_view reason)> on_refused = nullptr);

}  // namespace refx::auth

#endif  // REFX_AUTH_AGENCY_VERIFIER_H_
