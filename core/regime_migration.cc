#include "core/regime_migration.h"

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "core/auditor.h"
#include "core/referral_scan.h"
#include "core/retention.h"
#include "google/protobuf/util/time_util.h"

namespace refx::core {
namespace {

using google::protobuf::util::TimeUtil;

constexpr char kMigrationMethod[] = "refx-admin regime migrate";

// The authority of a change, as the erasure record and the audit event
// state it (never a person: the agreement's own words).
std::string RuleOf(const Agreement& agreement, const Agreement::RegimeSuccession& succession) {
  return absl::StrCat(agreement.Label(), " regime succession ", v1::RecordingRegime_Name(succession.from), " -> ",
                      v1::RecordingRegime_Name(succession.to), " from ", succession.effective_date,
                      ": subject data ", succession.purge_subject_data ? "PURGE" : "KEEP");
}

}  // namespace

absl::StatusOr<std::unique_ptr<RegimeMigration>> RegimeMigration::Create(Options options) {
  if (options.store == nullptr || options.agreement == nullptr) {
    return absl::InvalidArgumentError("regime migration: store and agreement are required");
  }
  if (options.clock == nullptr) options.clock = SystemClock::Get();
  if (options.scan_page < 1) options.scan_page = 500;
  return std::unique_ptr<RegimeMigration>(new RegimeMigration(std::move(options)));
}

absl::Status RegimeMigration::ForEachPlanned(
    const std::function<absl::Status(const storage::StoredReferral&, const v1::Referral&,
                                     const PlannedRegimeChange&)>& visit) {
  const Agreement& agreement = *options_.agreement;
  std::map<int, Agreement::RegimeSuccession> successions;
  for (const Agreement::RegimeSuccession& s : agreement.regime_successions()) successions[s.from] = s;
  if (successions.empty()) return absl::OkStatus();
  REFX_ASSIGN_OR_RETURN(std::vector<storage::LegalHold> holds, options_.store->ListLegalHolds());
  std::set<std::string> held;
  for (const storage::LegalHold& hold : holds) held.insert(hold.referral_id);
  const ReferralScan every{absl::UnixEpoch(), absl::InfiniteFuture(), "", options_.scan_page};
  return ForEachCreatedReferral(
      options_.store, every, [&](const storage::StoredReferral& stored, const v1::Referral& referral) {
        auto it = successions.find(referral.recording_regime().regime());
        if (it == successions.end()) return absl::OkStatus();
        PlannedRegimeChange planned;
        planned.referral_id = stored.id;
        planned.from = it->second.from;
        planned.to = it->second.to;
        planned.purge = it->second.purge_subject_data;
        planned.held = held.count(stored.id) > 0;
        planned.rule = RuleOf(agreement, it->second);
        return visit(stored, referral, planned);
      });
}

absl::StatusOr<std::vector<PlannedRegimeChange>> RegimeMigration::Plan() {
  std::vector<PlannedRegimeChange> out;
  REFX_RETURN_IF_ERROR(ForEachPlanned(
      [&](const storage::StoredReferral&, const v1::Referral&, const PlannedRegimeChange& planned) {
        out.push_back(planned);
        return absl::OkStatus();
      }));
  return out;
}

absl::StatusOr<RegimeMigration::RunReport> RegimeMigration::Run() {
  const Agreement& agreement = *options_.agreement;
  const std::vector<Agreement::RegimeSuccession> successions = agreement.regime_successions();
  if (successions.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("the agreement ", agreement.Label(),
                                                      " dates no regime succession (regime_successions): "
                                                      "there is nothing to migrate"));
  }
  const absl::Time now = options_.clock->Now();
  for (const Agreement::RegimeSuccession& s : successions) {
    if (now < s.effective) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the succession ", v1::RecordingRegime_Name(s.from), " -> ", v1::RecordingRegime_Name(s.to),
          " takes effect on ", s.effective_date, ": nothing is migrated before then (--preview shows the plan)"));
    }
  }
  RunReport report;
  REFX_RETURN_IF_ERROR(ForEachPlanned([&](const storage::StoredReferral& stored, const v1::Referral& referral,
                                          const PlannedRegimeChange& planned) -> absl::Status {
    if (planned.held) {
      report.held.push_back(planned);
      return absl::OkStatus();
    }
    ReferralRewrite rewrite;
    rewrite.changed = referral;
    *rewrite.changed.add_regime_history() = referral.recording_regime();
    v1::RegimeRecord* record = rewrite.changed.mutable_recording_regime();
    record->set_regime(planned.to);
    *record->mutable_apply_time() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now));
    record->set_agreement(agreement.Label());
    rewrite.audit.method = kMigrationMethod;
    rewrite.audit.agency_id = options_.operator_name;
    rewrite.audit.purpose = "regime_succession";
    rewrite.audit.agreement = agreement.Label();
    rewrite.audit.reason = planned.rule;
    rewrite.audit.data_classes = v1::DataClass_Name(v1::DATA_CLASS_REFERRAL_CORE);
    rewrite.audit.action = AuditActionName(AuditAction::kAlteration);
    rewrite.event_kind = v1::WatchReferralsResponse::REFERRAL_CHANGED;
    if (planned.purge) {
      // Recorded on every referral, with subject data or without.
      if (!ErasedClasses(referral).Contains(v1::DATA_CLASS_NCHI_SUBJECT)) {
        v1::Erasure* erasure = rewrite.changed.add_erasures();
        erasure->set_data_class(v1::DATA_CLASS_NCHI_SUBJECT);
        *erasure->mutable_erase_time() = record->apply_time();
        erasure->set_rule(planned.rule);
      }
      rewrite.classes.Add(v1::DATA_CLASS_NCHI_SUBJECT);
      rewrite.audit.data_classes = absl::StrCat(v1::DataClass_Name(v1::DATA_CLASS_NCHI_SUBJECT), ",",
                                                v1::DataClass_Name(v1::DATA_CLASS_REFERRAL_CORE));
      rewrite.audit.action = AuditActionName(AuditAction::kErasure);
      rewrite.event_kind = v1::WatchReferralsResponse::REFERRAL_ERASED;
    }
    absl::StatusOr<int64_t> copies =
        RewriteReferral(*options_.store, options_.victim_token_key, stored, std::move(rewrite), now);
    switch (WhyLeftForLater(copies.status())) {
      case LeftForLater::kLegalHold: {  // held after the plan listed the holds
        PlannedRegimeChange held = planned;
        held.held = true;
        report.held.push_back(std::move(held));
        return absl::OkStatus();
      }
      case LeftForLater::kChangedMeanwhile:
        ++report.changed_meanwhile;
        return absl::OkStatus();
      case LeftForLater::kNewerVersion:
        ++report.left_for_newer_version;
        return absl::OkStatus();
      case LeftForLater::kNo:
        break;
    }
    REFX_RETURN_IF_ERROR(copies.status());
    report.copies_rewritten += *copies;
    report.changed.push_back(planned);
    return absl::OkStatus();
  }));
  return report;
}

}  // namespace refx::core
