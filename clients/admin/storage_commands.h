// refx-admin's storage commands: `storage copy`, which moves a
// partnership's database from SQLite to PostgreSQL (storage/store_copy.h),
// verifying the audit chain on both sides and refusing a non-empty target.
#ifndef REFX_CLIENTS_ADMIN_STORAGE_COMMANDS_H_
#define REFX_CLIENTS_ADMIN_STORAGE_COMMANDS_H_

#include <optional>
#include <string>

namespace CLI {
class App;
}  // namespace CLI

namespace refx::admin {

class StorageCommands {
 public:
  // Adds `storage copy` to `app`, which must outlive this object.
  explicit StorageCommands(CLI::App* app);

  // The exit code of `storage copy` if it was parsed: 0 copied and
  // verified; 1 refused or failed (nothing copied); 2 unusable arguments.
  std::optional<int> RunIfParsed() const;

 private:
  int RunCopy() const;

  CLI::App* copy_ = nullptr;
  std::string from_;
  std::string to_;
  std::string password_file_;
  std::string sslmode_ = "verify-full";
  std::string sslrootcert_;
  std::string public_key_file_;
  std::string output_ = "table";
};

}  // namespace refx::admin

#endif  // REFX_CLIENTS_ADMIN_STORAGE_COMMANDS_H_
