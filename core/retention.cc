#include "core/retention.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "core/auditor.h"
#include "core/referral_manager.h"
#include "core/victim_tokens.h"
#include "google/protobuf/unknown_field_set.h"
#include "google/protobuf/util/time_util.h"
#include "refx/v1/case_update.pb.h"

namespace refx::core {
namespace {

using google::protobuf::util::TimeUtil;

absl::Time ToTime(const google::protobuf::Timestamp& t) {
  return absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(t));
}

// Operational data has no period of its own: it goes with the routing
// record (DATA_CLASS_REFERRAL_CORE), whose period ending deletes the
// referral (see the header).
bool KeptWithTheRoutingRecord(v1::DataClass c) { return c == v1::DATA_CLASS_OPERATIONAL; }

// The audit method of the job's events: no RPC asked for them.
constexpr char kRetentionMethod[] = "refx.server.RetentionJob";

}  // namespace

bool IsClosedState(v1::Referral::State state) {
  return state == v1::Referral::COMPLETED || state == v1::Referral::CANCELLED || state == v1::Referral::DECLINED;
}

DataClassSet ErasedClasses(const v1::Referral& referral) {
  DataClassSet erased;
  for (const v1::Erasure& e : referral.erasures()) erased.Add(e.data_class());
  return erased;
}

bool HoldsUnknownFields(const google::protobuf::Message& message) {
  const google::protobuf::Reflection* reflection = message.GetReflection();
  if (reflection->GetUnknownFields(message).field_count() > 0) return true;
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const google::protobuf::FieldDescriptor* field : fields) {
    if (field->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (field->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
        if (HoldsUnknownFields(reflection->GetRepeatedMessage(message, field, i))) return true;
      }
    } else if (HoldsUnknownFields(reflection->GetMessage(message, field))) {
      return true;
    }
  }
  return false;
}

namespace {

// Marks the refusal below so the job tells it from any other failed
// precondition (which is an error to report, not a referral to skip).
constexpr char kLeftForNewerVersion[] = "type.refx.llr.example/refx.core.LeftForNewerVersion";

// Redaction drops fields it has no class for, so an erasure by this version
// would lose, for good, whatever a newer version stored there: such a copy
// is left for a replica that knows every field.
absl::Status RefuseNewerFields(const google::protobuf::Message& message) {
  if (!HoldsUnknownFields(message)) return absl::OkStatus();
  absl::Status refused = absl::FailedPreconditionError(
      "a stored copy holds fields this version of refx does not know (written by a newer version): "
      "left for a replica that knows them");
  refused.SetPayload(kLeftForNewerVersion, absl::Cord("1"));
  return refused;
}

// The job's own erasures: by refx, under the agreement's retention rules.
storage::AuditRecord RetentionAudit(const Agreement& agreement) {
  storage::AuditRecord audit;
  audit.method = kRetentionMethod;
  audit.agency_id = "refx";
  audit.purpose = "retention";
  audit.agreement = agreement.Label();
  audit.reason = "RETENTION";
  return audit;
}

}  // namespace

bool IsLeftForNewerVersion(const absl::Status& status) {
  return absl::IsFailedPrecondition(status) && status.GetPayload(kLeftForNewerVersion).has_value();
}

LeftForLater WhyLeftForLater(const absl::Status& status) {
  if (storage::IsLegalHoldRefusal(status)) return LeftForLater::kLegalHold;
  if (absl::IsAborted(status) || absl::IsNotFound(status)) return LeftForLater::kChangedMeanwhile;
  if (IsLeftForNewerVersion(status)) return LeftForLater::kNewerVersion;
  return LeftForLater::kNo;
}

