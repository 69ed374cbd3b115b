// ReferralManager::RecordSubjectNotification and ListSubjectNotifications:
// the Code's notification of a non-crime hate incident's subject, kept apart
// from the referral (ADR 9, "Subject notification").
//
// A party learns nothing from these methods that its view of the referral
// withholds: a party other than the sender is refused NOT_SENDER (record) or
// FIELD_NOT_SHARED (list, when its view lacks the compartment's class)
// before anything about the compartment is looked at, and a recorded step
// changes no etag, update time, event or case update.
#include <string>

#include "absl/strings/str_cat.h"
#include "common/status_details.h"
#include "common/status_macros.h"
#include "core/agreement.h"
#include "core/field_behavior.h"
#include "core/referral_manager.h"
#include "core/referral_validation.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"

namespace refx::core {
namespace {

using google::protobuf::util::TimeUtil;
using v1::SubjectNotification;

constexpr v1::DataClass kCompartment = v1::DATA_CLASS_NCHI_SUBJECT;

std::string NotificationName(const std::string& referral_id, int64_t sequence) {
  return absl::StrCat(ReferralName(referral_id), "/subjectNotifications/", sequence);
}

// Descriptions never echo a submitted value: it may be personal data.
std::vector<FieldViolation> ValidateStep(const RecordSubjectNotificationParams& p, const SubjectNotification& n,
                                         absl::Time now) {
  std::vector<FieldViolation> v = ValidateRequestId(p.request_id);
  if (ReferralIdFromName(p.parent).empty()) v.push_back({"parent", "must be referrals/{32 hex digits}"});
  if (!SubjectNotification::Status_IsValid(n.status()) || n.status() == SubjectNotification::STATUS_UNSPECIFIED) {
    v.push_back({"notification.status", "required: NOTIFIED, REPLY_RECEIVED or WITHHELD"});
  }
  if (!SubjectNotification::WithheldReason_IsValid(n.withheld_reason())) {
    v.push_back({"notification.withheld_reason", "unknown value"});
  } else if (n.status() == SubjectNotification::WITHHELD &&
             n.withheld_reason() == SubjectNotification::WITHHELD_REASON_UNSPECIFIED) {
    v.push_back({"notification.withheld_reason",
                 "required when the notification is WITHHELD: SAFEGUARDING_RISK, PREJUDICE_TO_INVESTIGATION or "
                 "SUBJECT_NOT_CONTACTABLE"});
  } else if (n.status() != SubjectNotification::WITHHELD &&
             n.withheld_reason() != SubjectNotification::WITHHELD_REASON_UNSPECIFIED) {
    v.push_back({"notification.withheld_reason", "only for a WITHHELD notification"});
  }
  if (n.note().size() > kMaxSubjectNotificationNoteBytes) {
    v.push_back({"notification.note", "at most 1024 bytes"});
  }
  if (n.has_occur_time()) {
    if (!IsValidTimestamp(n.occur_time())) {
      v.push_back({"notification.occur_time", "not a valid timestamp (0001-01-01 to 9999-12-31)"});
    } else if (absl::FromUnixSeconds(n.occur_time().seconds()) > now + absl::Minutes(5)) {
      // Five minutes of clock skew between systems is tolerated.
      v.push_back({"notification.occur_time", "must not be in the future"});
    }
  }
  return v;
}

// Whether a stored step is the one `input` asks for (a retry), comparing
// what the client controls; an occur_time left unset took the record time.
bool SameStep(const SubjectNotification& stored, const SubjectNotification& input) {
  SubjectNotification first = stored;
  ClearOutputOnly(&first);
  if (!input.has_occur_time()) first.clear_occur_time();
  return google::protobuf::util::MessageDifferencer::Equals(first, input);
}

absl::Status NotShared(const Caller& caller) {
  return WithErrorInfo(
      absl::PermissionDeniedError(absl::StrCat(
          "the agreement does not share the subject compartment (DATA_CLASS_NCHI_SUBJECT) of this referral with "
          "this agency's role for purpose '",
          caller.purpose, "'")),
      "FIELD_NOT_SHARED", {{"fields", "subject_notifications"}, {"purpose", caller.purpose}});
}

}  // namespace

absl::StatusOr<SubjectNotification> ReferralManager::RecordSubjectNotification(
    const Caller& caller, const RecordSubjectNotificationParams& params, CallAudit* audit) {
  if (caller.agreement == nullptr) return absl::InternalError("call was not admitted under an agreement");
  const Agreement& agreement = *caller.agreement;
  const absl::Time now = options_.clock->Now();
  SubjectNotification input = params.notification;
  ClearOutputOnly(&input);
  const std::vector<FieldViolation> violations = ValidateStep(params, input, now);
  if (!violations.empty()) return InvalidArgumentError("invalid subject notification", violations);

  const std::string id = ReferralIdFromName(params.parent);
  REFX_ASSIGN_OR_RETURN(VisibleReferral visible, LoadVisible(caller, params.parent, id));
  // Decided by who the caller is, never by what the referral holds.
  if (visible.stored.sender_agency != caller.agency_id) {
    return WithErrorInfo(absl::PermissionDeniedError("only the agency that sent the referral records the "
                                                     "notification of its subject"),
                         "NOT_SENDER", {{"action", "record subject notification"}});
  }
  if (!agreement.WritableClasses(caller).Contains(kCompartment)) {
    return WithErrorInfo(absl::PermissionDeniedError("the agreement does not let this agency's role set the "
                                                     "subject compartment (DATA_CLASS_NCHI_SUBJECT)"),
                         "FIELD_NOT_WRITABLE", {{"fields", "notification"}});
  }
  if (!agreement.ViewOf(caller, visible.referral).classes.Contains(kCompartment)) return NotShared(caller);
  if (!visible.referral.has_nchi_subject_record()) {
    return WithErrorInfo(FailedPreconditionError("the referral holds no NCHI subject record: there is no subject to "
                                                 "notify (never recorded, or erased)",
                                                 {{"SUBJECT_RECORD", params.parent, "no nchi_subject_record"}}),
                         "NO_SUBJECT_RECORD");
  }

  SubjectNotification step = input;
  if (!step.has_occur_time()) *step.mutable_occur_time() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now));
  step.set_recorded_by(caller.acting_user);
  *step.mutable_record_time() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now));
  storage::StoredSubjectNotification row;
  row.referral_id = id;
  row.agency_id = caller.agency_id;
  row.request_id = params.request_id;
  row.create_time = now;
  row.document = SerializeDeterministic(step);
  // The step names itself once the store has numbered it; the audit event
  // records what the answer discloses: the compartment's class.
  SubjectNotification answer = step;
  answer.set_name(NotificationName(id, 1));
  storage::AuditRecord event = options_.auditor->Build(caller, audit->method, AuditAction::kCollection, {id},
                                                       DisclosureOf(answer), absl::StatusCode::kOk);
  auto recorded = options_.store->RecordSubjectNotification(row, kMaxSubjectNotificationsPerReferral, event);
  if (absl::IsNotFound(recorded.status())) return ReferralNotFoundError(params.parent);
  if (absl::IsResourceExhausted(recorded.status())) {
    return QuotaExceededError(
        absl::StrCat("the referral holds ", kMaxSubjectNotificationsPerReferral, " notification steps already"),
        "SUBJECT_NOTIFICATIONS_FULL", params.parent,
        absl::StrCat("at most ", kMaxSubjectNotificationsPerReferral, " steps per referral"));
  }
  REFX_RETURN_IF_ERROR(recorded.status());

  SubjectNotification stored;
  if (!stored.ParseFromString(recorded->stored.document)) {
    return absl::DataLossError("a stored subject notification does not parse");
  }
  stored.set_name(NotificationName(id, recorded->stored.sequence));
  if (!recorded->replayed) {
    audit->recorded = true;  // in the transaction that stored the step
    return stored;
  }
  if (!SameStep(stored, input)) {
    return InvalidArgumentError("invalid subject notification",
                                {{"request_id", "already used for a different step of this referral"}});
  }
  storage::AuditRecord replayed = options_.auditor->Build(caller, audit->method, AuditAction::kConsultation, {id},
                                                          DisclosureOf(stored), absl::StatusCode::kOk);
  replayed.reason = "REPLAYED";
  audit->WriteBeforeAnswer(std::move(replayed));
  return stored;
}

