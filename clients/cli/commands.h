// The `refx` subcommands (whoami, create, get, list, the lifecycle verbs, update,
// updates, subject-notify, audit, ...): their flags, and the code that turns parsed flags into one
// ReferralClient call and its output.
//
// Flags exist only in the commands files (commands_internal.h lists them) and
// main.cc; everything below works on ConnectionOptions and protos. Commands
// return the process exit code (see output.h) and never throw: every failure
// is printed to stderr in the format chosen by --output.
#ifndef REFX_CLIENTS_CLI_COMMANDS_H_
#define REFX_CLIENTS_CLI_COMMANDS_H_

#include <map>
#include <memory>
#include <string>

namespace CLI {
class App;
}  // namespace CLI

namespace refx::cli {

struct CommandLine;  // Flag storage, defined in commands_internal.h.

class Commands {
 public:
  // Adds the global options, the subcommands and their help footers to
  // `app`, which must outlive this object.
  explicit Commands(CLI::App* app);
  ~Commands();
  Commands(const Commands&) = delete;
  Commands& operator=(const Commands&) = delete;

  // Runs the subcommand `app` parsed. `env` is the process environment
  // (REFX_* variables) and `home` is $HOME, for the default profile file.
  int Run(const std::map<std::string, std::string>& env, const std::string& home);

 private:
  CLI::App* app_;
  std::unique_ptr<CommandLine> flags_;
};

}  // namespace refx::cli

#endif  // REFX_CLIENTS_CLI_COMMANDS_H_