absl::StatusOr<std::string> EraseFromDocument(const DataClassSet& classes, storage::StoredDocumentKind kind,
                                              const std::string& document) {
  DataClassSet keep = DataClassSet::All();
  for (v1::DataClass c : classes.Members()) keep.Remove(c);
  // Derived values stay unless their own class goes: a view with `derived`.
  const ReadView view{keep, /*derived=*/true};
  if (kind == storage::StoredDocumentKind::kReplay) {
    // A retry response is a referral (a lifecycle change) or a case update;
    // both name themselves in field 1, read without assuming either.
    google::protobuf::UnknownFieldSet fields;
    if (!fields.ParseFromString(document)) return absl::DataLossError("a stored retry response is unreadable");
    bool update = false;
    for (int i = 0; i < fields.field_count(); ++i) {
      const google::protobuf::UnknownField& field = fields.field(i);
      if (field.number() == 1 && field.type() == google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED) {
        update = absl::StrContains(field.length_delimited(), "/updates/");
      }
    }
    kind = update ? storage::StoredDocumentKind::kCaseUpdate : storage::StoredDocumentKind::kReferral;
  }
  if (kind == storage::StoredDocumentKind::kReferral) {
    v1::Referral referral;
    if (!referral.ParseFromString(document)) return absl::DataLossError("a stored referral copy is unreadable");
    REFX_RETURN_IF_ERROR(RefuseNewerFields(referral));
    Redact(view, &referral);
    return SerializeDeterministic(referral);
  }
  v1::CaseUpdate update;
  if (!update.ParseFromString(document)) return absl::DataLossError("a stored case update copy is unreadable");
  REFX_RETURN_IF_ERROR(RefuseNewerFields(update));
  Redact(view, &update);
  return SerializeDeterministic(update);
}

std::vector<PlannedErasure> RetentionSchedule(const Agreement& agreement, const v1::Referral& referral,
                                              const std::string& referral_id, absl::Time update_time,
                                              absl::Time now) {
  const config::v1::Agreement& config = agreement.config();
  absl::optional<absl::Time> start;
  absl::string_view from;
  if (IsClosedState(referral.state())) {
    // Closed before close_time was recorded: its last change stands in
    // (later than the closure, never earlier: kept longer, not shorter).
    start = referral.has_close_time() ? ToTime(referral.close_time()) : update_time;
    from = "closure";
  } else if (config.abandoned_after_days() > 0 &&
             now - update_time >= absl::Hours(24) * config.abandoned_after_days()) {
    start = ToTime(referral.create_time());
    from = "creation (abandoned)";
  }
  std::vector<PlannedErasure> out;
  if (!start.has_value()) return out;
  const DataClassSet erased = ErasedClasses(referral);
  for (const config::v1::Retention& retention : config.retention()) {
    if (KeptWithTheRoutingRecord(retention.data_class()) || erased.Contains(retention.data_class())) continue;
    PlannedErasure planned;
    planned.referral_id = referral_id;
    planned.data_class = retention.data_class();
    planned.due = *start + absl::Hours(24) * retention.days();
    planned.rule = absl::StrCat(agreement.Label(), " retention ", v1::DataClass_Name(retention.data_class()), ": ",
                                retention.days(), " days after ", from);
    out.push_back(std::move(planned));
  }
  std::sort(out.begin(), out.end(), [](const PlannedErasure& a, const PlannedErasure& b) {
    return a.due != b.due ? a.due < b.due : a.data_class < b.data_class;
  });
  return out;
}

absl::StatusOr<std::unique_ptr<RetentionJob>> RetentionJob::Create(Options options) {
  if (options.store == nullptr || options.agreements == nullptr) {
    return absl::InvalidArgumentError("retention job: store and agreements are required");
  }
  if (options.clock == nullptr) options.clock = SystemClock::Get();
  if (options.scan_page < 1) options.scan_page = 500;
  return std::unique_ptr<RetentionJob>(new RetentionJob(std::move(options)));
}

ReferralScan RetentionJob::EveryReferral() const {
  return ReferralScan{absl::UnixEpoch(), absl::InfiniteFuture(), "", options_.scan_page};
}

