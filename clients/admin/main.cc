// refx-admin: the partnership administrator's tool. It runs the partnership's
// certificate authority from a CA directory (auth/pki/partnership_ca.h):
// `ca init`, `server issue`, `agency issue|renew|revoke`, `cert list`,
// `crl publish`, `log verify`, plus `dev-pki` for development. Every command
// says what it did, where the files went and what to do next.
#include <pwd.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "clients/admin/governance_commands.h"
#include "clients/admin/storage_commands.h"
#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "auth/pki/csr.h"
#include "auth/pki/dev_pki.h"
#include "auth/pki/key_file.h"
#include "auth/pki/partnership_ca.h"
#include "auth/pki/revocation_list.h"
#include "common/json_text.h"
#include "core/partnership.h"

namespace {

using refx::pki::PartnershipCa;

// Exit codes, as for refx: 0 success, 1 failure, 2 usage.
constexpr int kFailure = 1;
constexpr int kUsage = 2;

// Tests only: crash (exit 86) right after a revocation's ledger commit,
// before the list and CRL are written. Never set in production.
constexpr char kCrashAfterLedgerEnv[] = "REFX_ADMIN_TEST_CRASH_AFTER_LEDGER_WRITE";

struct Globals {
  std::string ca_dir;
  std::string partnership = "config/partnership.yaml";
  std::string passphrase_file;       // the issuing CA key's
  std::string root_passphrase_file;  // the root CA key's
  std::string operator_name;
};

// Which CA key a passphrase unlocks: each has its own, so the online issuing
// key's jobs never hold what unlocks the offline root.
enum class CaKey { kIssuing, kRoot };

int Fail(const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "refx-admin: %s: %s\n", what.c_str(), std::string(status.message()).c_str());
  return kFailure;
}

std::string Rfc3339(absl::Time t) { return refx::pki::FormatRfc3339(t); }

std::string DefaultOperator() {
  if (const char* user = std::getenv("USER"); user != nullptr && *user) return user;
  if (const passwd* pw = getpwuid(getuid()); pw != nullptr) return pw->pw_name;
  return absl::StrCat("uid-", getuid());
}

// "30d", "12h", "90m" or plain days.
std::optional<absl::Duration> ParseDays(std::string text) {
  if (text.empty()) return std::nullopt;
  absl::Duration unit = absl::Hours(24);
  const char suffix = text.back();
  if (suffix == 'd' || suffix == 'h' || suffix == 'm') {
    unit = suffix == 'd' ? absl::Hours(24) : suffix == 'h' ? absl::Hours(1) : absl::Minutes(1);
    text.pop_back();
  }
  int64_t n = 0;
  if (!absl::SimpleAtoi(text, &n) || n < 0) return std::nullopt;
  return unit * n;
}

absl::StatusOr<std::string> Prompt(const std::string& question, CaKey which) {
  if (!isatty(STDIN_FILENO)) {
    return absl::FailedPreconditionError(
        which == CaKey::kRoot
            ? "no root CA passphrase: pass --root-passphrase-file FILE, set REFX_ROOT_CA_PASSPHRASE, or run in a "
              "terminal"
            : "no issuing CA passphrase: pass --passphrase-file FILE, set REFX_CA_PASSPHRASE, or run in a terminal");
  }
  std::fprintf(stderr, "%s", question.c_str());
  termios old_mode;
  tcgetattr(STDIN_FILENO, &old_mode);
  termios quiet = old_mode;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  std::string line;
  std::getline(std::cin, line);
  tcsetattr(STDIN_FILENO, TCSANOW, &old_mode);
  std::fprintf(stderr, "\n");
  return line;
}

// The passphrase of the issuing CA key (--passphrase-file, then
// REFX_CA_PASSPHRASE) or of the root CA key (--root-passphrase-file, then
// REFX_ROOT_CA_PASSPHRASE), then a no-echo prompt (twice when `confirm`).
absl::StatusOr<std::string> GetPassphrase(const Globals& g, CaKey which, bool confirm) {
  const std::string& file = which == CaKey::kRoot ? g.root_passphrase_file : g.passphrase_file;
  const char* env_name = which == CaKey::kRoot ? "REFX_ROOT_CA_PASSPHRASE" : "REFX_CA_PASSPHRASE";
  const std::string label = which == CaKey::kRoot ? "root CA" : "issuing CA";
  std::string passphrase;
  if (!file.empty()) {
    if (absl::Status s = refx::pki::CheckKeyFilePermissions(file); !s.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(label, " passphrase file: ", s.message()));
    }
    auto text = refx::pki::ReadWholeFile(file);
    if (!text.ok()) return text.status();
    passphrase = std::string(absl::StripTrailingAsciiWhitespace(*text));
  } else if (const char* env = std::getenv(env_name); env != nullptr && *env) {
    passphrase = env;
  } else {
    auto first = Prompt(absl::StrCat(label, " passphrase: "), which);
    if (!first.ok()) return first.status();
    passphrase = *first;
    if (confirm) {
      auto second = Prompt("Repeat the passphrase: ", which);
      if (!second.ok()) return second.status();
      if (*second != passphrase) return absl::InvalidArgumentError("the passphrases differ");
    }
  }
  if (passphrase.size() < 12) {
    return absl::InvalidArgumentError(absl::StrCat("the ", label, " passphrase must be at least 12 characters"));
  }
  return passphrase;
}

