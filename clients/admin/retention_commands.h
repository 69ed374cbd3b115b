// refx-admin's `retention preview`: what the server's retention job
// (core/retention.h) will erase, read from the database with the server's own
// config and key files, for an operator or DPO without a certificate of the
// data protection officer's role (who asks the server: `refx retention
// preview`). An SQLite database has one writer at a time: stop the server
// first; PostgreSQL may be previewed while replicas run.
#ifndef REFX_CLIENTS_ADMIN_RETENTION_COMMANDS_H_
#define REFX_CLIENTS_ADMIN_RETENTION_COMMANDS_H_

#include <optional>
#include <string>

namespace CLI {
class App;
}  // namespace CLI

namespace refx::admin {

class RetentionCommands {
 public:
  // Adds `retention preview` to `app`, which must outlive this object.
  explicit RetentionCommands(CLI::App* app);

  // The exit code of `retention preview` if it was parsed: 0 listed; 1
  // refused or failed; 2 unusable arguments.
  std::optional<int> RunIfParsed() const;

 private:
  int RunPreview() const;

  CLI::App* preview_ = nullptr;
  std::string config_file_;
  int within_days_ = 0;
  std::string output_ = "table";
};

}  // namespace refx::admin

#endif  // REFX_CLIENTS_ADMIN_RETENTION_COMMANDS_H_
