// refx-admin's `regime migrate`: moves the referrals made under a recording
// regime the agreement says is replaced (`regime_successions`) under its
// successor, erasing their subject data if the partnership decided PURGE
// (core/regime_migration.h, docs/adr/0009-recording-regime-succession.md).
// It works on the database with the server's own config and key files; an
// SQLite database has one writer at a time (stop the server first), while
// PostgreSQL may be migrated beside running replicas (a referral changed
// meanwhile is left for the next run). `--preview` changes nothing.
#ifndef REFX_CLIENTS_ADMIN_REGIME_COMMANDS_H_
#define REFX_CLIENTS_ADMIN_REGIME_COMMANDS_H_

#include <optional>
#include <string>

namespace CLI {
class App;
}  // namespace CLI

namespace refx::admin {

class RegimeCommands {
 public:
  // Adds `regime migrate` to `app`, which must outlive this object.
  explicit RegimeCommands(CLI::App* app);

  // The exit code of `regime migrate` if it was parsed: 0 previewed, or
  // migrated with nothing left; 3 migrated but referrals were left (held,
  // changed meanwhile, or for a newer version: run again); 1 refused or
  // failed; 2 unusable arguments.
  std::optional<int> RunIfParsed() const;

 private:
  int RunMigrate() const;

  CLI::App* migrate_ = nullptr;
  std::string config_file_;
  bool preview_ = false;
  std::string output_ = "table";
};

}  // namespace refx::admin

#endif  // REFX_CLIENTS_ADMIN_REGIME_COMMANDS_H_
