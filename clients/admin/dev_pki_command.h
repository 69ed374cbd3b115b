// refx-admin's `dev-pki`: a throwaway PKI for development and tests (CAs,
// server and every agency certificate, client profiles and an empty
// revocation list), made from the partnership registry of --partnership.
#ifndef REFX_CLIENTS_ADMIN_DEV_PKI_COMMAND_H_
#define REFX_CLIENTS_ADMIN_DEV_PKI_COMMAND_H_

#include <optional>
#include <string>
#include <vector>

#include "clients/admin/admin_common.h"

namespace CLI {
class App;
}  // namespace CLI

namespace refx::admin {

class DevPkiCommand {
 public:
  // Adds `dev-pki` to `app`. Both `app` and `globals` must outlive this
  // object; `globals` is read only when the command runs.
  DevPkiCommand(CLI::App* app, const GlobalOptions* globals);

  // The exit code of `dev-pki` if it was parsed.
  std::optional<int> RunIfParsed() const;

 private:
  CLI::App* command_ = nullptr;
  const GlobalOptions* globals_ = nullptr;
  std::string dir_;
  std::vector<std::string> dns_;
  int days_ = 90;
  bool force_ = false;
};

}  // namespace refx::admin

#endif  // REFX_CLIENTS_ADMIN_DEV_PKI_COMMAND_H_
