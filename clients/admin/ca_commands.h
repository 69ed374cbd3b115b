// refx-admin's certificate authority commands: `ca init`, `server issue`,
// `agency issue|renew|revoke`, `cert list`, `crl publish` and `log verify`,
// all run against the CA directory of --ca-dir (auth/pki/partnership_ca.h).
#ifndef REFX_CLIENTS_ADMIN_CA_COMMANDS_H_
#define REFX_CLIENTS_ADMIN_CA_COMMANDS_H_

#include <optional>
#include <string>
#include <vector>

#include "clients/admin/admin_common.h"
#include "clients/admin/certificate_issuing.h"

namespace CLI {
class App;
}  // namespace CLI

namespace refx::admin {

class CaCommands {
 public:
  // Adds `ca`, `server`, `agency`, `cert`, `crl` and `log` to `app`. Both
  // `app` and `globals` must outlive this object; `globals` is read only
  // when a command runs.
  CaCommands(CLI::App* app, const GlobalOptions* globals);

  // The exit code of the CA command that was parsed, if one was: 0 success,
  // 1 failure, 2 usage.
  std::optional<int> RunIfParsed() const;

 private:
  const GlobalOptions* globals_ = nullptr;

  CLI::App* init_ = nullptr;
  CLI::App* server_issue_ = nullptr;
  CLI::App* agency_issue_ = nullptr;
  CLI::App* agency_renew_ = nullptr;
  CLI::App* agency_revoke_ = nullptr;
  CLI::App* cert_list_ = nullptr;
  CLI::App* crl_publish_ = nullptr;
  CLI::App* log_verify_ = nullptr;

  // ca init
  std::string init_dir_, organization_;
  int root_days_ = 3650, ca_days_ = 1825;
  // server issue, agency issue, agency renew
  IssueFlags server_flags_, issue_flags_, renew_flags_;
  // agency revoke
  std::vector<std::string> revoke_serials_;
  std::string revoke_agency_, revoke_reason_;
  // cert list
  std::string list_agency_, list_kind_, list_expiring_, list_output_ = "table";
  // crl publish
  std::string validity_ = "30d";
};

}  // namespace refx::admin

#endif  // REFX_CLIENTS_ADMIN_CA_COMMANDS_H_
