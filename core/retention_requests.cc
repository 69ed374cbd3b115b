// RetentionJob's requests from the data protection officer: the preview of
// what the job will erase, and the legal holds that pause it. Each names
// referrals and classes only, and each is audited.
#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status_details.h"
#include "common/status_macros.h"
#include "core/referral_manager.h"
#include "core/retention.h"
#include "google/protobuf/util/time_util.h"

namespace refx::core {
namespace {

using google::protobuf::util::TimeUtil;

constexpr char kPreviewMethod[] = "refx.v1.AuditService.PreviewRetention";
constexpr char kPlaceMethod[] = "refx.v1.AuditService.PlaceLegalHold";
constexpr char kReleaseMethod[] = "refx.v1.AuditService.ReleaseLegalHold";
constexpr char kListMethod[] = "refx.v1.AuditService.ListLegalHolds";
constexpr char kEraseMethod[] = "refx.v1.AuditService.EraseSubjectData";
constexpr int kMaxWithinDays = 3650;
constexpr size_t kMaxReasonLength = 200;

google::protobuf::Timestamp Proto(absl::Time t) { return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t)); }

v1::LegalHold ToProto(const storage::LegalHold& hold) {
  v1::LegalHold out;
  out.set_referral(ReferralName(hold.referral_id));
  out.set_agency(absl::StrCat("agencies/", hold.agency_id));
  out.set_reason(hold.reason);
  *out.mutable_create_time() = Proto(hold.time);
  return out;
}

// The referral id of a request's `referral` field, or the violation.
absl::StatusOr<std::string> ReferralIdOf(const std::string& name) {
  const std::string id = ReferralIdFromName(name);
  if (id.empty()) return InvalidArgumentError("invalid request", {{"referral", "must be referrals/{32 hex digits}"}});
  return id;
}

Disclosure RoutingFacts(bool any) {
  Disclosure disclosed;
  if (any) disclosed.classes.Add(v1::DATA_CLASS_REFERRAL_CORE);
  return disclosed;
}

}  // namespace

v1::PlannedErasure ToProto(const PlannedErasure& planned) {
  v1::PlannedErasure out;
  out.set_referral(ReferralName(planned.referral_id));
  out.set_data_class(planned.data_class);
  *out.mutable_due_time() = Proto(planned.due);
  out.set_rule(planned.rule);
  out.set_held(planned.held);
  return out;
}

absl::StatusOr<v1::PreviewRetentionResponse> RetentionJob::PreviewFor(const Caller& caller,
                                                                     const v1::PreviewRetentionRequest& request,
                                                                     CallAudit* audit) {
  if (options_.auditor == nullptr) return absl::InternalError("retention requests need an auditor");
  if (request.within_days() < 0 || request.within_days() > kMaxWithinDays) {
    return InvalidArgumentError("invalid request", {{"within_days", "0 (due now) to 3650"}});
  }
  REFX_ASSIGN_OR_RETURN(std::vector<PlannedErasure> planned, Preview(absl::Hours(24) * request.within_days()));
  v1::PreviewRetentionResponse out;
  std::set<std::string> ids;
  for (const PlannedErasure& p : planned) {
    *out.add_erasures() = ToProto(p);
    ids.insert(p.referral_id);
  }
  audit->WriteBeforeAnswer(options_.auditor->Build(caller, kPreviewMethod, AuditAction::kConsultation,
                                                   {ids.begin(), ids.end()}, RoutingFacts(!ids.empty()),
                                                   absl::StatusCode::kOk));
  return out;
}

absl::StatusOr<v1::LegalHold> RetentionJob::PlaceHold(const Caller& caller, const v1::PlaceLegalHoldRequest& request,
                                                      CallAudit* audit) {
  if (options_.auditor == nullptr) return absl::InternalError("retention requests need an auditor");
  std::vector<FieldViolation> violations;
  const std::string id = ReferralIdFromName(request.referral());
  if (id.empty()) violations.push_back({"referral", "must be referrals/{32 hex digits}"});
  const std::string reason(absl::StripAsciiWhitespace(request.reason()));
  if (reason.empty() || reason.size() > kMaxReasonLength ||
      std::any_of(reason.begin(), reason.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; })) {
    violations.push_back({"reason", "required: 1-200 characters on one line naming the matter, no personal data"});
  }
  if (!violations.empty()) return InvalidArgumentError("invalid request", violations);
  storage::LegalHold hold{id, caller.agency_id, reason, options_.clock->Now()};
  storage::AuditRecord event = options_.auditor->Build(caller, kPlaceMethod, AuditAction::kNone, {id},
                                                       RoutingFacts(false), absl::StatusCode::kOk);
  absl::Status placed = options_.store->PlaceLegalHold(hold, event);
  if (absl::IsNotFound(placed)) return ReferralNotFoundError(request.referral());
  if (absl::IsAlreadyExists(placed)) {
    return WithErrorInfo(absl::AlreadyExistsError(absl::StrCat(request.referral(), " is under a legal hold already")),
                         "LEGAL_HOLD_EXISTS", {{"referral", request.referral()}});
  }
  REFX_RETURN_IF_ERROR(placed);
  audit->recorded = true;  // written with the hold
  return ToProto(hold);
}

