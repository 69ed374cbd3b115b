// Keys, certificates and the one certificate profile the partnership uses.
//
// This is the whole of refx's certificate authority: it generates keys,
// issues certificates from a CertificateProfile, checks an issued chain the
// way the gRPC server will (VerifyCertificate), and describes a certificate
// for humans (InspectCertificatePem). The admin tool, the development PKI and
// the test fixtures all issue through IssueCertificate, so the rules from the
// security notes (grpc-security.md section 6: random positive serials,
// critical basicConstraints and keyUsage, SKI/AKI, SHA-256) live in one place.
//
// It depends on OpenSSL 3 and Abseil only, never on gRPC, so the admin tool
// can use it on a host that has no server. Every failure is an absl::Status
// whose message carries OpenSSL's own error text.

#ifndef REFX_AUTH_PKI_CERTIFICATE_AUTHORITY_H_
#define REFX_AUTH_PKI_CERTIFICATE_AUTHORITY_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "auth/pki/openssl_handles.h"

namespace refx::pki {

// ECDSA P-256 is the default because some agency TLS stacks (older Java and
// .NET, SChannel, HSMs) still cannot use Ed25519.
enum class KeyType { kEcdsaP256, kEd25519 };

// An owned private key. Move-only, so a key is never silently duplicated.
class PrivateKey {
 public:
  // Takes ownership of `key`, which must not be null.
  explicit PrivateKey(EvpPkeyPtr key) : key_(std::move(key)) {}

  // A fresh key from OpenSSL's default random source. Internal on failure.
  static absl::StatusOr<PrivateKey> Generate(
      KeyType type = KeyType::kEcdsaP256);

  // Reads the first private key in `pem` (PKCS#8, encrypted or not, or a
  // traditional EC key). An encrypted key needs `passphrase`; a missing or
  // wrong passphrase, or text that holds no key, is InvalidArgument.
  static absl::StatusOr<PrivateKey> FromPem(std::string_view pem,
                                            std::string_view passphrase = "");

  // PKCS#8 PEM, encrypted with AES-256-CBC when `passphrase` is non-empty.
  absl::StatusOr<std::string> ToPem(std::string_view passphrase = "") const;

  // Borrowed; valid while this object lives.
  EVP_PKEY* get() const { return key_.get(); }

 private:
  EvpPkeyPtr key_;
};

// An owned X.509 certificate. Copies share the underlying X509 through
// OpenSSL's reference count; certificates are immutable once issued.
class Certificate {
 public:
  // Takes ownership of `x509`, which must not be null.
  explicit Certificate(X509Ptr x509) : x509_(std::move(x509)) {}
  Certificate(const Certificate& other);
  Certificate& operator=(const Certificate& other);
  Certificate(Certificate&&) = default;
  Certificate& operator=(Certificate&&) = default;

  // The first certificate in `pem`; InvalidArgument when there is none.
  static absl::StatusOr<Certificate> FromPem(std::string_view pem);

  // Every certificate in `pem`, in order (a leaf followed by its chain).
  // InvalidArgument when there is none or one of them does not parse.
  static absl::StatusOr<std::vector<Certificate>> AllFromPem(
      std::string_view pem);

  // One "-----BEGIN CERTIFICATE-----" block, newline-terminated.
  std::string ToPem() const;

  // Borrowed; valid while this object (or a copy of it) lives.
  X509* get() const { return x509_.get(); }

 private:
  X509Ptr x509_;
};

// kAny (anyExtendedKeyUsage) exists only so tests can issue certificates
// the agency profile refuses; refx itself never issues it.
enum class ExtendedKeyUsage { kClientAuth, kServerAuth, kAny };

// What a certificate says about its subject. IssueCertificate adds the parts
// that never vary (serial, SKI/AKI, keyUsage, signature algorithm).
struct CertificateProfile {
  // Subject as O, OU, CN in that order; empty fields are left out. CN is
  // required because it is what humans and logs see.
  std::string common_name;
  std::string organization;
  std::string organizational_unit;

  // subjectAltName entries. Values are encoded directly, never through
  // OpenSSL's config syntax, so a comma in a URI cannot add a second SAN.
  std::vector<std::string> uri_sans;
  std::vector<std::string> dns_sans;
  std::vector<std::string> ip_sans;  // IPv4 or IPv6 text.

  bool is_ca = false;
  int path_len = -1;  // -1 leaves pathLenConstraint out; CAs only.

  // Empty means no EKU extension at all. That is deliberately allowed,
  // because TLS then accepts the certificate for any purpose, and tests must
  // be able to prove the server copes with that (grpc-security.md V3).
  std::vector<ExtendedKeyUsage> extended_key_usages;