absl::StatusOr<int64_t> RewriteReferral(storage::ReferralStore& store, const std::string& victim_token_key,
                                        const storage::StoredReferral& stored, ReferralRewrite rewrite,
                                        absl::Time now) {
  v1::Referral& changed = rewrite.changed;
  const DataClassSet classes = rewrite.classes;
  if (!classes.empty()) {
    REFX_ASSIGN_OR_RETURN(std::string document, EraseFromDocument(classes, storage::StoredDocumentKind::kReferral,
                                                                  SerializeDeterministic(changed)));
    if (!changed.ParseFromString(document)) return absl::InternalError("an erased referral does not parse");
  }
  storage::EraseReferralDataRequest request;
  request.expected_etag = stored.etag;
  request.referral = stored;
  request.referral.etag = NewEtag();
  changed.set_etag(request.referral.etag);
  request.referral.document = SerializeDeterministic(changed);
  if (changed.strands().empty()) request.referral.strands.clear();
  if (classes.empty()) {
    request.erase = [](storage::StoredDocumentKind, const std::string& copy) -> absl::StatusOr<std::string> {
      return copy;
    };
  } else {
    request.erase = [classes](storage::StoredDocumentKind kind, const std::string& copy) {
      return EraseFromDocument(classes, kind, copy);
    };
  }
  // Tokens of what is left: a subject access search still finds the
  // referral by what it still holds, and by nothing it no longer holds.
  request.victim_tokens = VictimTokens(victim_token_key, changed.victim());
  // The subject's notification steps are part of the compartment, kept in
  // their own table (ADR 9): they go with it.
  request.delete_subject_notifications = classes.Contains(v1::DATA_CLASS_NCHI_SUBJECT);
  request.audit = std::move(rewrite.audit);
  request.audit.time = now;
  request.audit.referral_ids = stored.id;
  request.audit.outcome = "OK";
  storage::StoredReferral parties = request.referral;
  parties.update_time = now;
  request.event = MakeEvent(parties, rewrite.event_kind);
  REFX_ASSIGN_OR_RETURN(storage::EraseReferralDataResult result, store.EraseReferralData(request));
  return result.copies_rewritten;
}

namespace {

// Whether the routing record's own period is among `due`.
bool DeletesTheReferral(const std::vector<PlannedErasure>& due) {
  return std::any_of(due.begin(), due.end(),
                     [](const PlannedErasure& p) { return p.data_class == v1::DATA_CLASS_REFERRAL_CORE; });
}

}  // namespace

absl::StatusOr<int64_t> RetentionJob::Delete(const storage::StoredReferral& stored, const v1::Referral& referral,
                                             const std::vector<PlannedErasure>& due, absl::Time now,
                                             storage::AuditRecord audit) {
  std::map<v1::DataClass, std::string> rules;
  for (const PlannedErasure& planned : due) rules[planned.data_class] = planned.rule;
  const std::string& routing_rule = rules[v1::DATA_CLASS_REFERRAL_CORE];
  // What is left says what went: every class the referral still held, each
  // under the rule that ended it (a class without a period of its own under
  // the routing record's).
  v1::Referral tombstone;
  tombstone.set_name(referral.name());
  *tombstone.mutable_erasures() = referral.erasures();
  const DataClassSet erased_before = ErasedClasses(referral);
  std::vector<std::string> class_names;
  for (v1::DataClass c : DataClassSet::All().Members()) {
    if (c == v1::DATA_CLASS_UNSPECIFIED || erased_before.Contains(c)) continue;
    v1::Erasure* record = tombstone.add_erasures();
    record->set_data_class(c);
    *record->mutable_erase_time() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now));
    auto rule = rules.find(c);
    record->set_rule(rule != rules.end() ? rule->second : routing_rule);
    class_names.push_back(v1::DataClass_Name(c));
  }
  storage::EraseReferralDataRequest request;
  request.delete_referral = true;
  request.expected_etag = stored.etag;
  // The parties stay in `referral` for the event's audience; the store
  // keeps none of them.
  request.referral = stored;
  request.referral.etag = NewEtag();
  request.referral.update_time = now;
  tombstone.set_etag(request.referral.etag);
  request.referral.document = SerializeDeterministic(tombstone);
  request.audit = std::move(audit);
  request.audit.action = AuditActionName(AuditAction::kErasure);
  request.audit.data_classes = absl::StrJoin(class_names, ",");
  request.audit.time = now;
  request.audit.referral_ids = stored.id;
  request.audit.outcome = "OK";
  request.event = MakeEvent(request.referral, v1::WatchReferralsResponse::REFERRAL_DELETED);
  REFX_ASSIGN_OR_RETURN(storage::EraseReferralDataResult result, options_.store->EraseReferralData(request));
  return result.copies_rewritten;
}

