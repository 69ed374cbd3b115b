// The TLS handshake's custom certificate check for agency clients.
//
// OpenSSL (inside gRPC) has already verified the chain to the agency issuing
// CA, validity dates, EKU and name constraints when this runs. This adds what
// OpenSSL cannot know: the certificate must name exactly one registered,
// active agency of the partnership. A refusal here closes the handshake, so a
// stranger's certificate never reaches the HTTP/2 layer. It runs on full and
// resumed handshakes alike.
#ifndef REFX_AUTH_AGENCY_VERIFIER_H_
#define REFX_AUTH_AGENCY_VERIFIER_H_

#include <memory>

#include "core/partnership.h"
#include "grpcpp/security/tls_certificate_verifier.h"

namespace refx::auth {

// A verifier for TlsServerCredentialsOptions::set_certificate_verifier.
std::shared_ptr<grpc::experimental::CertificateVerifier> MakeAgencyCertificateVerifier(
    std::shared_ptr<const core::Partnership> partnership);

}  // namespace refx::auth

#endif  // REFX_AUTH_AGENCY_VERIFIER_H_