  // Overrides for tests that need a certificate outside every profile refx
  // issues: the keyUsage extension as OpenSSL config text (e.g.
  // "critical,keyAgreement"; "none" leaves the extension out; empty is the
  // default for is_ca), and a certificate with no basicConstraints at all.
  std::string key_usage_override;
  bool omit_basic_constraints = false;

  // When non-empty, a critical nameConstraints extension permitting only URI
  // SANs whose host is one of these (a leading "." means subdomains). CAs only.
  std::vector<std::string> permitted_uri_domains;

  absl::Time not_before;
  absl::Time not_after;
};

// Signs a certificate binding `subject_public_key` to `profile`.
//
// `issuer` == nullptr means self-signed: `issuer_key` must then be the
// subject's own key. Otherwise `issuer_key` must be the key of `issuer`.
// The certificate gets a random positive 20-octet serial, SKI and AKI,
// critical basicConstraints, critical keyUsage (CA: keyCertSign, cRLSign;
// leaf: digitalSignature) and a SHA-256 signature (none for Ed25519 keys,
// which hash internally).
//
// Issuing does not check the result against the issuer's constraints (name
// constraints, pathlen, EKU); call VerifyCertificate before handing it out.
// InvalidArgument for an inconsistent profile or mismatched keys.
absl::StatusOr<Certificate> IssueCertificate(const CertificateProfile& profile,
                                             const EVP_PKEY* subject_public_key,
                                             const Certificate* issuer,
                                             const PrivateKey& issuer_key);

// What a relying party wants to know about a certificate: enough for the
// server's WhoAmI answer and for CLI error messages.
struct CertificateInfo {
  std::string serial_hex;  // Uppercase, as OpenSSL's BN_bn2hex prints it.
  // RFC 2253 order ("CN=x,OU=y,O=z"), the same text gRPC puts in the
  // x509_subject AuthContext property.
  std::string subject;
  std::string issuer;
  std::vector<std::string> uri_sans;
  absl::Time not_before;
  absl::Time not_after;
  std::string sha256_fingerprint_hex;  // Uppercase, no separators.
};

// Describes the first certificate in `pem`. InvalidArgument when there is
// none.
absl::StatusOr<CertificateInfo> InspectCertificatePem(std::string_view pem);
absl::StatusOr<CertificateInfo> InspectCertificate(const Certificate& cert);

// Whether `leaf` fits the partnership's agency client profile as far as its
// own extensions and key go, beyond what OpenSSL's chain check enforces
// (OpenSSL accepts a leaf with no EKU for any purpose, a CA certificate as
// a client leaf, and a key-agreement-only key usage): extendedKeyUsage must
// be present and name clientAuth; the certificate must not be a CA
// (basicConstraints CA:TRUE, or keyCertSign/cRLSign in its key usage);
// keyUsage, where present, must include digitalSignature; the key must be
// EC on P-256/P-384/P-521, Ed25519, or RSA of at least 2048 bits; the
// certificate must be X.509 v3. OK, or Unauthenticated naming the first
// deviation found (no personal data: the profile only).
absl::Status CheckAgencyClientProfile(const Certificate& leaf);

// Verifies `leaf` for `purpose` (sslclient or sslserver) at time `at`, using
// `intermediates` as untrusted chain certificates and `anchors` as trust
// anchors. As in gRPC's TLS stack, every anchor is trusted as it stands
// (X509_V_FLAG_PARTIAL_CHAIN), so an issuing CA can be the only anchor.
// Name constraints, pathlen and the EKU of every chain certificate are
// enforced by OpenSSL. Returns Unauthenticated with OpenSSL's reason and its
// X509_V_ERR number (the number the server logs) when the chain is refused,
// InvalidArgument when `anchors` is empty.
absl::Status VerifyCertificate(const Certificate& leaf,
                               const std::vector<Certificate>& intermediates,
                               const std::vector<Certificate>& anchors,
                               ExtendedKeyUsage purpose, absl::Time at);

// Replaces `path` with `contents` so that readers (the server's certificate
// file watcher) see either the old file or the new one, never a torn one:
// writes a temporary file beside it, sets `mode` (0600 for keys, 0644 for
// certificates), fsyncs, renames, then fsyncs the directory. Creates no
// parent directories. Errors carry the errno-derived code.
absl::Status WriteFileAtomically(const std::string& path,
                                 std::string_view contents, int mode);

}  // namespace refx::pki

#endif  // REFX_AUTH_PKI_CERTIFICATE_AUTHORITY_H_
