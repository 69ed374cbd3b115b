// refx-admin's `backup` and `restore` of a SQLite database: a consistent
// copy while the server runs (SQLite's online backup API), the audit chain
// verified on the copy; a restore that never overwrites a database, checks
// the backup's chain before and the restored file's chain after. PostgreSQL
// is backed up with pg_dump (docs/operations.md).
#ifndef REFX_CLIENTS_ADMIN_BACKUP_COMMANDS_H_
#define REFX_CLIENTS_ADMIN_BACKUP_COMMANDS_H_

#include <optional>
#include <string>

namespace CLI {
class App;
}  // namespace CLI

namespace refx::admin {

class BackupCommands {
 public:
  // Adds `backup` and `restore` to `app`, which must outlive this object.
  explicit BackupCommands(CLI::App* app);

  // The exit code of the command parsed, if one was: 0 done and verified;
  // 1 refused or failed (nothing left behind); 2 unusable arguments.
  std::optional<int> RunIfParsed() const;

 private:
  int RunBackup() const;
  int RunRestore() const;

  CLI::App* backup_ = nullptr;
  CLI::App* restore_ = nullptr;
  std::string database_;
  std::string out_;
  std::string from_;
  std::string public_key_file_;
  std::string output_ = "table";
};

}  // namespace refx::admin

#endif  // REFX_CLIENTS_ADMIN_BACKUP_COMMANDS_H_
