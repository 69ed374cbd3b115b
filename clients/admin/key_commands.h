// refx-admin's `keys rotate` and `keys reencrypt`: a new data key for
// encryption at rest, and every stored value moved to it
// (storage/value_cipher.h), on the server's own database through its config
// and key files. On PostgreSQL both run beside the replicas, which pick the
// new key up within seconds; an SQLite database has one writer at a time,
// so stop the server first. (The key-encryption key that wraps the data
// keys is rotated by configuration: docs/data-protection.md.)
#ifndef REFX_CLIENTS_ADMIN_KEY_COMMANDS_H_
#define REFX_CLIENTS_ADMIN_KEY_COMMANDS_H_

#include <optional>
#include <string>

namespace CLI {
class App;
}  // namespace CLI

namespace refx::admin {

class KeyCommands {
 public:
  // Adds `keys rotate` and `keys reencrypt` to `app`, which must outlive
  // this object.
  explicit KeyCommands(CLI::App* app);

  // The exit code of the command parsed, if one of these was: 0 done; 1
  // refused or failed (or, for reencrypt, values still under an older key
  // after its last pass); 2 unusable arguments.
  std::optional<int> RunIfParsed() const;

 private:
  int RunRotate() const;
  int RunReencrypt() const;

  CLI::App* rotate_ = nullptr;
  CLI::App* reencrypt_ = nullptr;
  std::string config_file_;
  int page_size_ = 200;
  std::string output_ = "table";
};

}  // namespace refx::admin

#endif  // REFX_CLIENTS_ADMIN_KEY_COMMANDS_H_