absl::StatusOr<v1::ListSubjectNotificationsResponse> ReferralManager::ListSubjectNotifications(
    const Caller& caller, const std::string& parent, CallAudit* audit) {
  if (caller.agreement == nullptr) return absl::InternalError("call was not admitted under an agreement");
  const std::string id = ReferralIdFromName(parent);
  if (id.empty()) {
    return InvalidArgumentError("invalid list request", {{"parent", "must be referrals/{32 hex digits}"}});
  }
  REFX_ASSIGN_OR_RETURN(VisibleReferral visible, LoadVisible(caller, parent, id));
  // Decided by the caller's view, never by whether the compartment exists.
  if (!caller.agreement->ViewOf(caller, visible.referral).classes.Contains(kCompartment)) return NotShared(caller);
  REFX_ASSIGN_OR_RETURN(std::vector<storage::StoredSubjectNotification> rows,
                        options_.store->ListSubjectNotifications(id));
  v1::ListSubjectNotificationsResponse out;
  bool others = false;
  for (const storage::StoredSubjectNotification& row : rows) {
    SubjectNotification* step = out.add_notifications();
    if (!step->ParseFromString(row.document)) {
      return absl::DataLossError("a stored subject notification does not parse");
    }
    step->set_name(NotificationName(id, row.sequence));
    others = others || row.agency_id != caller.agency_id;
  }
  // Audit before answer: another agency's steps reaching the caller are a
  // disclosure; the sender reading back its own, a consultation.
  audit->WriteBeforeAnswer(options_.auditor->Build(caller, audit->method,
                                                   others ? AuditAction::kDisclosure : AuditAction::kConsultation, {id},
                                                   DisclosureOf(out), absl::StatusCode::kOk));
  return out;
}

}  // namespace refx::core
