// refx: the command-line client of the partnership referral exchange, for
// caseworkers without an integrated case system. Parses flags, then hands
// over to Commands; see commands.h.
#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <exception>
#include <iostream>
#include <map>
#include <string>

#include "CLI/CLI.hpp"
#include "clients/cli/commands.h"
#include "clients/cli/output.h"

extern char** environ;

namespace {

std::map<std::string, std::string> RefxEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string entry(*e);
    if (entry.rfind("REFX_", 0) != 0) continue;
    size_t eq = entry.find('=');
    if (eq != std::string::npos) env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  // The login name: the default acting person (the server records who acts
  // for calls that touch personal data). From the password database, not
  // $USER, which a service manager or CI may leave unset.
  if (const passwd* pw = getpwuid(getuid()); pw != nullptr && pw->pw_name != nullptr) {
    env["USER"] = pw->pw_name;
  }
  return env;
}

}  // namespace

int main(int argc, char** argv) {
  // gRPC logs handshake failures to stderr itself; refx explains them
  // instead. GRPC_VERBOSITY set by the user still wins.
  setenv("GRPC_VERBOSITY", "NONE", /*overwrite=*/0);
  try {
    CLI::App app("refx: send and look up hate-crime and hate-incident victim referrals "
                 "between partnership agencies, over mutual TLS.",
                 "refx");
    refx::cli::Commands commands(&app);
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      const int rc = app.exit(e);  // Prints help (rc 0) or the usage error.
      return rc == 0 ? refx::cli::kExitOk : refx::cli::kExitUsage;
    }
    const char* home = std::getenv("HOME");
    return commands.Run(RefxEnvironment(), home == nullptr ? "" : home);
  } catch (const std::exception& e) {
    std::cerr << "refx: INTERNAL: " << e.what() << "\n";
    return refx::cli::kExitError;
  }
}