absl::StatusOr<std::shared_ptr<const refx::core::Partnership>> LoadPartnership(const Globals& g) {
  auto partnership = refx::core::Partnership::Load(g.partnership);
  if (!partnership.ok()) {
    return absl::Status(partnership.status().code(),
                        absl::StrCat(partnership.status().message(), " (set --partnership FILE)"));
  }
  return partnership;
}

absl::StatusOr<std::unique_ptr<PartnershipCa>> OpenCa(const Globals& g) {
  if (g.ca_dir.empty()) {
    return absl::InvalidArgumentError("which CA? pass --ca-dir DIR or set REFX_CA_DIR");
  }
  return PartnershipCa::Open(g.ca_dir);
}

void PrintPublication(const PartnershipCa::Publication& p) {
  std::printf("  revocation list  %s  (sequence %lld, %zu revoked, valid until %s)\n", p.list_path.c_str(),
              static_cast<long long>(p.sequence), p.revoked, Rfc3339(p.next_update).c_str());
  std::printf("  CRL              %s\n", p.crl_path.c_str());
}

// Opens the CA and unlocks the issuing key; finishes any publication an
// earlier run left pending, and says so.
absl::StatusOr<std::unique_ptr<PartnershipCa>> OpenUnlocked(const Globals& g) {
  auto ca = OpenCa(g);
  if (!ca.ok()) return ca.status();
  auto passphrase = GetPassphrase(g, CaKey::kIssuing, false);
  if (!passphrase.ok()) return passphrase.status();
  if (absl::Status s = (*ca)->UnlockIssuingKey(*passphrase); !s.ok()) return s;
  if (std::getenv(kCrashAfterLedgerEnv) != nullptr) {
    (*ca)->after_ledger_write_for_testing = []() -> absl::Status {
      std::fflush(stdout);
      _exit(86);
    };
  }
  auto pending = (*ca)->CompletePendingPublication(g.operator_name, absl::Now());
  if (!pending.ok()) return pending.status();
  if (pending->has_value()) {
    std::printf("Completed a publication an earlier run left pending:\n");
    PrintPublication(**pending);
    std::printf("\n");
  }
  return ca;
}

// Writes `contents` to `path` (mode `mode`), refusing to replace it unless
// `force`.
absl::Status WriteNew(const std::string& path, const std::string& contents, int mode, bool force) {
  if (!force && access(path.c_str(), F_OK) == 0) {
    return absl::AlreadyExistsError(absl::StrCat(path, " already exists (use --force to replace it)"));
  }
  return refx::pki::WriteFileAtomically(path, contents, mode);
}

// ---------------------------------------------------------------- dev-pki

constexpr char kDevPkiFooter[] = R"(
Writes a throwaway PKI for development and tests, with the production
certificate profiles (ECDSA P-256, agency URI SANs, name constraints):
  DIR/root-ca.pem          give clients this (--ca-file) to trust the server
  DIR/agency-ca.pem        the server's client-trust bundle (tls.client_ca_file)
  DIR/server.pem, .key     the server certificate (localhost, 127.0.0.1, ::1)
  DIR/agencies/ID.pem,.key one certificate per agency of the partnership
  DIR/profiles.yaml        a `refx --config` profile per agency
  DIR/revocations.txt      an empty signed revocation list (tls.revocation_list_file)
The CA keys are not kept: rerun with --force to rebuild it all.
Never use a development PKI in production.

Example:
  refx-admin dev-pki dev-pki --partnership config/partnership.yaml)";

