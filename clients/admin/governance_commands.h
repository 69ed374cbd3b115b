// refx-admin's information-governance commands: check an agreement file
// before it is deployed, print the "who sees what" table from it, and verify
// a server's audit chain offline from its database (a SQLite file or a
// PostgreSQL database), its signed head included, and against a checkpoint
// taken earlier.
#ifndef REFX_CLIENTS_ADMIN_GOVERNANCE_COMMANDS_H_
#define REFX_CLIENTS_ADMIN_GOVERNANCE_COMMANDS_H_

#include <optional>
#include <string>

#include "refx/config/v1/server_config.pb.h"

namespace CLI {
class App;
}  // namespace CLI

namespace refx::admin {

class GovernanceCommands {
 public:
  // Adds `agreement check`, `agreement table`, `audit verify` and
  // `audit checkpoint` to `app`,
  // which must outlive this object.
  explicit GovernanceCommands(CLI::App* app);

  // The exit code of the governance command that was parsed, if one was:
  // 0 good; 1 a failed check or a broken chain; 2 unreadable input.
  std::optional<int> RunIfParsed() const;

 private:
  // `audit verify` and `audit checkpoint`.
  int RunAudit() const;
  // --password-file, --sslmode, --sslrootcert (for --db postgres:DSN).
  void AddPostgresOptions(CLI::App* command);
  // The storage settings --db and those options name.
  config::v1::StorageConfig DatabaseConfig() const;

  CLI::App* agreement_check_ = nullptr;
  CLI::App* agreement_table_ = nullptr;
  CLI::App* audit_verify_ = nullptr;
  CLI::App* audit_checkpoint_ = nullptr;
  std::string agreement_file_ = "config/agreement.yaml";
  std::string partnership_file_ = "config/partnership.yaml";
  std::string database_;
  std::string password_file_, sslmode_ = "verify-full", sslrootcert_;
  std::string output_ = "table";
  std::string public_key_file_;
  std::string checkpoint_file_;
  std::string checkpoint_out_;
};

}  // namespace refx::admin

#endif  // REFX_CLIENTS_ADMIN_GOVERNANCE_COMMANDS_H_
