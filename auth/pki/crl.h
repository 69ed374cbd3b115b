// X.509 CRLs for relying parties other than refx-server's own verifier, and
// for the server's optional CRL directory (defence in depth).
//
// OpenSSL looks CRLs up in a directory by `<issuer-name-hash>.r<N>` and
// caches what it has loaded: a file replaced in place is never seen again,
// while a new N is (grpc-security.md V9). So every publication is a new file
// with the next free N, created without ever replacing an existing one.
// Among several CRLs of one issuer OpenSSL uses the one with the latest
// lastUpdate, so successive CRLs must have strictly increasing lastUpdate.
#ifndef REFX_AUTH_PKI_CRL_H_
#define REFX_AUTH_PKI_CRL_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "auth/pki/certificate_authority.h"
#include "auth/pki/revocation_list.h"

namespace refx::pki {

struct CrlContents {
  int64_t crl_number = 0;  // The cRLNumber extension; must increase.
  absl::Time last_update;
  absl::Time next_update;
  std::vector<RevokedCertificate> revoked;
};

// A v2 CRL in PEM, signed by `issuer_key` (the key of `issuer`), with
// cRLNumber, AKI and a reasonCode per entry, entries sorted.
absl::StatusOr<std::string> MakeCrlPem(const CrlContents& contents,
                                       const Certificate& issuer,
                                       const PrivateKey& issuer_key);

// "1a2b3c4d": OpenSSL's hash of `issuer`'s subject name (X509_NAME_hash_ex,
// the same as `openssl rehash`).
std::string IssuerNameHash(const Certificate& issuer);

// Writes `crl_pem` into `directory` as `<IssuerNameHash(issuer)>.r<N>` for
// the smallest N not yet taken, without ever replacing a file (the final
// name is created with link(2), which fails if it exists), fsyncing file and
// directory. Returns the path written.
absl::StatusOr<std::string> PublishCrlFile(const std::string& directory,
                                           const Certificate& issuer,
                                           std::string_view crl_pem);

// What a CRL file holds, for checks and warnings.
struct CrlInfo {
  int64_t crl_number = -1;
  absl::Time last_update;
  absl::Time next_update;
  std::vector<std::string> revoked_serials_hex;
};
absl::StatusOr<CrlInfo> InspectCrlPem(std::string_view pem);

}  // namespace refx::pki

#endif  // REFX_AUTH_PKI_CRL_H_