int RunDevPki(const std::string& dir, const std::string& partnership_path, const std::vector<std::string>& dns,
              int days, bool force) {
  auto partnership = refx::core::Partnership::Load(partnership_path);
  if (!partnership.ok()) return Fail("dev-pki", partnership.status());
  refx::pki::DevPkiOptions options;
  options.directory = dir;
  options.trust_domain = (*partnership)->trust_domain();
  options.overwrite = force;
  options.leaf_lifetime = absl::Hours(24) * days;
  if (!dns.empty()) options.server_dns_names = dns;
  for (const auto& agency : (*partnership)->config().agencies()) {
    options.agencies.push_back(
        {agency.id(), absl::AsciiStrToLower(refx::config::v1::AgencyType_Name(agency.type()))});
  }
  if (!force && access((dir + "/root-ca.pem").c_str(), F_OK) == 0) {
    std::fprintf(stderr, "refx-admin: dev-pki: %s/root-ca.pem already exists\n  (use --force to replace it)\n",
                 dir.c_str());
    return kFailure;
  }
  auto pki = refx::pki::GenerateDevelopmentPki(options);
  if (!pki.ok()) return Fail("dev-pki", pki.status());
  auto result = refx::pki::WriteDevelopmentPkiFiles(*pki, options);
  if (!result.ok()) return Fail("dev-pki", result.status());
  // An empty list signed by the (then discarded) agency CA key, valid as long
  // as the leaves, so a server configured with it starts serving at once.
  refx::pki::RevocationList list;
  list.sequence = 1;
  list.generated = options.now;
  list.next_update = options.now + options.leaf_lifetime;
  auto text = refx::pki::SignRevocationList(list, pki->agency_ca, pki->agency_ca_key);
  if (!text.ok()) return Fail("dev-pki", text.status());
  if (absl::Status s = refx::pki::WriteFileAtomically(dir + "/revocations.txt", *text, 0644); !s.ok()) {
    return Fail("dev-pki", s);
  }
  // A client profile per agency, so `refx --config DIR/profiles.yaml
  // --profile AGENCY ...` works at once. Paths are relative to this file.
  std::string profiles = "# refx client profiles for the development PKI (one per agency).\n"
                         "# Use: refx --config " + dir + "/profiles.yaml --profile AGENCY_ID whoami\n";
  absl::StrAppend(&profiles, "default_profile: ", options.agencies[0].id, "\nprofiles:\n");
  for (const auto& agency : options.agencies) {
    absl::StrAppend(&profiles, "  ", agency.id, ":\n    server: localhost:50051\n    ca_file: root-ca.pem\n",
                    "    cert_file: agencies/", agency.id, ".pem\n    key_file: agencies/", agency.id, ".key\n");
  }
  if (absl::Status s = refx::pki::WriteFileAtomically(dir + "/profiles.yaml", profiles, 0644); !s.ok()) {
    return Fail("dev-pki", s);
  }
  std::printf("Development PKI for partnership %s (trust domain %s) written to %s:\n",
              (*partnership)->id().c_str(), options.trust_domain.c_str(), dir.c_str());
  std::printf("  root-ca.pem, agency-ca.pem, server.pem/.key and %zu agency certificates (valid %d days)\n",
              options.agencies.size(), days);
  std::printf("  %s/profiles.yaml, a refx client profile per agency\n", dir.c_str());
  std::printf("  %s/revocations.txt, an empty revocation list valid %d days\n", dir.c_str(), days);
  std::printf("\nNext:\n  refx-server --config config/dev-server.yaml\n"
              "  refx --config %s/profiles.yaml --profile %s whoami\n",
              dir.c_str(), options.agencies[0].id.c_str());
  return 0;
}

// ---------------------------------------------------------------- ca init

