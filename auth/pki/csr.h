// Certificate signing requests, and the key rules every issued certificate
// obeys.
//
// An agency makes its own key and sends the partnership administrator a CSR;
// the private key never leaves the agency. refx-admin takes exactly one thing
// from a CSR: its public key, after checking the CSR's signature with that
// key (proof of possession). Subject, SAN and every extension the CSR asks
// for are ignored; the registry decides them (grpc-security.md section 6,
// "CSR flow"). OpenSSL 3 and Abseil only.
#ifndef REFX_AUTH_PKI_CSR_H_
#define REFX_AUTH_PKI_CSR_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "auth/pki/certificate_authority.h"
#include "auth/pki/openssl_handles.h"

namespace refx::pki {

using X509ReqPtr = std::unique_ptr<X509_REQ, OpenSslDeleter<X509_REQ_free>>;

// An owned PKCS#10 request. Move-only.
class CertificateRequest {
 public:
  explicit CertificateRequest(X509ReqPtr req) : req_(std::move(req)) {}

  // The first "CERTIFICATE REQUEST" block in `pem`. InvalidArgument when
  // there is none or it does not parse.
  static absl::StatusOr<CertificateRequest> FromPem(std::string_view pem);

  // A request signed by `key` for subject CN=`common_name`, asking for
  // `uri_sans` (which an issuer following this library ignores). For tests
  // and for agencies without their own tooling.
  static absl::StatusOr<CertificateRequest> Create(
      const PrivateKey& key, std::string_view common_name,
      const std::vector<std::string>& uri_sans = {});

  // Checks the request's signature with the public key it carries: the
  // sender holds the private key. InvalidArgument when it does not verify.
  absl::Status VerifyProofOfPossession() const;

  // Borrowed; valid while this object lives.
  EVP_PKEY* public_key() const;

  // The subject the request asked for, RFC 2253 order (for messages only).
  std::string RequestedSubject() const;

  // Lowercase hex SHA-256 of the DER encoding, recorded in the ledger.
  std::string Sha256Hex() const;

  std::string ToPem() const;

 private:
  X509ReqPtr req_;
};

// The keys refx certifies: ECDSA P-256 or Ed25519. InvalidArgument naming
// the key type otherwise (RSA, other curves), so a weak or exotic key is
// refused before anything is signed.
absl::Status CheckKeyAllowed(const EVP_PKEY* key);

}  // namespace refx::pki

#endif  // REFX_AUTH_PKI_CSR_H_
