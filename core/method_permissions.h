// The deny-by-default table from RPC to the permission it needs. Every
// method of every refx.v1 service must be listed here (a test walks the
// service descriptors), so a new RPC is unreachable until someone decides
// who may call it.
#ifndef REFX_CORE_METHOD_PERMISSIONS_H_
#define REFX_CORE_METHOD_PERMISSIONS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/agreement.h"
#include "core/caller.h"
#include "refx/config/v1/agreement.pb.h"

namespace refx::core {

struct MethodRule {
  // PERMISSION_UNSPECIFIED means "any party" (e.g. WhoAmI, a self-test).
  config::v1::Permission permission = config::v1::PERMISSION_UNSPECIFIED;
  // Calls that touch personal data must name the person acting.
  bool touches_personal_data = false;
};

// The rule for `method` (full name, e.g. "refx.v1.ReferralService.GetReferral"),
// or NOT_FOUND if it is not in the table.
absl::StatusOr<MethodRule> RuleForMethod(absl::string_view method);

// Admits a call: the method is in the table, the role holds its permission,
// the purpose resolves (set on the returned caller, with the agreement
// snapshot), and a person is named when personal data is touched.
// PERMISSION_DENIED / INVALID_ARGUMENT otherwise.
absl::StatusOr<Caller> AdmitCall(Caller caller, absl::string_view method,
                                 std::shared_ptr<const Agreement> agreement, absl::string_view requested_purpose);

}  // namespace refx::core

#endif  // REFX_CORE_METHOD_PERMISSIONS_H_
