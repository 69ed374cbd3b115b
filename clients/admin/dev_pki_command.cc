// The `dev-pki` command of dev_pki_command.h. The CA keys are discarded once
// the certificates are signed: a development PKI is rebuilt, never extended.
#include "clients/admin/dev_pki_command.h"

#include <unistd.h>

#include <cstdio>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "auth/pki/dev_pki.h"
#include "auth/pki/revocation_list.h"
#include "core/partnership.h"

namespace refx::admin {
namespace {

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

}  // namespace

DevPkiCommand::DevPkiCommand(CLI::App* app, const GlobalOptions* globals) : globals_(globals) {
  command_ = app->add_subcommand("dev-pki", "Make a development PKI: CAs, server and every agency certificate");
  command_->footer(kDevPkiFooter);
  command_->add_option("DIR", dir_, "Directory to write (created)")->required();
  command_->add_option("--server-dns", dns_, "DNS names for the server certificate (default: localhost)");
  command_->add_option("--days", days_, "Lifetime of the leaf certificates, days")
      ->check(CLI::Range(1, 366))
      ->capture_default_str();
  command_->add_flag("--force", force_, "Replace an existing PKI in DIR");
}

std::optional<int> DevPkiCommand::RunIfParsed() const {
  if (!command_->parsed()) return std::nullopt;
  return RunDevPki(dir_, globals_->partnership, dns_, days_, force_);
}

}  // namespace refx::admin
