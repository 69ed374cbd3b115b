// The CA commands of ca_commands.h: their flags and help, which command was
// parsed, and the commands that manage the CA itself (init), its
// revocations and its ledger. Issuing lives in certificate_issuing.cc.
#include "clients/admin/ca_commands.h"

#include <unistd.h>

#include <cstdio>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "auth/pki/revocation_list.h"
#include "clients/admin/ca_access.h"
#include "common/json_text.h"

namespace refx::admin {
namespace {

using refx::pki::PartnershipCa;

// ---------------------------------------------------------------- ca init

int RunCaInit(const GlobalOptions& g, const std::string& dir, std::string organization, int root_days, int ca_days) {
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

// ---------------------------------------------------------------- revoke

int RunRevoke(const GlobalOptions& g, const std::vector<std::string>& serials_in, const std::string& agency,
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

int RunCertList(const GlobalOptions& g, const std::string& agency, const std::string& kind,
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

int RunCrlPublish(const GlobalOptions& g, const std::string& validity_text) {
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

int RunLogVerify(const GlobalOptions& g) {
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

CaCommands::CaCommands(CLI::App* app, const GlobalOptions* globals) : globals_(globals) {
  // ca init
  auto* ca = app->add_subcommand("ca", "The partnership CA itself");
  ca->require_subcommand(1);
  init_ = ca->add_subcommand("init", "Create the root and agency issuing CA, the ledger and an empty list");
  init_->footer(R"(
Creates DIR (mode 0700) with an offline root CA and an online agency issuing CA
(pathlen 0, clientAuth only, name-constrained to the registry's trust domain),
ECDSA P-256, each key encrypted with its own passphrase (root, then issuing;
each asked twice at a prompt; they must differ).
Refuses to touch a directory that already holds a CA.

Example:
  refx-admin ca init /srv/refx-ca --partnership config/partnership.yaml)");
  init_->add_option("DIR", init_dir_, "CA directory to create")->required();
  init_->add_option("--organization", organization_, "O= of the CA names (default: \"refx ID partnership\")");
  init_->add_option("--root-days", root_days_, "Root CA lifetime, days")->check(CLI::Range(365, 7300))
      ->capture_default_str();
  init_->add_option("--ca-days", ca_days_, "Issuing CA lifetime, days")->check(CLI::Range(90, 3650))
      ->capture_default_str();

  // server issue
  auto* server = app->add_subcommand("server", "Server certificates (signed by the root)");
  server->require_subcommand(1);
  server_issue_ = server->add_subcommand("issue", "Issue refx-server's certificate (serverAuth)");
  server_issue_->footer(R"(
Needs the root key. Writes OUT.pem and, unless --csr, OUT.key (0600).

Example:
  refx-admin --ca-dir /srv/refx-ca server issue --dns refx.llr.example --ip 10.0.0.5 --out server)");
  server_issue_->add_option("--dns", server_flags_.dns, "DNS name (repeat; the first is the CN)")->required();
  server_issue_->add_option("--ip", server_flags_.ips, "IP address SAN (repeat)");
  auto* server_csr = server_issue_->add_option("--csr", server_flags_.csr, "Certify the key of this CSR");
  server_issue_->add_flag("--generate-key", server_flags_.generate_key, "Generate the key (default without --csr)")
      ->excludes(server_csr);
  server_issue_->add_option("--days", server_flags_.days, "Lifetime, days")->check(CLI::Range(1, 366))
      ->capture_default_str();
  server_issue_->add_option("--out", server_flags_.out,
                            "Certificate file; .pem is added if missing, the key goes beside it as NAME.key "
                            "(default: server.pem)");
  server_issue_->add_flag("--force", server_flags_.force, "Replace existing output files");

  // agency issue / renew / revoke
  auto* agency = app->add_subcommand("agency", "Agency client certificates");
  agency->require_subcommand(1);
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
    cmd->add_option("--out", f->out,
                    "Certificate chain file; .pem is added if missing, the key goes beside it as NAME.key "
                    "(default: ID.pem)");
    cmd->add_flag("--force", f->force, "Replace existing output files");
  };
  agency_issue_ = agency->add_subcommand("issue", "Issue an agency certificate from its CSR");
  add_issue_flags(agency_issue_, &issue_flags_);
  agency_issue_->footer(kIssueFooter);
  agency_renew_ = agency->add_subcommand("renew", "Issue the next certificate of an agency (new key)");
  add_issue_flags(agency_renew_, &renew_flags_);
  agency_renew_->add_flag("--revoke-previous", renew_flags_.revoke_previous,
                          "Revoke the agency's earlier certificates now (superseded)");
  agency_renew_->footer(R"(
Like `agency issue`, for an agency that already has a valid certificate. The
old one stays valid (overlap) until you revoke it, or at once with
--revoke-previous.)");
  agency_revoke_ = agency->add_subcommand("revoke", "Revoke certificates and publish list and CRL");
  auto* serial_opt = agency_revoke_->add_option("--serial", revoke_serials_, "Serial (hex; repeat)");
  auto* agency_opt = agency_revoke_->add_option("--agency", revoke_agency_, "Every unrevoked certificate of ID");
  serial_opt->excludes(agency_opt);
  agency_revoke_->add_option("--reason", revoke_reason_,
                             "unspecified, key-compromise, ca-compromise, affiliation-changed, superseded, "
                             "cessation-of-operation, privilege-withdrawn")
      ->required();
  agency_revoke_->footer(R"(
The ledger is written first, then the signed revocation list (atomically) and a
new CRL (next free <hash>.rN). If interrupted, any later command holding the key
(or `crl publish`) completes the publication.

Examples:
  refx-admin --ca-dir /srv/refx-ca agency revoke --serial 5A1F... --reason key-compromise
  refx-admin --ca-dir /srv/refx-ca agency revoke --agency charnwood-borough-council --reason affiliation-changed)");

  // cert list
  auto* cert = app->add_subcommand("cert", "The issuance ledger");
  cert->require_subcommand(1);
  cert_list_ = cert->add_subcommand("list", "List issued certificates, newest first");
  cert_list_->add_option("--agency", list_agency_, "Only this agency (or server name)");
  cert_list_->add_option("--kind", list_kind_, "agency, server, issuing-ca or root-ca");
  cert_list_->add_option("--expiring-within", list_expiring_, "Only valid ones ending within, e.g. 30d");
  cert_list_->add_option("--output", list_output_, "table or json")->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();

  // crl publish
  auto* crl = app->add_subcommand("crl", "Revocation list and CRL publication");
  crl->require_subcommand(1);
  crl_publish_ = crl->add_subcommand("publish", "Publish the list and a new CRL from the ledger");
  crl_publish_->add_option("--validity", validity_, "How long they stay valid (e.g. 30d)")->capture_default_str();
  crl_publish_->footer(R"(
Run it at least weekly (cron): when the list's next-update passes, refx-server
refuses every agency (fail closed). It also completes an interrupted revocation.)");

  auto* log = app->add_subcommand("log", "The hash-chained action log");
  log->require_subcommand(1);
  log_verify_ = log->add_subcommand("verify", "Recompute the chain; fails if any entry was altered");
}

std::optional<int> CaCommands::RunIfParsed() const {
  const GlobalOptions& g = *globals_;
  auto needs_key_source = [](const IssueFlags& f, CLI::App* cmd) {
    if (f.csr.empty() && !f.generate_key) {
      std::fprintf(stderr, "refx-admin: %s: pass --csr FILE or --generate-key\n", cmd->get_name().c_str());
      return false;
    }
    return true;
  };
  if (init_->parsed()) return RunCaInit(g, init_dir_, organization_, root_days_, ca_days_);
  if (server_issue_->parsed()) return RunServerIssue(g, server_flags_);
  if (agency_issue_->parsed()) {
    return needs_key_source(issue_flags_, agency_issue_) ? RunAgencyIssue(g, issue_flags_, false) : kUsage;
  }
  if (agency_renew_->parsed()) {
    return needs_key_source(renew_flags_, agency_renew_) ? RunAgencyIssue(g, renew_flags_, true) : kUsage;
  }
  if (agency_revoke_->parsed()) {
    if (revoke_serials_.empty() && revoke_agency_.empty()) {
      std::fprintf(stderr, "refx-admin: agency revoke: pass --serial S or --agency ID\n");
      return kUsage;
    }
    return RunRevoke(g, revoke_serials_, revoke_agency_, revoke_reason_);
  }
  if (cert_list_->parsed()) return RunCertList(g, list_agency_, list_kind_, list_expiring_, list_output_);
  if (crl_publish_->parsed()) return RunCrlPublish(g, validity_);
  if (log_verify_->parsed()) return RunLogVerify(g);
  return std::nullopt;
}

}  // namespace refx::admin
