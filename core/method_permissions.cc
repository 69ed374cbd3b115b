#include "core/method_permissions.h"

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/status_details.h"

namespace refx::core {
namespace {

using config::v1::Permission;

const std::map<std::string, MethodRule, std::less<>>& Table() {
  static const auto* kTable = new std::map<std::string, MethodRule, std::less<>>{
      {"refx.v1.ReferralService.CreateReferral", {config::v1::REFERRAL_CREATE, true}},
      {"refx.v1.ReferralService.GetReferral", {config::v1::REFERRAL_READ, true}},
      {"refx.v1.ReferralService.ListReferrals", {config::v1::REFERRAL_READ, true}},
      // Lifecycle changes: a party acts on a referral addressed to it (or
      // sent by it); which party may make which change is the lifecycle
      // table's decision (core/referral_lifecycle.cc), not the role's.
      {"refx.v1.ReferralService.AcceptReferral", {config::v1::REFERRAL_READ, true}},
      {"refx.v1.ReferralService.DeclineReferral", {config::v1::REFERRAL_READ, true}},
      {"refx.v1.ReferralService.RedirectReferral", {config::v1::REFERRAL_READ, true}},
      {"refx.v1.ReferralService.StartReferral", {config::v1::REFERRAL_READ, true}},
      {"refx.v1.ReferralService.CompleteReferral", {config::v1::REFERRAL_READ, true}},
      {"refx.v1.ReferralService.CancelReferral", {config::v1::REFERRAL_READ, true}},
      {"refx.v1.ReferralService.ReopenReferral", {config::v1::REFERRAL_READ, true}},
      // Events carry referrals, trimmed and audited as any read.
      {"refx.v1.ReferralService.WatchReferrals", {config::v1::REFERRAL_READ, true}},
      // Case updates: any party reads the case record and adds to it; what
      // content it may write and read is the agreement's field decision.
      {"refx.v1.ReferralService.AddCaseUpdate", {config::v1::REFERRAL_READ, true}},
      {"refx.v1.ReferralService.ListCaseUpdates", {config::v1::REFERRAL_READ, true}},
      // The NCHI subject's notification: who records and who reads it is
      // the sender rule and the agreement's view of the subject compartment
      // (core/subject_notifications.cc), not the role's.
      {"refx.v1.ReferralService.RecordSubjectNotification", {config::v1::REFERRAL_READ, true}},
      {"refx.v1.ReferralService.ListSubjectNotifications", {config::v1::REFERRAL_READ, true}},
      {"refx.v1.ReferralService.WhoAmI", {config::v1::PERMISSION_UNSPECIFIED, false}},
      // The audit log holds no personal data (identifiers and HMACs only).
      {"refx.v1.AuditService.ListAuditEvents", {config::v1::AUDIT_READ, false}},
      {"refx.v1.AuditService.VerifyAuditChain", {config::v1::AUDIT_READ, false}},
      // Subject access: the request holds a person's identifiers, and the
      // answer says which referrals concern them (and, for the bundle, what
      // each controller holds of them).
      {"refx.v1.AuditService.FindSubjectReferrals", {config::v1::SUBJECT_ACCESS, true}},
      {"refx.v1.AuditService.ExportSubjectAccessBundle", {config::v1::SUBJECT_ACCESS, true}},
      // The register of data subject requests: case references and the
      // statutory clock, no personal data; changed by a named person.
      {"refx.v1.AuditService.CreateSubjectRequest", {config::v1::SUBJECT_ACCESS, true}},
      {"refx.v1.AuditService.GetSubjectRequest", {config::v1::SUBJECT_ACCESS, true}},
      {"refx.v1.AuditService.ListSubjectRequests", {config::v1::SUBJECT_ACCESS, true}},
      {"refx.v1.AuditService.RecordSubjectRequestStep", {config::v1::SUBJECT_ACCESS, true}},
      // Actions an erasure request: erases personal data, so the person
      // acting is named, as for every change.
      {"refx.v1.AuditService.EraseSubjectData", {config::v1::SUBJECT_ACCESS, true}},
      // Actions a rectification request: records which correction answered
      // it (identifiers only), changed by a named person.
      {"refx.v1.AuditService.RecordRectification", {config::v1::SUBJECT_ACCESS, true}},
      // Retention: the preview names referrals and classes, a hold pauses
      // erasures; each changes or shows what happens to personal data, so
      // the person acting is named.
      {"refx.v1.AuditService.PreviewRetention", {config::v1::RETENTION_MANAGE, true}},
      {"refx.v1.AuditService.PlaceLegalHold", {config::v1::RETENTION_MANAGE, true}},
      {"refx.v1.AuditService.ReleaseLegalHold", {config::v1::RETENTION_MANAGE, true}},
      {"refx.v1.AuditService.ListLegalHolds", {config::v1::RETENTION_MANAGE, true}},
      // Aggregates, protected before release; a release is a disclosure of
      // aggregate data, so the person asking is named. The partnership
      // scope needs REPORT_PARTNERSHIP too (core/report_manager.cc).
      {"refx.v1.ReportingService.CountReferrals", {config::v1::REPORT_READ, true}},
      {"refx.v1.ReportingService.ReportResponseTimes", {config::v1::REPORT_READ, true}},
      // Tension alerts are partnership-wide by nature.
      {"refx.v1.ReportingService.ListTensionAlerts", {config::v1::REPORT_PARTNERSHIP, true}},
      {"refx.v1.ReportingService.WatchTensionAlerts", {config::v1::REPORT_PARTNERSHIP, true}},
      // The tensions group's note on an alert; seeing the alert needs
      // REPORT_PARTNERSHIP too (core/tension_alerts.cc).
      {"refx.v1.ReportingService.AcknowledgeTensionAlert", {config::v1::TENSION_ACKNOWLEDGE, true}},
  };
  return *kTable;
}

}  // namespace

absl::StatusOr<MethodRule> RuleForMethod(absl::string_view method) {
  auto it = Table().find(method);
  if (it == Table().end()) return absl::NotFoundError(absl::StrCat("no permission rule for ", method));
  return it->second;
}

absl::StatusOr<Caller> AdmitCall(Caller caller, absl::string_view method,
                                 std::shared_ptr<const Agreement> agreement, absl::string_view requested_purpose) {
  auto rule = RuleForMethod(method);
  if (!rule.ok()) return WithErrorInfo(absl::PermissionDeniedError("method not permitted"), "METHOD_NOT_PERMITTED");
  if (rule->permission != config::v1::PERMISSION_UNSPECIFIED && !agreement->Allows(caller.role, rule->permission)) {
    return WithErrorInfo(
        absl::PermissionDeniedError(absl::StrCat("the agreement does not permit role '", caller.role, "' to call ",
                                                 method.substr(method.rfind('.') + 1))),
        "METHOD_NOT_PERMITTED", {{"permission", config::v1::Permission_Name(rule->permission)}});
  }
  auto purpose = agreement->ResolvePurpose(caller.role, requested_purpose);
  if (!purpose.ok()) return WithErrorInfo(purpose.status(), "PURPOSE_NOT_GRANTED");
  if (rule->touches_personal_data && caller.acting_user.empty()) {
    return InvalidArgumentError(
        "name the person acting in the x-refx-acting-user metadata (refx --acting-user)",
        {{"metadata.x-refx-acting-user", "required for calls that touch personal data"}});
  }
  caller.purpose = *purpose;
  caller.agreement = std::move(agreement);
  return caller;
}

}  // namespace refx::core