absl::StatusOr<int64_t> RetentionJob::Erase(const storage::StoredReferral& stored, const v1::Referral& referral,
                                            const std::vector<PlannedErasure>& due, absl::Time now,
                                            storage::AuditRecord audit) {
  if (DeletesTheReferral(due)) return Delete(stored, referral, due, now, std::move(audit));
  ReferralRewrite rewrite;
  rewrite.changed = referral;
  std::vector<std::string> class_names;
  for (const PlannedErasure& planned : due) {
    rewrite.classes.Add(planned.data_class);
    class_names.push_back(v1::DataClass_Name(planned.data_class));
    v1::Erasure* record = rewrite.changed.add_erasures();
    record->set_data_class(planned.data_class);
    *record->mutable_erase_time() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now));
    record->set_rule(planned.rule);
  }
  rewrite.audit = std::move(audit);
  rewrite.audit.action = AuditActionName(AuditAction::kErasure);
  rewrite.audit.data_classes = absl::StrJoin(class_names, ",");
  rewrite.event_kind = v1::WatchReferralsResponse::REFERRAL_ERASED;
  return RewriteReferral(*options_.store, options_.victim_token_key, stored, std::move(rewrite), now);
}

absl::StatusOr<RetentionJob::RunReport> RetentionJob::RunOnce() {
  const std::shared_ptr<const Agreement> agreement = options_.agreements->Current();
  const absl::Time now = options_.clock->Now();
  REFX_ASSIGN_OR_RETURN(std::vector<storage::LegalHold> holds, options_.store->ListLegalHolds());
  std::set<std::string> held;
  for (const storage::LegalHold& hold : holds) held.insert(hold.referral_id);
  RunReport report;
  REFX_RETURN_IF_ERROR(ForEachCreatedReferral(
      options_.store, EveryReferral(), [&](const storage::StoredReferral& stored, const v1::Referral& referral) {
        ++report.referrals_examined;
        std::vector<PlannedErasure> due = RetentionSchedule(*agreement, referral, stored.id, stored.update_time, now);
        due.erase(std::remove_if(due.begin(), due.end(), [now](const PlannedErasure& p) { return p.due > now; }),
                  due.end());
        if (due.empty()) return absl::OkStatus();
        if (held.count(stored.id) > 0) {
          ++report.held;
          return absl::OkStatus();
        }
        absl::StatusOr<int64_t> copies = Erase(stored, referral, due, now, RetentionAudit(*agreement));
        switch (WhyLeftForLater(copies.status())) {
          case LeftForLater::kLegalHold:  // held after the run listed the holds
            ++report.held;
            return absl::OkStatus();
          case LeftForLater::kChangedMeanwhile:
            ++report.changed_meanwhile;
            return absl::OkStatus();
          case LeftForLater::kNewerVersion:  // nothing changed: a replica of that version erases it
            ++report.left_for_newer_version;
            return absl::OkStatus();
          case LeftForLater::kNo:
            break;
        }
        REFX_RETURN_IF_ERROR(copies.status());
        ++report.referrals_erased;
        if (DeletesTheReferral(due)) ++report.referrals_deleted;
        report.classes_erased += static_cast<int64_t>(due.size());
        report.copies_rewritten += *copies;
        return absl::OkStatus();
      }));
  return report;
}

absl::StatusOr<std::vector<PlannedErasure>> RetentionJob::Preview(absl::Duration within) {
  const std::shared_ptr<const Agreement> agreement = options_.agreements->Current();
  const absl::Time now = options_.clock->Now();
  REFX_ASSIGN_OR_RETURN(std::vector<storage::LegalHold> holds, options_.store->ListLegalHolds());
  std::set<std::string> held;
  for (const storage::LegalHold& hold : holds) held.insert(hold.referral_id);
  std::vector<PlannedErasure> out;
  REFX_RETURN_IF_ERROR(ForEachCreatedReferral(
      options_.store, EveryReferral(), [&](const storage::StoredReferral& stored, const v1::Referral& referral) {
        // As at the horizon: a referral abandoned by then is planned too.
        for (PlannedErasure& planned :
             RetentionSchedule(*agreement, referral, stored.id, stored.update_time, now + within)) {
          if (planned.due > now + within) continue;
          planned.held = held.count(stored.id) > 0;
          out.push_back(std::move(planned));
        }
        return absl::OkStatus();
      }));
  std::stable_sort(out.begin(), out.end(),
                   [](const PlannedErasure& a, const PlannedErasure& b) { return a.due < b.due; });
  return out;
}

}  // namespace refx::core
