// refx-server: the partnership referral exchange over mutual TLS.
// Flags are read here and nowhere else; they override the config file.
#include <signal.h>

#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "common/log.h"
#include "common/process_setup.h"
#include "server/grpc_log_bridge.h"
#include "server/server.h"
#include "server/server_config.h"
#include "storage/make_store.h"

namespace {

constexpr char kFooter[] = R"(
Configuration: a YAML file (schema proto/refx/config/v1/server_config.proto);
relative paths in it are resolved against its directory. Without --config the
defaults apply, relative to the current directory. Flags override the file.

Examples:
  refx-server --config config/dev-server.yaml
  refx-server --config /etc/refx/server.yaml --listen 0.0.0.0:50051
  refx-server --config /etc/refx/server.yaml --check-config

Exit codes: 0 clean shutdown (SIGTERM/SIGINT), 1 could not start, 2 usage.)";

}  // namespace

int main(int argc, char** argv) {
  refx::DisableMutexDeadlockDetection();
  CLI::App app{"refx-server: exchange hate-crime victim referrals between partnership agencies over mutual TLS"};
  app.footer(kFooter);
  std::string config_path, listen, sqlite_path, partnership_file, log_level, log_format;
  bool reflection = false, check_only = false;
  app.add_option("--config", config_path, "Server config file (YAML)")->check(CLI::ExistingFile);
  app.add_option("--listen", listen, "Listen address host:port (overrides listen_address)");
  app.add_option("--sqlite-path", sqlite_path, "SQLite database file (overrides storage.sqlite_path)");
  app.add_option("--partnership-file", partnership_file, "Partnership registry (overrides partnership_file)");
  app.add_flag("--enable-reflection", reflection, "Serve gRPC reflection (development only)");
  app.add_option("--log-level", log_level, "debug | info | warning | error");
  app.add_option("--log-format", log_format, "text | json");
  app.add_flag("--check-config", check_only, "Validate the configuration and exit");
  app.set_version_flag("--version", "refx-server 0.1.0");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);  // prints help (0) or the usage error
    return rc == 0 ? 0 : 2;      // usage errors are exit code 2, as documented
  }

  auto config = refx::server::LoadServerConfig(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "refx-server: %s\n", std::string(config.status().message()).c_str());
    return 1;
  }
  if (!listen.empty()) config->set_listen_address(listen);
  if (!sqlite_path.empty()) config->mutable_storage()->set_sqlite_path(sqlite_path);
  if (!partnership_file.empty()) config->set_partnership_file(partnership_file);
  if (reflection) config->mutable_development()->set_enable_reflection(true);
  if (!log_level.empty()) config->mutable_logging()->set_level(log_level);
  if (!log_format.empty()) config->mutable_logging()->set_format(log_format);

  refx::log::Level level;
  if (!refx::log::ParseLevel(config->logging().level(), &level)) {
    std::fprintf(stderr, "refx-server: logging.level: must be debug, info, warning or error\n");
    return 1;
  }
  const bool json = config->logging().format() == "json";
  refx::log::Configure(level, json ? refx::log::Format::kJson : refx::log::Format::kText);
  refx::server::RouteGrpcLogsToRefxLog();
  if (check_only) {
    absl::Status s = refx::server::ValidateServerConfig(*config);
    if (s.ok()) s = refx::core::Partnership::Load(config->partnership_file()).status();
    if (!s.ok()) {
      std::fprintf(stderr, "refx-server: %s\n", std::string(s.message()).c_str());
      return 1;
    }
    // Connects to (or opens) the database and says what it found.
    auto store = refx::storage::DescribeStore(config->storage());
    if (!store.ok()) {
      std::fprintf(stderr, "refx-server: %s\n", std::string(store.status().message()).c_str());
      return 1;
    }
    std::printf("%s\nconfiguration OK\n", store->c_str());
    return 0;
  }

  // Block the stop signals before any thread starts, so every thread inherits
  // the mask and only sigwait below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  refx::server::RefxServer::Options options;
  options.config = *config;
  auto server = refx::server::RefxServer::Start(std::move(options));
  if (!server.ok()) {
    if (json) {
      refx::log::Error("start_failed", {{"reason", std::string(server.status().message())}});
    } else {
      std::fprintf(stderr, "refx-server: cannot start: %s\n", std::string(server.status().message()).c_str());
    }
    return 1;
  }
  // In JSON mode stderr carries only JSON lines: the port is in the
  // server_started event (and here in a JSON line of its own).
  if (json) {
    refx::log::Announce("serving", {{"port", (*server)->port()}});
  } else {
    std::fprintf(stderr, "refx-server: serving on port %d (Ctrl-C to stop)\n", (*server)->port());
  }
  int received = 0;
  sigwait(&stop_signals, &received);
  refx::log::Info("signal_received", {{"signal", received == SIGTERM ? "SIGTERM" : "SIGINT"}});
  (*server)->Shutdown(absl::Seconds(config->limits().shutdown_grace_seconds()));
  return 0;
}
