// The certificate issuing commands of certificate_issuing.h: the registry
// and the CA must agree on the trust domain, and output files are written
// only after the certificate is in the ledger.
#include "clients/admin/certificate_issuing.h"

#include <unistd.h>

#include <cstdio>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "auth/pki/csr.h"
#include "auth/pki/key_file.h"
#include "clients/admin/ca_access.h"

namespace refx::admin {
namespace {

// The public key to certify: from a CSR whose proof of possession holds, or
// freshly generated (returned so the caller writes it).
struct SubjectKey {
  std::optional<refx::pki::PrivateKey> generated;
  std::optional<refx::pki::CertificateRequest> csr;
  const EVP_PKEY* public_key = nullptr;
  std::string csr_sha256;
};

absl::StatusOr<SubjectKey> LoadSubjectKey(const IssueFlags& f) {
  SubjectKey key;
  if (!f.csr.empty()) {
    auto pem = refx::pki::ReadWholeFile(f.csr);
    if (!pem.ok()) return pem.status();
    auto csr = refx::pki::CertificateRequest::FromPem(*pem);
    if (!csr.ok()) return absl::InvalidArgumentError(absl::StrCat(f.csr, ": ", csr.status().message()));
    if (absl::Status s = csr->VerifyProofOfPossession(); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(f.csr, ": ", s.message()));
    }
    key.csr_sha256 = csr->Sha256Hex();
    key.csr.emplace(*std::move(csr));
    key.public_key = key.csr->public_key();
  } else {
    auto generated = refx::pki::PrivateKey::Generate();
    if (!generated.ok()) return generated.status();
    key.generated.emplace(*std::move(generated));
    key.public_key = key.generated->get();
  }
  return key;
}

// --out names the certificate file, for agency and server certificates
// alike: ".pem" is added when it is missing (default NAME.pem), and the key
// goes beside it as NAME.key.
std::string CertificatePathFor(const std::string& out, const std::string& default_name) {
  const std::string name = out.empty() ? default_name : out;
  return absl::EndsWith(name, ".pem") ? name : name + ".pem";
}

std::string KeyPathFor(const std::string& cert_path) {
  return absl::StrCat(absl::StripSuffix(cert_path, ".pem"), ".key");
}

}  // namespace

int RunAgencyIssue(const GlobalOptions& g, const IssueFlags& f, bool renew) {
  const std::string what = renew ? "agency renew" : "agency issue";
  auto partnership = LoadPartnership(g);
  if (!partnership.ok()) return Fail(what, partnership.status());
  const auto* agency = (*partnership)->FindAgency(f.agency);
  if (agency == nullptr) {
    return Fail(what, absl::NotFoundError(absl::StrCat("agency ", f.agency, " is not in the partnership registry ",
                                                       g.partnership, "; add it there first")));
  }
  if (agency->suspended()) {
    return Fail(what, absl::FailedPreconditionError(
                          absl::StrCat("agency ", f.agency, " is suspended in ", g.partnership,
                                       "; its certificates would be refused anyway")));
  }
  auto ca = OpenUnlocked(g);
  if (!ca.ok()) return Fail(what, ca.status());
  if ((*ca)->trust_domain() != (*partnership)->trust_domain()) {
    return Fail(what, absl::FailedPreconditionError(absl::StrCat(
                          "the registry's trust domain ", (*partnership)->trust_domain(), " is not the CA's (",
                          (*ca)->trust_domain(), "); wrong --partnership file?")));
  }
  std::vector<std::string> previous;
  if (renew) {
    auto certs = (*ca)->ledger().List(f.agency, refx::pki::kKindAgency);
    if (!certs.ok()) return Fail(what, certs.status());
    for (const auto& c : *certs) {
      if (c.status == "valid" && c.not_after > absl::Now()) previous.push_back(c.serial_hex);
    }
    if (previous.empty()) {
      return Fail(what, absl::FailedPreconditionError(absl::StrCat(
                            "agency ", f.agency, " has no valid certificate to renew; use `agency issue`")));
    }
  }
  const std::string out = CertificatePathFor(f.out, f.agency);
  const std::string key_out = KeyPathFor(out);
  if (!f.force && access(out.c_str(), F_OK) == 0) {
    return Fail(what, absl::AlreadyExistsError(absl::StrCat(out, " already exists (use --force or --out)")));
  }
  auto key = LoadSubjectKey(f);
  if (!key.ok()) return Fail(what, key.status());
  const std::string ou = absl::AsciiStrToLower(refx::config::v1::AgencyType_Name(agency->type()));
  auto issued = (*ca)->IssueAgency({f.agency, ou}, key->public_key, key->csr_sha256, absl::Hours(24) * f.days,
                                   g.operator_name, absl::Now());
  if (!issued.ok()) return Fail(what, issued.status());
  if (key->generated.has_value()) {
    if (absl::Status s = refx::pki::WritePrivateKeyFile(key_out, *key->generated, "", f.force); !s.ok()) {
      return Fail(what, s);
    }
  }
  if (absl::Status s = WriteNew(out, issued->chain_pem, 0644, f.force); !s.ok()) return Fail(what, s);

  std::printf("%s certificate for agency %s (%s)\n\n", renew ? "Renewed the" : "Issued a",
              f.agency.c_str(), agency->display_name().c_str());
  std::printf("  certificate  %s (leaf + agency issuing CA)\n", out.c_str());
  if (key->generated.has_value()) {
    std::printf("  private key  %s (0600, unencrypted: deliver it securely, then delete this copy)\n",
                key_out.c_str());
  } else {
    std::printf("  from CSR     %s (proof of possession checked; its subject \"%s\" and any SANs ignored)\n",
                f.csr.c_str(), key->csr->RequestedSubject().c_str());
  }
  std::printf("  identity     %s\n", issued->info.uri_sans.front().c_str());
  std::printf("  serial       %s\n  SHA-256      %s\n  valid        %s to %s\n", issued->info.serial_hex.c_str(),
              issued->info.sha256_fingerprint_hex.c_str(), Rfc3339(issued->info.not_before).c_str(),
              Rfc3339(issued->info.not_after).c_str());
  if (renew && f.revoke_previous) {
    auto published = (*ca)->Revoke(previous, "superseded", g.operator_name, absl::Now());
    if (!published.ok()) return Fail(what, published.status());
    std::printf("\nRevoked the previous certificate(s) %s (superseded):\n", absl::StrJoin(previous, ", ").c_str());
    PrintPublication(*published);
  }
  std::printf("\nNext:\n  Send %s%s and %s/root-ca.pem to the agency; it then checks with\n"
              "    refx --server HOST:PORT --ca-file root-ca.pem --cert-file %s --key-file %s whoami\n",
              out.c_str(), key->generated.has_value() ? (" and " + key_out).c_str() : "", (*ca)->paths().directory.c_str(),
              out.c_str(), key->generated.has_value() ? key_out.c_str() : "AGENCY_KEY");
  if (renew && !f.revoke_previous) {
    std::printf("  Once the agency runs on the new certificate, revoke the old one(s):\n");
    for (const std::string& serial : previous) {
      std::printf("    refx-admin --ca-dir %s agency revoke --serial %s --reason superseded\n",
                  (*ca)->paths().directory.c_str(), serial.c_str());
    }
  }
  return 0;
}