int RunCaInit(const Globals& g, const std::string& dir, std::string organization, int root_days, int ca_days) {
  auto partnership = LoadPartnership(g);
  if (!partnership.ok()) return Fail("ca init", partnership.status());
  if (access((dir + "/ledger.db").c_str(), F_OK) == 0) {
    std::fprintf(stderr, "refx-admin: ca init: %s already holds a CA; refusing to overwrite it\n", dir.c_str());
    return kFailure;
  }
  auto root_passphrase = GetPassphrase(g, CaKey::kRoot, true);
  if (!root_passphrase.ok()) return Fail("ca init", root_passphrase.status());
  auto passphrase = GetPassphrase(g, CaKey::kIssuing, true);
  if (!passphrase.ok()) return Fail("ca init", passphrase.status());
  PartnershipCa::InitOptions options;
  options.directory = dir;
  options.partnership_id = (*partnership)->id();
  options.trust_domain = (*partnership)->trust_domain();
  options.organization = organization.empty() ? absl::StrCat("refx ", (*partnership)->id(), " partnership")
                                              : organization;
  if (options.organization.size() > 40) {
    std::fprintf(stderr, "refx-admin: ca init: --organization must be at most 40 characters (it is part of the "
                         "CA names, which X.509 limits to 64)\n");
    return kUsage;
  }
  options.root_passphrase = *root_passphrase;
  options.issuing_passphrase = *passphrase;
  options.root_lifetime = absl::Hours(24) * root_days;
  options.issuing_lifetime = absl::Hours(24) * ca_days;
  options.operator_name = g.operator_name;
  auto init = PartnershipCa::Init(options);
  if (!init.ok()) return Fail("ca init", init.status());
  const auto& p = init->paths;
  std::printf("Created the certificate authority of partnership %s (trust domain %s) in %s\n\n",
              options.partnership_id.c_str(), options.trust_domain.c_str(), dir.c_str());
  std::printf("  root CA            %s\n                     serial %s, valid until %s\n", p.root_cert.c_str(),
              init->root.serial_hex.c_str(), Rfc3339(init->root.not_after).c_str());
  std::printf("  root CA key        %s (encrypted, 0600)\n", p.root_key.c_str());
  std::printf("  agency issuing CA  %s\n                     serial %s, valid until %s\n"
              "                     pathlen 0, clientAuth only, URIs under %s only\n",
              p.issuing_cert.c_str(), init->issuing.serial_hex.c_str(), Rfc3339(init->issuing.not_after).c_str(),
              options.trust_domain.c_str());
  std::printf("  issuing CA key     %s (encrypted, 0600)\n", p.issuing_key.c_str());
  std::printf("  issuance ledger    %s\n", p.ledger.c_str());
  std::printf("  revocation list    %s (empty)\n  CRL directory      %s\n", p.revocation_list.c_str(),
              p.crl_dir.c_str());
  std::printf("\nNext:\n"
              "  1. Issue the server certificate (needs the root key):\n"
              "       refx-admin --ca-dir %s server issue --dns refx.example.org --out server\n"
              "  2. Move %s to offline storage; keep the root passphrase apart from it\n"
              "     (scheduled jobs get only the issuing CA's passphrase).\n"
              "  3. Configure refx-server:\n"
              "       tls.client_ca_file: %s\n"
              "       tls.revocation_list_file: %s\n"
              "       tls.crl_directory: %s\n"
              "  4. Onboard an agency from its CSR:\n"
              "       refx-admin --ca-dir %s agency issue --agency AGENCY_ID --csr AGENCY_ID.csr\n"
              "  5. Republish the revocation list at least weekly (cron):\n"
              "       refx-admin --ca-dir %s crl publish\n",
              dir.c_str(), p.root_key.c_str(), p.issuing_cert.c_str(), p.revocation_list.c_str(),
              p.crl_dir.c_str(), dir.c_str(), dir.c_str());
  return 0;
}

// ---------------------------------------------------------------- issuing

struct IssueFlags {
  std::string agency;
  std::string csr;
  bool generate_key = false;
  int days = 90;
  std::string out;
  bool force = false;
  bool revoke_previous = false;
  std::vector<std::string> dns, ips;
};

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

std::string KeyPathFor(const std::string& cert_path) {
  return absl::StrCat(absl::StripSuffix(cert_path, ".pem"), ".key");
}

