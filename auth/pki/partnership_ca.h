// The partnership's production certificate authority, as a directory on the
// administrator's host:
//
//   DIR/root-ca.pem            the partnership root: clients trust it for the
//                              server (give it to every agency)
//   DIR/root-ca.key            its key, encrypted, 0600: move it offline
//                              after `ca init` and `server issue`
//   DIR/agency-ca.pem          the agency issuing CA (pathlen:0, EKU
//                              clientAuth, name-constrained to the trust
//                              domain): the server's tls.client_ca_file
//   DIR/agency-ca.key          its key, encrypted, 0600
//   DIR/ledger.db              issuance ledger and action log (0600)
//   DIR/publish/revocations.txt  the signed revocation list
//                              (tls.revocation_list_file)
//   DIR/publish/crl/<hash>.rN  CRLs (tls.crl_directory, other relying parties)
//
// Every certificate is issued from a fixed profile, verified against the real
// chain before anyone sees it, and recorded in the ledger before it is
// returned. Revocation writes the ledger first and then publishes; see
// issuance_ledger.h for why that makes interruption harmless.
#ifndef REFX_AUTH_PKI_PARTNERSHIP_CA_H_
#define REFX_AUTH_PKI_PARTNERSHIP_CA_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "auth/pki/certificate_authority.h"
#include "auth/pki/issuance_ledger.h"

namespace refx::pki {

// Certificate lifetimes for agencies and servers.
inline constexpr absl::Duration kDefaultLeafLifetime = absl::Hours(24 * 90);
inline constexpr absl::Duration kMaxLeafLifetime = absl::Hours(24 * 366);
// How long a published revocation list and CRL stay valid. Must exceed the
// server's 14-day expiry warning; republish weekly (`crl publish`).
inline constexpr absl::Duration kDefaultListValidity = absl::Hours(24 * 30);

// Who an agency certificate names; from the partnership registry only.
struct AgencyIdentity {
  std::string id;                   // [a-z0-9-]+
  std::string organizational_unit;  // The agency type, e.g. "police".
};

struct CaPaths {
  std::string directory;
  std::string root_cert, root_key, issuing_cert, issuing_key, ledger;
  std::string publish_dir, revocation_list, crl_dir;
};
CaPaths CaPathsFor(const std::string& directory);

// Checks an issued agency certificate against the profile: CA:FALSE, KU
// digitalSignature only, EKU exactly clientAuth, exactly one SAN which is the
// URI `expected_uri`, SKI and AKI present, a positive serial of at least 128
// bits. InvalidArgument naming the first deviation.
absl::Status CheckAgencyCertificateProfile(const Certificate& cert, const std::string& expected_uri);

class PartnershipCa {
 public:
  struct InitOptions {
    std::string directory;
    std::string partnership_id;
    std::string trust_domain;
    std::string organization;
    // Encrypt the offline root key and the online issuing key. Both are
    // required and must differ: the issuing key's scheduled jobs (crl
    // publish) hold their passphrase, which must not unlock the root.
    std::string root_passphrase;
    std::string issuing_passphrase;
    absl::Duration root_lifetime = absl::Hours(24 * 3650);
    absl::Duration issuing_lifetime = absl::Hours(24 * 1825);
    std::string operator_name;
    absl::Time now = absl::Now();
  };
  struct InitResult {
    CaPaths paths;
    CertificateInfo root;
    CertificateInfo issuing;
  };
  // Creates the directory (0700; its parent must exist) and everything in
  // it, and publishes an empty revocation list and CRL. AlreadyExists if the
  // directory already holds a CA (nothing is touched then).
  static absl::StatusOr<InitResult> Init(const InitOptions& options);

  // Opens an existing CA directory (keys stay locked).
  static absl::StatusOr<std::unique_ptr<PartnershipCa>> Open(const std::string& directory);

  const CaPaths& paths() const { return paths_; }
  const std::string& trust_domain() const { return trust_domain_; }
  const std::string& partnership_id() const { return partnership_id_; }
  const std::string& organization() const { return organization_; }
  const Certificate& root_certificate() const { return root_; }
  const Certificate& issuing_certificate() const { return issuing_; }
  IssuanceLedger& ledger() { return *ledger_; }

  // Decrypt a CA key (refusing a key file others can read). InvalidArgument
  // for a wrong passphrase.
  absl::Status UnlockIssuingKey(std::string_view passphrase);
  absl::Status UnlockRootKey(std::string_view passphrase);

  struct Issued {
    Certificate certificate;
    CertificateInfo info;
    std::string chain_pem;  // Leaf, then the issuing CA for agencies.
  };
  // Issues an agency client certificate for `public_key` (already checked:
  // a CSR's proof of possession is the caller's job) valid from now - 5 min
  // for `lifetime` (at most kMaxLeafLifetime), verifies it, records it.
  absl::StatusOr<Issued> IssueAgency(const AgencyIdentity& agency, const EVP_PKEY* public_key,
                                     const std::string& csr_sha256, absl::Duration lifetime,
                                     const std::string& operator_name, absl::Time now);
  // A server certificate from the root (needs UnlockRootKey): serverAuth,
  // CN = the first DNS name, DNS and IP SANs.
  absl::StatusOr<Issued> IssueServer(const std::vector<std::string>& dns_names,
                                     const std::vector<std::string>& ips, const EVP_PKEY* public_key,
                                     const std::string& csr_sha256, absl::Duration lifetime,
                                     const std::string& operator_name, absl::Time now);

  struct Publication {
    int64_t sequence = 0;
    std::string list_path;
    std::string crl_path;
    size_t revoked = 0;
    absl::Time next_update;
  };
  // Revokes `serials` in the ledger (publication pending), then publishes.
  absl::StatusOr<Publication> Revoke(const std::vector<std::string>& serials, const std::string& reason,
                                     const std::string& operator_name, absl::Time now,
                                     absl::Duration validity = kDefaultListValidity);
  // Writes the revocation list (atomically) and a new CRL (next free rN)
  // from the ledger, then clears "pending". Needs UnlockIssuingKey.
  absl::StatusOr<Publication> Publish(const std::string& operator_name, absl::Time now,
                                      absl::Duration validity = kDefaultListValidity);
  // Publish() if the ledger says a publication is pending; nullopt if not.
  absl::StatusOr<std::optional<Publication>> CompletePendingPublication(
      const std::string& operator_name, absl::Time now, absl::Duration validity = kDefaultListValidity);

  // Tests only: called after the ledger commit of a revocation and before
  // publication; a non-OK status stops Revoke there, as a crash would.
  std::function<absl::Status()> after_ledger_write_for_testing;

 private:
  PartnershipCa() = default;
  absl::StatusOr<Issued> Record(Certificate cert, const std::string& kind, const std::string& subject_id,
                                const std::string& chain_pem, const std::string& csr_sha256,
                                const std::string& operator_name, absl::Time now);

  CaPaths paths_;
  std::string trust_domain_, partnership_id_, organization_;
  Certificate root_{X509Ptr(nullptr)};
  Certificate issuing_{X509Ptr(nullptr)};
  std::optional<PrivateKey> root_key_, issuing_key_;
  std::unique_ptr<IssuanceLedger> ledger_;
};

}  // namespace refx::pki

#endif  // REFX_AUTH_PKI_PARTNERSHIP_CA_H_