int RunServerIssue(const GlobalOptions& g, const IssueFlags& f) {
  auto ca = OpenCa(g);
  if (!ca.ok()) return Fail("server issue", ca.status());
  auto passphrase = GetPassphrase(g, CaKey::kRoot, false);
  if (!passphrase.ok()) return Fail("server issue", passphrase.status());
  if (absl::Status s = (*ca)->UnlockRootKey(*passphrase); !s.ok()) return Fail("server issue", s);
  const std::string out = CertificatePathFor(f.out, "server");
  const std::string key_out = KeyPathFor(out);
  if (!f.force && access(out.c_str(), F_OK) == 0) {
    return Fail("server issue", absl::AlreadyExistsError(absl::StrCat(out, " already exists (use --force)")));
  }
  auto key = LoadSubjectKey(f);
  if (!key.ok()) return Fail("server issue", key.status());
  auto issued = (*ca)->IssueServer(f.dns, f.ips, key->public_key, key->csr_sha256, absl::Hours(24) * f.days,
                                   g.operator_name, absl::Now());
  if (!issued.ok()) return Fail("server issue", issued.status());
  if (key->generated.has_value()) {
    if (absl::Status s = refx::pki::WritePrivateKeyFile(key_out, *key->generated, "", f.force); !s.ok()) {
      return Fail("server issue", s);
    }
  }
  if (absl::Status s = WriteNew(out, issued->chain_pem, 0644, f.force); !s.ok()) return Fail("server issue", s);
  std::printf("Issued a server certificate for %s%s%s\n\n", absl::StrJoin(f.dns, ", ").c_str(),
              f.ips.empty() ? "" : ", ", absl::StrJoin(f.ips, ", ").c_str());
  std::printf("  certificate  %s\n", out.c_str());
  if (key->generated.has_value()) std::printf("  private key  %s (0600)\n", key_out.c_str());
  std::printf("  serial       %s\n  valid        %s to %s\n", issued->info.serial_hex.c_str(),
              Rfc3339(issued->info.not_before).c_str(), Rfc3339(issued->info.not_after).c_str());
  std::printf("\nNext:\n  Install them as tls.server_cert_file and tls.server_key_file (replace files by\n"
              "  rename: the server re-reads them every tls.refresh_interval_seconds).\n"
              "  Move the root key back offline.\n");
  return 0;
}

}  // namespace refx::admin