int RunAgencyIssue(const Globals& g, const IssueFlags& f, bool renew) {
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
  const std::string out = f.out.empty() ? f.agency + ".pem" : f.out;
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

int RunServerIssue(const Globals& g, const IssueFlags& f) {
  auto ca = OpenCa(g);
  if (!ca.ok()) return Fail("server issue", ca.status());
  auto passphrase = GetPassphrase(g, CaKey::kRoot, false);
  if (!passphrase.ok()) return Fail("server issue", passphrase.status());
  if (absl::Status s = (*ca)->UnlockRootKey(*passphrase); !s.ok()) return Fail("server issue", s);
  const std::string out = (f.out.empty() ? std::string("server") : std::string(absl::StripSuffix(f.out, ".pem"))) +
                          ".pem";
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

// ---------------------------------------------------------------- revoke

int RunRevoke(const Globals& g, const std::vector<std::string>& serials_in, const std::string& agency,
              const std::string& reason) {
  if (refx::pki::RevocationReasonCode(reason) < 0) {
    std::fprintf(stderr, "refx-admin: agency revoke: --reason must be one of: %s\n",
                 absl::StrJoin(refx::pki::RevocationReasonNames(), ", ").c_str());
    return kUsage;
  }
  auto ca = OpenUnlocked(g);
  if (!ca.ok()) return Fail("agency revoke", ca.status());
  // Serials already revoked are reported, not revoked again, so rerunning an
  // interrupted command (whose publication OpenUnlocked has just completed)
  // succeeds instead of failing on its own earlier work.
  std::vector<std::string> serials;
  std::vector<refx::pki::LedgerCertificate> already;
  auto sort_one = [&](const refx::pki::LedgerCertificate& c) {
    if (c.status == "revoked") {
      already.push_back(c);
    } else {
      serials.push_back(c.serial_hex);
    }
  };
  for (const std::string& s : serials_in) {
    auto row = (*ca)->ledger().Find(absl::AsciiStrToUpper(s));
    if (!row.ok()) return Fail("agency revoke", row.status());
    sort_one(*row);
  }
  if (!agency.empty()) {
    auto certs = (*ca)->ledger().List(agency, refx::pki::kKindAgency);
    if (!certs.ok()) return Fail("agency revoke", certs.status());
    if (certs->empty()) {
      return Fail("agency revoke",
                  absl::NotFoundError(absl::StrCat("agency ", agency, " has no certificate in the ledger")));
    }
    for (const auto& c : *certs) sort_one(c);
  }
  for (const auto& c : already) {
    std::printf("Serial %s (%s) is already revoked (%s, %s); nothing to do for it.\n", c.serial_hex.c_str(),
                c.subject_id.c_str(), c.revocation_reason.c_str(),
                c.revoked_at ? Rfc3339(*c.revoked_at).c_str() : "time unknown");
  }
  if (serials.empty()) {
    std::printf("\nThe published revocation list %s already names %s.\n"
                "Next:\n  Make sure the server's tls.revocation_list_file is a copy of it.\n",
                (*ca)->paths().revocation_list.c_str(), already.size() == 1 ? "it" : "them");
    return 0;
  }
  auto published = (*ca)->Revoke(serials, reason, g.operator_name, absl::Now());
  if (!published.ok()) return Fail("agency revoke", published.status());
  std::printf("Revoked %zu certificate(s) (%s):\n", serials.size(), reason.c_str());
  for (const std::string& serial : serials) {
    auto row = (*ca)->ledger().Find(serial);
    std::printf("  %s  %s\n", serial.c_str(), row.ok() ? row->subject_id.c_str() : "");
  }
  std::printf("\nPublished:\n");
  PrintPublication(*published);
  std::printf("\nNext:\n  Copy the list to the server's tls.revocation_list_file (atomically, e.g. rsync);\n"
              "  refx-server re-reads it within 2 s and refuses these certificates in new handshakes\n"
              "  and new calls. Copy the CRL directory to any other relying party.\n");
  return 0;
}

// ---------------------------------------------------------------- list

int RunCertList(const Globals& g, const std::string& agency, const std::string& kind,
                const std::string& expiring_within, const std::string& output) {
  std::optional<absl::Duration> window;
  if (!expiring_within.empty()) {
    window = ParseDays(expiring_within);
    if (!window.has_value()) {
      std::fprintf(stderr, "refx-admin: cert list: --expiring-within wants e.g. 30d, 12h\n");
      return kUsage;
    }
  }
  auto ca = OpenCa(g);
  if (!ca.ok()) return Fail("cert list", ca.status());
  auto certs = (*ca)->ledger().List(agency, kind);
  if (!certs.ok()) return Fail("cert list", certs.status());
  const absl::Time now = absl::Now();
  std::vector<refx::pki::LedgerCertificate> shown;
  for (const auto& c : *certs) {
    if (window.has_value() && (c.status != "valid" || c.not_after <= now || c.not_after > now + *window)) continue;
    shown.push_back(c);
  }
  auto state_of = [&](const refx::pki::LedgerCertificate& c) {
    return c.status == "revoked" ? std::string("revoked") : c.not_after <= now ? std::string("expired")
                                                                               : std::string("valid");
  };
  if (output == "json") {
    std::string json = "{\"certificates\": [";
    for (size_t i = 0; i < shown.size(); ++i) {
      const auto& c = shown[i];
      absl::StrAppend(&json, i ? ", " : "", "{\"serial\": ", refx::JsonQuote(c.serial_hex),
                      ", \"kind\": ", refx::JsonQuote(c.kind), ", \"subject_id\": ", refx::JsonQuote(c.subject_id),
                      ", \"subject\": ", refx::JsonQuote(c.subject),
                      ", \"sha256_fingerprint\": ", refx::JsonQuote(c.sha256_fingerprint),
                      ", \"not_before\": ", refx::JsonQuote(Rfc3339(c.not_before)),
                      ", \"not_after\": ", refx::JsonQuote(Rfc3339(c.not_after)),
                      ", \"issued_at\": ", refx::JsonQuote(Rfc3339(c.issued_at)),
                      ", \"status\": ", refx::JsonQuote(state_of(c)),
                      ", \"revoked_at\": ", c.revoked_at ? refx::JsonQuote(Rfc3339(*c.revoked_at)) : "null",
                      ", \"revocation_reason\": ", refx::JsonQuote(c.revocation_reason),
                      ", \"operator\": ", refx::JsonQuote(c.operator_name), "}");
    }
    absl::StrAppend(&json, "]}\n");
    std::fputs(json.c_str(), stdout);
    return 0;
  }
  std::printf("%-40s  %-10s  %-38s  %-20s  %s\n", "SERIAL", "KIND", "SUBJECT", "NOT AFTER", "STATUS");
  for (const auto& c : shown) {
    std::string status = state_of(c);
    if (c.status == "revoked") absl::StrAppend(&status, " (", c.revocation_reason, ")");
    std::printf("%-40s  %-10s  %-38s  %-20s  %s\n", c.serial_hex.c_str(), c.kind.c_str(), c.subject_id.c_str(),
                Rfc3339(c.not_after).c_str(), status.c_str());
  }
  std::printf("\n%zu certificate(s)%s\n", shown.size(),
              window.has_value() ? absl::StrCat(" valid and expiring within ", expiring_within).c_str() : "");
  auto state = (*ca)->ledger().Publication();
  if (state.ok() && state->pending) {
    std::printf("\nWARNING: a revocation is not yet published (%s).\n  Run: refx-admin --ca-dir %s crl publish\n",
                state->pending_reason.c_str(), (*ca)->paths().directory.c_str());
  }
  return 0;
}

int RunCrlPublish(const Globals& g, const std::string& validity_text) {
  auto validity = ParseDays(validity_text);
  if (!validity.has_value() || *validity <= absl::Hours(24)) {
    std::fprintf(stderr, "refx-admin: crl publish: --validity wants more than a day, e.g. 30d\n");
    return kUsage;
  }
  auto ca = OpenUnlocked(g);
  if (!ca.ok()) return Fail("crl publish", ca.status());
  auto published = (*ca)->Publish(g.operator_name, absl::Now(), *validity);
  if (!published.ok()) return Fail("crl publish", published.status());
  std::printf("Published the revocation list and CRL:\n");
  PrintPublication(*published);
  std::printf("\nNext:\n  Copy the list to the server's tls.revocation_list_file before %s\n"
              "  (after that the server refuses every agency, failing closed).\n",
              Rfc3339(published->next_update).c_str());
  return 0;
}

int RunLogVerify(const Globals& g) {
  auto ca = OpenCa(g);
  if (!ca.ok()) return Fail("log verify", ca.status());
  auto count = (*ca)->ledger().VerifyActionLog();
  if (!count.ok()) return Fail("log verify", count.status());
  auto actions = (*ca)->ledger().Actions();
  std::printf("Action log intact: %lld entries, head %s\n", static_cast<long long>(*count),
              actions.ok() && !actions->empty() ? actions->back().hash.c_str() : "(empty)");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"refx-admin: run the partnership's certificate authority"};
  app.require_subcommand(1);
  // Global options (--ca-dir, --partnership, ...) are accepted after the
  // subcommand too; subcommands inherit this.
  app.fallthrough();
  app.set_version_flag("--version", "refx-admin 0.2.0");
  app.footer(R"(
A CA directory (--ca-dir) holds the root and agency issuing CA, their encrypted
keys, the issuance ledger and the published revocation list and CRLs.

Passphrases: each CA key has its own, so the online issuing key's scheduled jobs
never hold what unlocks the offline root.
  issuing CA key: --passphrase-file FILE (mode 0600), or REFX_CA_PASSPHRASE, or a prompt
  root CA key (ca init, server issue): --root-passphrase-file FILE (mode 0600), or
    REFX_ROOT_CA_PASSPHRASE, or a prompt

Quick tour:
  refx-admin ca init /srv/refx-ca --partnership config/partnership.yaml
  refx-admin --ca-dir /srv/refx-ca server issue --dns refx.example.org
  refx-admin --ca-dir /srv/refx-ca agency issue --agency leicestershire-police --csr police.csr
  refx-admin --ca-dir /srv/refx-ca agency revoke --agency leicestershire-police --reason key-compromise
  refx-admin --ca-dir /srv/refx-ca cert list --expiring-within 30d)");
  Globals g;
  g.operator_name = DefaultOperator();
  app.add_option("--ca-dir", g.ca_dir, "CA directory (made by `ca init`)")->envname("REFX_CA_DIR");
  app.add_option("--partnership", g.partnership, "Partnership registry file")
      ->envname("REFX_PARTNERSHIP")
      ->capture_default_str();
  app.add_option("--passphrase-file", g.passphrase_file, "File holding the issuing CA key's passphrase (mode 0600)");
  app.add_option("--root-passphrase-file", g.root_passphrase_file,
                 "File holding the root CA key's passphrase (mode 0600); needed by ca init and server issue only");
  app.add_option("--operator", g.operator_name, "Who is acting, recorded in the ledger (default: $USER)")
      ->envname("REFX_OPERATOR");

  // dev-pki
  auto* dev = app.add_subcommand("dev-pki", "Make a development PKI: CAs, server and every agency certificate");
  dev->footer(kDevPkiFooter);
  std::string dev_dir;
  std::vector<std::string> dev_dns;
  int dev_days = 90;
  bool dev_force = false;
  dev->add_option("DIR", dev_dir, "Directory to write (created)")->required();
  dev->add_option("--server-dns", dev_dns, "DNS names for the server certificate (default: localhost)");
  dev->add_option("--days", dev_days, "Lifetime of the leaf certificates, days")
      ->check(CLI::Range(1, 366))
      ->capture_default_str();
  dev->add_flag("--force", dev_force, "Replace an existing PKI in DIR");

  // ca init
  auto* ca = app.add_subcommand("ca", "The partnership CA itself");
  ca->require_subcommand(1);
  auto* init = ca->add_subcommand("init", "Create the root and agency issuing CA, the ledger and an empty list");
  init->footer(R"(
Creates DIR (mode 0700) with an offline root CA and an online agency issuing CA
(pathlen 0, clientAuth only, name-constrained to the registry's trust domain),
ECDSA P-256, each key encrypted with its own passphrase (root, then issuing;
each asked twice at a prompt; they must differ).
Refuses to touch a directory that already holds a CA.

Example:
  refx-admin ca init /srv/refx-ca --partnership config/partnership.yaml)");
  std::string init_dir, organization;
  int root_days = 3650, ca_days = 1825;
  init->add_option("DIR", init_dir, "CA directory to create")->required();
  init->add_option("--organization", organization, "O= of the CA names (default: \"refx ID partnership\")");
  init->add_option("--root-days", root_days, "Root CA lifetime, days")->check(CLI::Range(365, 7300))
      ->capture_default_str();
  init->add_option("--ca-days", ca_days, "Issuing CA lifetime, days")->check(CLI::Range(90, 3650))
      ->capture_default_str();

  // server issue
  IssueFlags server_flags;
  auto* server = app.add_subcommand("server", "Server certificates (signed by the root)");
  server->require_subcommand(1);
  auto* server_issue = server->add_subcommand("issue", "Issue refx-server's certificate (serverAuth)");
  server_issue->footer(R"(
Needs the root key. Writes OUT.pem and, unless --csr, OUT.key (0600).

Example:
  refx-admin --ca-dir /srv/refx-ca server issue --dns refx.llr.example --ip 10.0.0.5 --out server)");
  server_issue->add_option("--dns", server_flags.dns, "DNS name (repeat; the first is the CN)")->required();
  server_issue->add_option("--ip", server_flags.ips, "IP address SAN (repeat)");
  auto* server_csr = server_issue->add_option("--csr", server_flags.csr, "Certify the key of this CSR");
  server_issue->add_flag("--generate-key", server_flags.generate_key, "Generate the key (default without --csr)")
      ->excludes(server_csr);
  server_issue->add_option("--days", server_flags.days, "Lifetime, days")->check(CLI::Range(1, 366))
      ->capture_default_str();
  server_issue->add_option("--out", server_flags.out, "Output name without .pem (default: server)");
  server_issue->add_flag("--force", server_flags.force, "Replace existing output files");

  // agency issue / renew / revoke
  auto* agency = app.add_subcommand("agency", "Agency client certificates");
  agency->require_subcommand(1);
  IssueFlags issue_flags;
  const char* kIssueFooter = R"(
Subject and URI SAN come from the partnership registry, never from the CSR;
the CSR's signature is checked (proof of possession). Profile: KU
digitalSignature, EKU clientAuth, CA:FALSE, SKI/AKI, exactly one URI SAN
spiffe://<trust-domain>/agency/ID. Every certificate is verified against the
real chain and recorded in the ledger before it is written.

Examples:
  refx-admin --ca-dir /srv/refx-ca agency issue --agency blaby-district-council --csr blaby.csr
  refx-admin --ca-dir /srv/refx-ca agency issue --agency blaby-district-council --generate-key --days 30)";
  auto add_issue_flags = [](CLI::App* cmd, IssueFlags* f) {
    cmd->add_option("--agency", f->agency, "Agency id from the registry")->required();
    auto* csr = cmd->add_option("--csr", f->csr, "The agency's CSR (PEM)");
    auto* gen = cmd->add_flag("--generate-key", f->generate_key, "Generate the key here instead (written 0600)");
    csr->excludes(gen);
    cmd->add_option("--days", f->days, "Lifetime, days (max 366)")->check(CLI::Range(1, 366))
        ->capture_default_str();
    cmd->add_option("--out", f->out, "Certificate chain file (default: ID.pem; key beside it as ID.key)");
    cmd->add_flag("--force", f->force, "Replace existing output files");
  };
  auto* agency_issue = agency->add_subcommand("issue", "Issue an agency certificate from its CSR");
  add_issue_flags(agency_issue, &issue_flags);
  agency_issue->footer(kIssueFooter);
  IssueFlags renew_flags;
  auto* agency_renew = agency->add_subcommand("renew", "Issue the next certificate of an agency (new key)");
  add_issue_flags(agency_renew, &renew_flags);
  agency_renew->add_flag("--revoke-previous", renew_flags.revoke_previous,
                         "Revoke the agency's earlier certificates now (superseded)");
  agency_renew->footer(R"(
Like `agency issue`, for an agency that already has a valid certificate. The
old one stays valid (overlap) until you revoke it, or at once with
--revoke-previous.)");
  auto* agency_revoke = agency->add_subcommand("revoke", "Revoke certificates and publish list and CRL");
  std::vector<std::string> revoke_serials;
  std::string revoke_agency, revoke_reason;
  auto* serial_opt = agency_revoke->add_option("--serial", revoke_serials, "Serial (hex; repeat)");
  auto* agency_opt = agency_revoke->add_option("--agency", revoke_agency, "Every unrevoked certificate of ID");
  serial_opt->excludes(agency_opt);
  agency_revoke->add_option("--reason", revoke_reason,
                            "unspecified, key-compromise, ca-compromise, affiliation-changed, superseded, "
                            "cessation-of-operation, privilege-withdrawn")
      ->required();
  agency_revoke->footer(R"(
The ledger is written first, then the signed revocation list (atomically) and a
new CRL (next free <hash>.rN). If interrupted, any later command holding the key
(or `crl publish`) completes the publication.

Examples:
  refx-admin --ca-dir /srv/refx-ca agency revoke --serial 5A1F... --reason key-compromise
  refx-admin --ca-dir /srv/refx-ca agency revoke --agency charnwood-borough-council --reason affiliation-changed)");

  // cert list
  auto* cert = app.add_subcommand("cert", "The issuance ledger");
  cert->require_subcommand(1);
  auto* cert_list = cert->add_subcommand("list", "List issued certificates, newest first");
  std::string list_agency, list_kind, list_expiring, list_output = "table";
  cert_list->add_option("--agency", list_agency, "Only this agency (or server name)");
  cert_list->add_option("--kind", list_kind, "agency, server, issuing-ca or root-ca");
  cert_list->add_option("--expiring-within", list_expiring, "Only valid ones ending within, e.g. 30d");
  cert_list->add_option("--output", list_output, "table or json")->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();

  // crl publish
  auto* crl = app.add_subcommand("crl", "Revocation list and CRL publication");
  crl->require_subcommand(1);
  auto* crl_publish = crl->add_subcommand("publish", "Publish the list and a new CRL from the ledger");
  std::string validity = "30d";
  crl_publish->add_option("--validity", validity, "How long they stay valid (e.g. 30d)")->capture_default_str();
  crl_publish->footer(R"(
Run it at least weekly (cron): when the list's next-update passes, refx-server
refuses every agency (fail closed). It also completes an interrupted revocation.)");

  auto* log = app.add_subcommand("log", "The hash-chained action log");
  log->require_subcommand(1);
  auto* log_verify = log->add_subcommand("verify", "Recompute the chain; fails if any entry was altered");

  refx::admin::GovernanceCommands governance(&app);
  refx::admin::StorageCommands storage_commands(&app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);  // prints help (0) or the usage error
    return rc == 0 ? 0 : kUsage;
  }
  if (std::optional<int> rc = governance.RunIfParsed()) return *rc;
  if (std::optional<int> rc = storage_commands.RunIfParsed()) return *rc;
  auto needs_key_source = [](const IssueFlags& f, CLI::App* cmd) {
    if (f.csr.empty() && !f.generate_key) {
      std::fprintf(stderr, "refx-admin: %s: pass --csr FILE or --generate-key\n", cmd->get_name().c_str());
      return false;
    }
    return true;
  };
  if (dev->parsed()) return RunDevPki(dev_dir, g.partnership, dev_dns, dev_days, dev_force);
  if (init->parsed()) return RunCaInit(g, init_dir, organization, root_days, ca_days);
  if (server_issue->parsed()) return RunServerIssue(g, server_flags);
  if (agency_issue->parsed()) {
    return needs_key_source(issue_flags, agency_issue) ? RunAgencyIssue(g, issue_flags, false) : kUsage;
  }
  if (agency_renew->parsed()) {
    return needs_key_source(renew_flags, agency_renew) ? RunAgencyIssue(g, renew_flags, true) : kUsage;
  }
  if (agency_revoke->parsed()) {
    if (revoke_serials.empty() && revoke_agency.empty()) {
      std::fprintf(stderr, "refx-admin: agency revoke: pass --serial S or --agency ID\n");
      return kUsage;
    }
    return RunRevoke(g, revoke_serials, revoke_agency, revoke_reason);
  }
  if (cert_list->parsed()) return RunCertList(g, list_agency, list_kind, list_expiring, list_output);
  if (crl_publish->parsed()) return RunCrlPublish(g, validity);
  if (log_verify->parsed()) return RunLogVerify(g);
  return kUsage;
}
