// Setting up and removing what one refx-bench run works in; see
// run_environment.h.
#include "bench/run_environment.h"

#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "auth/pki/certificate_authority.h"
#include "auth/pki/dev_pki.h"
#include "auth/pki/revocation_list.h"

namespace refx::bench {

absl::StatusOr<std::unique_ptr<TempDir>> TempDir::Create() {
  const char* base = getenv("TMPDIR");
  std::string pattern = absl::StrCat(base != nullptr && *base != '\0' ? base : "/tmp", "/refx-bench-XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot create ", pattern));
  }
  return std::unique_ptr<TempDir>(new TempDir(pattern));
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

absl::Status WriteText(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  return std::fclose(f) == 0 && ok ? absl::OkStatus() : absl::UnavailableError(absl::StrCat("cannot write ", path));
}

absl::StatusOr<std::string> ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::Status WriteOutput(const OutputOptions& output, const std::string& table, const std::string& json) {
  const std::string& text = output.format == "json" ? json : table;
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  return output.json_file.empty() ? absl::OkStatus() : WriteText(output.json_file, json);
}

absl::StatusOr<refx::pki::DevPki> WriteThrowawayPki(const refx::core::Partnership& partnership,
                                                    const std::string& directory) {
  refx::pki::DevPkiOptions pki_options;
  pki_options.directory = directory;
  pki_options.trust_domain = partnership.trust_domain();
  for (const auto& agency : partnership.config().agencies()) {
    pki_options.agencies.push_back(
        {agency.id(), absl::AsciiStrToLower(refx::config::v1::AgencyType_Name(agency.type()))});
  }
  auto pki = refx::pki::GenerateDevelopmentPki(pki_options);
  if (!pki.ok()) return pki.status();
  if (auto written = refx::pki::WriteDevelopmentPkiFiles(*pki, pki_options); !written.ok()) {
    return written.status();
  }
  if (auto s = PublishRevocationList(*pki, directory, 1); !s.ok()) return s;
  return pki;
}

absl::Status PublishRevocationList(const refx::pki::DevPki& pki, const std::string& directory, int64_t sequence) {
  refx::pki::RevocationList list;
  list.sequence = sequence;
  list.generated = absl::Now();
  list.next_update = absl::Now() + absl::Hours(24);
  auto text = refx::pki::SignRevocationList(list, pki.agency_ca, pki.agency_ca_key);
  if (!text.ok()) return text.status();
  return refx::pki::WriteFileAtomically(directory + "/revocations.txt", *text, 0644);
}

std::string ServerConfigYaml(const std::string& partnership_path, std::optional<std::string> agreement_path,
                             const std::string& server_log_level, int most_subscribers,
                             const std::string& storage_yaml) {
  // Servers that enforce an agreement need its file; older ones have no
  // such key, so it is written only when there is a file to name.
  if (!agreement_path.has_value()) {
    const std::filesystem::path beside =
        std::filesystem::absolute(partnership_path).parent_path() / "agreement.yaml";
    std::error_code ignored;
    agreement_path = std::filesystem::exists(beside, ignored) ? beside.string() : "";
  }
  return absl::StrCat(
      "# Written by refx-bench for one run.\n", "listen_address: 127.0.0.1:0\n",
      "partnership_file: ", std::filesystem::absolute(partnership_path).string(), "\n",
      agreement_path->empty()
          ? ""
          : absl::StrCat("agreement_file: ", std::filesystem::absolute(*agreement_path).string(), "\n"),
      "tls:\n  server_cert_file: pki/server.pem\n  server_key_file: pki/server.key\n",
      "  client_ca_file: pki/agency-ca.pem\n  revocation_list_file: pki/revocations.txt\n",
      storage_yaml,
      "logging:\n  level: ", server_log_level, "\n",
      // The server's default (20,000 watch streams) only when the tiers fit.
      // Every benchmark subscriber is one agency: its per-agency cap
      // (default 2,000) is raised to the tier, and said so in the output.
      absl::StrCat("watch:\n  max_subscribers_per_agency: ", std::max(most_subscribers + 100, 2000), "\n",
                   most_subscribers + 100 > 20000 ? absl::StrCat("  max_subscribers: ", most_subscribers + 100, "\n")
                                                  : ""));
}

absl::StatusOr<std::unique_ptr<ThrowawayPostgres>> ThrowawayPostgres::Start(const std::string& script) {
  const std::string command = absl::StrCat("/bin/bash '", script, "' start");
  FILE* out = popen(command.c_str(), "r");
  if (out == nullptr) return absl::UnavailableError(absl::StrCat("cannot run ", script));
  std::string text;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, out) != nullptr) text += buffer;
  const int rc = pclose(out);
  auto pg = std::unique_ptr<ThrowawayPostgres>(new ThrowawayPostgres());
  pg->script_ = script;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (!absl::ConsumePrefix(&line, "export ")) continue;
    std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
    if (kv.first == "REFX_TEST_POSTGRES_DIR") pg->directory_ = kv.second;
    if (kv.first == "REFX_TEST_POSTGRES_PORT") pg->port_ = kv.second;
    if (kv.first == "REFX_TEST_POSTGRES_PASSWORD_FILE") pg->password_file_ = kv.second;
  }
  if (rc != 0 || pg->directory_.empty()) {
    return absl::UnavailableError(absl::StrCat(script, " start failed (is the postgresql package installed?)"));
  }
  return pg;
}

ThrowawayPostgres::~ThrowawayPostgres() {
  const std::string command = absl::StrCat("/bin/bash '", script_, "' stop '", directory_, "'");
  if (std::system(command.c_str()) != 0) std::fprintf(stderr, "refx-bench: could not stop %s\n", directory_.c_str());
}

refx::config::v1::PostgresConfig ThrowawayPostgres::Config() const {
  refx::config::v1::PostgresConfig config;
  config.set_host(directory_);
  int port = 0;
  config.set_port(absl::SimpleAtoi(port_, &port) ? port : 0);
  config.set_user("refx");
  config.set_dbname("postgres");
  config.set_password_file(password_file_);
  config.set_sslmode("disable");
  config.set_pool_size(1);
  return config;
}

std::string ThrowawayPostgres::StorageYaml(const std::string& key_directory) const {
  return absl::StrCat("storage:\n  backend: postgres\n  sqlite_path: ", key_directory,
                      "/refx.db\n  postgres:\n    host: ", directory_,
                      "\n    port: ", port_, "\n    user: refx\n    dbname: postgres\n    password_file: ",
                      password_file_, "\n    sslmode: disable\n");
}

}  // namespace refx::bench
