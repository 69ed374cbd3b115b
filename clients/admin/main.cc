// refx-admin: the partnership administrator's tool. This version makes the
// development PKI; issuing, renewing and revoking production certificates
// (with an issuance ledger) is the PKI issue's work.
#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "auth/pki/dev_pki.h"
#include "common/yaml_proto.h"
#include "core/partnership.h"

namespace {

constexpr char kDevPkiFooter[] = R"(
Writes a throwaway PKI for development and tests, with the production
certificate profiles (ECDSA P-256, agency URI SANs, name constraints):
  DIR/root-ca.pem          give clients this (--ca-file) to trust the server
  DIR/agency-ca.pem        the server's client-trust bundle (tls.client_ca_file)
  DIR/server.pem, .key     the server certificate (localhost, 127.0.0.1, ::1)
  DIR/agencies/ID.pem,.key one certificate per agency of the partnership
  DIR/profiles.yaml        a `refx --config` profile per agency
The CA keys are not kept: rerun with --force to rebuild it all.
Never use a development PKI in production.

Example:
  refx-admin dev-pki dev-pki --partnership config/partnership.yaml)";

int RunDevPki(const std::string& dir, const std::string& partnership_path, const std::vector<std::string>& dns,
              int days, bool force) {
  auto partnership = refx::core::Partnership::Load(partnership_path);
  if (!partnership.ok()) {
    std::fprintf(stderr, "refx-admin: %s\n", std::string(partnership.status().message()).c_str());
    return 1;
  }
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
  auto result = refx::pki::WriteDevelopmentPki(options);
  if (!result.ok()) {
    std::fprintf(stderr, "refx-admin: dev-pki: %s\n", std::string(result.status().message()).c_str());
    if (result.status().code() == absl::StatusCode::kFailedPrecondition) {
      std::fprintf(stderr, "  (use --force to replace it)\n");
    }
    return 1;
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
  absl::Status written = refx::pki::WriteFileAtomically(dir + "/profiles.yaml", profiles, 0644);
  if (!written.ok()) {
    std::fprintf(stderr, "refx-admin: dev-pki: %s\n", std::string(written.message()).c_str());
    return 1;
  }
  std::printf("Development PKI for partnership %s (trust domain %s) written to %s:\n",
              (*partnership)->id().c_str(), options.trust_domain.c_str(), dir.c_str());
  std::printf("  root-ca.pem, agency-ca.pem, server.pem/.key and %zu agency certificates (valid %d days)\n",
              options.agencies.size(), days);
  std::printf("  and %s/profiles.yaml, a refx client profile per agency\n", dir.c_str());
  std::printf("\nNext:\n  refx-server --config config/dev-server.yaml\n"
              "  refx --config %s/profiles.yaml --profile %s whoami\n",
              dir.c_str(), options.agencies[0].id.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"refx-admin: run the partnership's certificate authority"};
  app.require_subcommand(1);
  auto* dev = app.add_subcommand("dev-pki", "Make a development PKI: CAs, server and every agency certificate");
  dev->footer(kDevPkiFooter);
  std::string dir, partnership = "config/partnership.yaml";
  std::vector<std::string> dns;
  int days = 90;
  bool force = false;
  dev->add_option("DIR", dir, "Directory to write (created)")->required();
  dev->add_option("--partnership", partnership, "Partnership registry file")->capture_default_str();
  dev->add_option("--server-dns", dns, "DNS names for the server certificate (default: localhost)");
  dev->add_option("--days", days, "Lifetime of the leaf certificates, days")->check(CLI::Range(1, 366))
      ->capture_default_str();
  dev->add_flag("--force", force, "Replace an existing PKI in DIR");
  app.set_version_flag("--version", "refx-admin 0.1.0");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);  // prints help (0) or the usage error
    return rc == 0 ? 0 : 2;      // usage errors are exit code 2, as documented
  }
  if (dev->parsed()) return RunDevPki(dir, partnership, dns, days, force);
  return 2;
}
