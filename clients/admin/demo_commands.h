// refx-admin's `demo seed`: fills an empty development database with
// synthetic referrals (clients/admin/demo_seed.h) through the same core the
// server runs, using the server's own config file and key files, so the
// server then opens it as its own.
#ifndef REFX_CLIENTS_ADMIN_DEMO_COMMANDS_H_
#define REFX_CLIENTS_ADMIN_DEMO_COMMANDS_H_

#include <cstdint>
#include <optional>
#include <string>

namespace CLI {
class App;
}  // namespace CLI

namespace refx::admin {

class DemoCommands {
 public:
  // Adds `demo seed` to `app`, which must outlive this object.
  explicit DemoCommands(CLI::App* app);

  // The exit code of `demo seed` if it was parsed: 0 seeded; 1 refused or
  // failed; 2 unusable arguments.
  std::optional<int> RunIfParsed() const;

 private:
  int RunSeed() const;

  CLI::App* seed_ = nullptr;
  std::string config_file_;
  int referrals_ = 5000;
  int months_ = 18;
  uint64_t seed_value_ = 1;
  std::string end_;  // RFC 3339; default now
  std::string output_ = "table";
};

}  // namespace refx::admin

#endif  // REFX_CLIENTS_ADMIN_DEMO_COMMANDS_H_