absl::Status RetentionJob::ReleaseHold(const Caller& caller, const v1::ReleaseLegalHoldRequest& request,
                                       CallAudit* audit) {
  if (options_.auditor == nullptr) return absl::InternalError("retention requests need an auditor");
  REFX_ASSIGN_OR_RETURN(const std::string id, ReferralIdOf(request.referral()));
  storage::AuditRecord event = options_.auditor->Build(caller, kReleaseMethod, AuditAction::kNone, {id},
                                                       RoutingFacts(false), absl::StatusCode::kOk);
  absl::Status released = options_.store->ReleaseLegalHold(id, event);
  if (absl::IsNotFound(released)) {
    return ResourceNotFoundError(absl::StrCat(request.referral(), " is not under a legal hold"), "refx.v1.LegalHold",
                                 request.referral(), "no legal hold on this referral", "LEGAL_HOLD_NOT_FOUND");
  }
  REFX_RETURN_IF_ERROR(released);
  audit->recorded = true;  // written with the release
  return absl::OkStatus();
}

absl::StatusOr<v1::ListLegalHoldsResponse> RetentionJob::ListHolds(const Caller& caller, CallAudit* audit) {
  if (options_.auditor == nullptr) return absl::InternalError("retention requests need an auditor");
  REFX_ASSIGN_OR_RETURN(std::vector<storage::LegalHold> holds, options_.store->ListLegalHolds());
  v1::ListLegalHoldsResponse out;
  std::vector<std::string> ids;
  for (const storage::LegalHold& hold : holds) {
    *out.add_holds() = ToProto(hold);
    ids.push_back(hold.referral_id);
  }
  audit->WriteBeforeAnswer(options_.auditor->Build(caller, kListMethod, AuditAction::kConsultation, ids,
                                                   RoutingFacts(!ids.empty()), absl::StatusCode::kOk));
  return out;
}

absl::StatusOr<v1::EraseSubjectDataResponse> RetentionJob::EraseNow(const Caller& caller,
                                                                    const std::string& referral_id,
                                                                    const DataClassSet& classes,
                                                                    const std::string& rule, const std::string& reason,
                                                                    CallAudit* audit) {
  if (options_.auditor == nullptr) return absl::InternalError("retention requests need an auditor");
  const std::string name = ReferralName(referral_id);
  absl::StatusOr<storage::StoredReferral> stored = options_.store->GetReferral(referral_id);
  if (absl::IsNotFound(stored.status())) return ReferralNotFoundError(name);
  REFX_RETURN_IF_ERROR(stored.status());
  v1::Referral referral;
  if (!referral.ParseFromString(stored->document)) return absl::DataLossError("a stored referral is unreadable");

  v1::EraseSubjectDataResponse out;
  out.set_referral(name);
  const absl::Time now = options_.clock->Now();
  const DataClassSet erased_before = ErasedClasses(referral);
  std::vector<PlannedErasure> due;
  for (v1::DataClass c : classes.Members()) {
    if (erased_before.Contains(c)) continue;
    due.push_back({referral_id, c, now, rule, false});
    out.add_erased(c);
  }
  if (due.empty()) return out;  // each erased before: the call's own event says so

  storage::AuditRecord event =
      options_.auditor->Build(caller, kEraseMethod, AuditAction::kErasure, {referral_id}, {}, absl::StatusCode::kOk);
  event.reason = reason;
  // The store checks the legal hold in the erasure's own transaction.
  absl::StatusOr<int64_t> copies = Erase(*stored, referral, due, now, std::move(event));
  if (storage::IsLegalHoldRefusal(copies.status())) {
    return WithErrorInfo(FailedPreconditionError(absl::StrCat(name, " is under a legal hold: release it first"),
                                                 {{"LEGAL_HOLD", name, "the referral is under a legal hold"}}),
                         "LEGAL_HOLD_IN_PLACE", {{"referral", name}});
  }
  if (absl::IsAborted(copies.status()) || absl::IsNotFound(copies.status())) {
    return absl::AbortedError(absl::StrCat(name, " changed while it was erased; nothing was erased: try again"));
  }
  REFX_RETURN_IF_ERROR(copies.status());
  audit->recorded = true;  // written with the erasure
  out.set_copies_rewritten(*copies);
  return out;
}

}  // namespace refx::core
