// Issuing certificates from the partnership CA: `agency issue`, `agency
// renew` (from the agency issuing CA) and `server issue` (from the root), each
// from a CSR whose proof of possession holds or from a key generated here.
#ifndef REFX_CLIENTS_ADMIN_CERTIFICATE_ISSUING_H_
#define REFX_CLIENTS_ADMIN_CERTIFICATE_ISSUING_H_

#include <string>
#include <vector>

#include "clients/admin/admin_common.h"

namespace refx::admin {

// The flags of `agency issue`, `agency renew` and `server issue`.
struct IssueFlags {
  std::string agency;
  std::string csr;
  bool generate_key = false;
  int days = 90;
  std::string out;
  bool force = false;
  bool revoke_previous = false;
  std::vector<std::string> dns, ips;
};

// `agency issue`, or with `renew` `agency renew` (which needs a valid
// certificate to succeed and may revoke it). Returns the exit code.
int RunAgencyIssue(const GlobalOptions& g, const IssueFlags& f, bool renew);

// `server issue`, which needs the root key. Returns the exit code.
int RunServerIssue(const GlobalOptions& g, const IssueFlags& f);

}  // namespace refx::admin

#endif  // REFX_CLIENTS_ADMIN_CERTIFICATE_ISSUING_H_
