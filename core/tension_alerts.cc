#include "core/tension_alerts.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/status_details.h"
#include "common/status_macros.h"
#include "core/agreement.h"
#include "core/reporting/iso_week.h"
#include "core/referral_scan.h"
#include "core/reporting/tension_monitor.h"
#include "google/protobuf/util/time_util.h"
#include "refx/v1/referral.pb.h"

namespace refx::core {
namespace {

constexpr char kMethod[] = "refx.v1.ReportingService.ListTensionAlerts";
constexpr char kAcknowledgeMethod[] = "refx.v1.ReportingService.AcknowledgeTensionAlert";
constexpr char kNamePrefix[] = "tensionAlerts/";
constexpr size_t kMaxNoteBytes = 1024;
constexpr size_t kMaxRequestIdBytes = 128;
constexpr int kMaxWeeks = 104;
constexpr int kDefaultWeeks = 13;
constexpr char kOnline[] = "online";

absl::Status BadWeek(absl::string_view field, absl::string_view why) {
  return InvalidArgumentError("invalid tension query", {{std::string(field), std::string(why)}});
}

absl::Status WeekNotEnded(const reporting::IsoWeek& week) {
  return WithErrorInfo(
      FailedPreconditionError(absl::StrCat(week.label, " has not ended; alerts are computed for ended weeks"),
                              {{"PERIOD_ENDED", week.label, "the week must have ended"}}),
      "PERIOD_NOT_ENDED", {{"period_end", absl::FormatTime(absl::RFC3339_sec, week.end, absl::UTCTimeZone())}});
}

google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  return google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

void SetAcknowledgement(const storage::TensionAcknowledgement& stored, v1::TensionAlert* alert) {
  v1::TensionAcknowledgement* a = alert->mutable_acknowledgement();
  a->set_agency(absl::StrCat("agencies/", stored.agency_id));
  *a->mutable_acknowledge_time() = ToTimestamp(stored.time);
  a->set_note(stored.note);
}

}  // namespace

std::string CountBand(int64_t count) {
  if (count < 10) return "fewer than 10";
  if (count < 20) return "10 to 19";
  if (count < 50) return "20 to 49";
  return "50 or more";
}

std::string BaselineBand(double per_week) {
  if (per_week < 1) return "under 1 a week";
  if (per_week < 2) return "1 to 2 a week";
  if (per_week < 5) return "2 to 5 a week";
  if (per_week < 10) return "5 to 10 a week";
  return "10 or more a week";
}

absl::StatusOr<std::unique_ptr<TensionAlerts>> TensionAlerts::Create(Options options) {
  if (options.registry == nullptr || options.store == nullptr || options.auditor == nullptr) {
    return absl::InvalidArgumentError("TensionAlerts needs a registry, a store and an auditor");
  }
  if (options.clock == nullptr) options.clock = SystemClock::Get();
  if (options.scan_page < 1) options.scan_page = 500;
  return std::unique_ptr<TensionAlerts>(new TensionAlerts(std::move(options)));
}

absl::StatusOr<v1::ListTensionAlertsResponse> TensionAlerts::List(const Caller& caller,
                                                                   const v1::ListTensionAlertsRequest& request,
                                                                   CallAudit* audit) {
  const Agreement& agreement = *caller.agreement;
  const absl::TimeZone zone = agreement.calendar().zone();
  const absl::Time now = options_.clock->Now();
  // The weeks: decided by the query and the clock only.
  const reporting::IsoWeek current = reporting::WeekOf(absl::ToCivilDay(now, zone), zone);
  reporting::IsoWeek last = reporting::WeeksAfter(current, -1, zone);
  if (!request.last_week().empty()) {
    absl::StatusOr<reporting::IsoWeek> parsed = reporting::ParseIsoWeek(request.last_week(), zone);
    if (!parsed.ok()) return BadWeek("last_week", parsed.status().message());
    last = *parsed;
  }
  reporting::IsoWeek first = reporting::WeeksAfter(last, -(kDefaultWeeks - 1), zone);
  if (!request.first_week().empty()) {
    absl::StatusOr<reporting::IsoWeek> parsed = reporting::ParseIsoWeek(request.first_week(), zone);
    if (!parsed.ok()) return BadWeek("first_week", parsed.status().message());
    first = *parsed;
  }
  if (first.monday > last.monday) return BadWeek("first_week", "must not be after last_week");
  const int weeks = static_cast<int>((last.monday - first.monday) / 7) + 1;
  if (weeks > kMaxWeeks) return BadWeek("first_week", absl::StrCat("at most ", kMaxWeeks, " weeks at a time"));
  if (now < last.end) return WeekNotEnded(last);

  REFX_ASSIGN_OR_RETURN(v1::ListTensionAlertsResponse out, Alerts(agreement, first, last));
  Disclosure disclosed;
  disclosed.classes.Add(v1::DATA_CLASS_REFERRAL_CORE);
  disclosed.classes.Add(v1::DATA_CLASS_PROTECTED_CHARACTERISTICS);
  storage::AuditRecord event =
      options_.auditor->Build(caller, kMethod, AuditAction::kDisclosure, {}, disclosed, absl::StatusCode::kOk);
  event.release = absl::StrCat("tension-alerts weeks=", first.label, "..", last.label, " alerts=", out.alerts_size());
  audit->WriteBeforeAnswer(std::move(event));
  return out;
}

absl::StatusOr<v1::ListTensionAlertsResponse> TensionAlerts::Alerts(const Agreement& agreement,
                                                                    const reporting::IsoWeek& first,
                                                                    const reporting::IsoWeek& last) const {
  v1::ListTensionAlertsResponse out;
  REFX_RETURN_IF_ERROR(Compute(agreement, first, last, &out));
  // Each alert's acknowledgement, if any: stored apart, joined by name.
  REFX_ASSIGN_OR_RETURN(std::vector<storage::TensionAcknowledgement> acknowledged,
                        options_.store->ListTensionAcknowledgements(first.label, last.label));
  std::map<std::string, const storage::TensionAcknowledgement*, std::less<>> by_alert;
  for (const auto& a : acknowledged) by_alert[a.alert] = &a;
  for (v1::TensionAlert& alert : *out.mutable_alerts()) {
    if (auto it = by_alert.find(alert.name()); it != by_alert.end()) SetAcknowledgement(*it->second, &alert);
  }
  return out;
}

std::string TensionAlerts::Method(const Agreement& agreement) {
  const reporting::TensionRules rules = agreement.tension_rules();
  return absl::StrFormat(
      "A week alerts when its count is at least %d and, against the %d weeks before it, at least as high a "
      "count would arise by chance with probability at most %g if the weekly rate had not changed "
      "(conditional binomial test); a week with no change alerts with probability at most %g. Counts and "
      "baselines are given as bands.",
      rules.minimum_count, rules.baseline_weeks, rules.false_alarm_rate, rules.false_alarm_rate);
}

absl::Status TensionAlerts::Compute(const Agreement& agreement, const reporting::IsoWeek& first,
                                    const reporting::IsoWeek& last, v1::ListTensionAlertsResponse* out) const {
  const absl::TimeZone zone = agreement.calendar().zone();
  const int weeks = static_cast<int>((last.monday - first.monday) / 7) + 1;
  // Series: every registry area by strand, then online by strand; labels
  // fixed before any referral is read.
  const std::shared_ptr<const Partnership> registry = options_.registry->Current();
  const reporting::TensionRules rules = agreement.tension_rules();
  std::vector<std::string> areas, strands;
  for (const auto& area : registry->config().areas()) areas.push_back(area.id());
  areas.push_back(kOnline);
  for (const auto& strand : registry->config().strands()) strands.push_back(strand.id());
  std::map<std::string, int, std::less<>> area_index, strand_index;
  for (size_t i = 0; i < areas.size(); ++i) area_index[areas[i]] = static_cast<int>(i);
  for (size_t i = 0; i < strands.size(); ++i) strand_index[strands[i]] = static_cast<int>(i);
  const int span = rules.baseline_weeks + weeks;  // the baseline of the first week, then the weeks
  const reporting::IsoWeek origin = reporting::WeeksAfter(first, -rules.baseline_weeks, zone);
  // counts[area][strand][week]
  std::vector<std::vector<std::vector<int64_t>>> counts(
      areas.size(), std::vector<std::vector<int64_t>>(strands.size(), std::vector<int64_t>(span, 0)));

  ReferralScan scan;
  scan.created_from = origin.start;
  scan.created_to = last.end;
  scan.page = options_.scan_page;
  REFX_RETURN_IF_ERROR(ForEachCreatedReferral(
      options_.store, scan, [&](const storage::StoredReferral& row, const v1::Referral& referral) {
        const reporting::IsoWeek week = reporting::WeekOf(absl::ToCivilDay(row.create_time, zone), zone);
        const int64_t w = (week.monday - origin.monday) / 7;
        if (w < 0 || w >= span) return absl::OkStatus();
        auto area = area_index.find(referral.area());
        std::vector<int> rows;
        if (area != area_index.end()) rows.push_back(area->second);
        if (referral.online()) rows.push_back(area_index[kOnline]);
        std::vector<bool> seen(strands.size(), false);
        for (const v1::Strand& s : referral.strands()) {
          auto strand = strand_index.find(s.strand());
          if (strand == strand_index.end() || seen[strand->second]) continue;
          seen[strand->second] = true;
          for (int a : rows) ++counts[a][strand->second][w];
        }
        return absl::OkStatus();
      }));

  struct Found {
    int week, area, strand;
    reporting::TensionAlert alert;
  };
  std::vector<Found> found;
  for (size_t a = 0; a < areas.size(); ++a) {
    for (size_t s = 0; s < strands.size(); ++s) {
      for (const reporting::TensionAlert& alert : reporting::DetectRises(counts[a][s], rules)) {
        found.push_back({alert.week, static_cast<int>(a), static_cast<int>(s), alert});
      }
    }
  }
  std::sort(found.begin(), found.end(), [](const Found& x, const Found& y) {
    return std::tie(x.week, x.area, x.strand) < std::tie(y.week, y.area, y.strand);
  });

  out->set_first_week(first.label);
  out->set_last_week(last.label);
  for (const Found& f : found) {
    const reporting::IsoWeek week = reporting::WeeksAfter(origin, f.week, zone);
    v1::TensionAlert* alert = out->add_alerts();
    alert->set_name(absl::StrCat(kNamePrefix, week.label, "/", areas[f.area], "/", strands[f.strand]));
    alert->set_area(areas[f.area]);
    alert->set_strand(strands[f.strand]);
    alert->set_week(week.label);
    *alert->mutable_week_start() = ToTimestamp(week.start);
    alert->set_count_band(CountBand(f.alert.count));
    alert->set_baseline_band(BaselineBand(f.alert.baseline));
  }
  out->set_series(static_cast<int32_t>(areas.size() * strands.size()));
  out->set_method(Method(agreement));
  out->set_agreement(agreement.Label());
  return absl::OkStatus();
}

absl::StatusOr<v1::TensionAlert> TensionAlerts::Acknowledge(const Caller& caller,
                                                          const v1::AcknowledgeTensionAlertRequest& request,
                                                          CallAudit* audit) {
  const Agreement& agreement = *caller.agreement;
  // Acknowledging shows the alert: only to those who may list alerts.
  if (!agreement.Allows(caller.role, config::v1::REPORT_PARTNERSHIP)) {
    return WithErrorInfo(absl::PermissionDeniedError(
                             "acknowledging a tension alert needs REPORT_PARTNERSHIP too, which the agreement does "
                             "not grant your role"),
                         "METHOD_NOT_PERMITTED",
                         {{"permission", config::v1::Permission_Name(config::v1::REPORT_PARTNERSHIP)}});
  }
  const absl::TimeZone zone = agreement.calendar().zone();
  std::vector<FieldViolation> violations;
  const std::vector<std::string> parts = absl::StrSplit(request.name(), '/');
  absl::StatusOr<reporting::IsoWeek> week = absl::InvalidArgumentError("");
  if (parts.size() != 4 || parts[0] != "tensionAlerts" || parts[2].empty() || parts[3].empty()) {
    violations.push_back({"name", "must be tensionAlerts/{week}/{area}/{strand}"});
  } else if (week = reporting::ParseIsoWeek(parts[1], zone); !week.ok()) {
    violations.push_back({"name", absl::StrCat("week: ", week.status().message())});
  }
  if (request.note().empty()) violations.push_back({"note", "required: what the group did"});
  if (request.note().size() > kMaxNoteBytes) violations.push_back({"note", "at most 1024 bytes"});
  if (request.request_id().size() > kMaxRequestIdBytes) violations.push_back({"request_id", "at most 128 bytes"});
  if (!violations.empty()) return InvalidArgumentError("invalid acknowledgement", violations);
  if (options_.clock->Now() < week->end) return WeekNotEnded(*week);

  // The alert must be one the week raised, computed as a listing would.
  v1::ListTensionAlertsResponse computed;
  REFX_RETURN_IF_ERROR(Compute(agreement, *week, *week, &computed));
  const v1::TensionAlert* alert = nullptr;
  for (const v1::TensionAlert& a : computed.alerts()) {
    if (a.name() == request.name()) alert = &a;
  }
  if (alert == nullptr) {
    return ResourceNotFoundError(absl::StrCat("tension alert ", request.name(), " not found"),
                                 "refx.v1.TensionAlert", request.name(),
                                 "that week did not alert for that area and strand", "TENSION_ALERT_NOT_FOUND");
  }

  storage::TensionAcknowledgement acknowledgement;
  acknowledgement.alert = request.name();
  acknowledgement.week = week->label;
  acknowledgement.agency_id = caller.agency_id;
  acknowledgement.request_id = request.request_id();
  acknowledgement.note = request.note();
  acknowledgement.time = options_.clock->Now();
  // What the answer shows: the alert (aggregate bands), so the event is the
  // listing's disclosure; the note is the group's own.
  Disclosure disclosed;
  disclosed.classes.Add(v1::DATA_CLASS_REFERRAL_CORE);
  disclosed.classes.Add(v1::DATA_CLASS_PROTECTED_CHARACTERISTICS);
  storage::AuditRecord event = options_.auditor->Build(caller, kAcknowledgeMethod, AuditAction::kDisclosure, {},
                                                       disclosed, absl::StatusCode::kOk);
  event.release = absl::StrCat("tension-acknowledgement ", request.name());
  absl::StatusOr<storage::AcknowledgeTensionAlertResult> stored =
      options_.store->AcknowledgeTensionAlert(acknowledgement, event);
  if (absl::IsAlreadyExists(stored.status())) {
    return WithErrorInfo(stored.status(), "ALREADY_ACKNOWLEDGED", {{"alert", request.name()}});
  }
  if (!stored.ok()) return stored.status();
  if (stored->replayed) {
    event.reason = "REPLAYED";
    audit->WriteBeforeAnswer(std::move(event));
  } else {
    audit->recorded = true;  // written with the acknowledgement
  }
  v1::TensionAlert answer = *alert;
  SetAcknowledgement(stored->acknowledgement, &answer);
  return answer;
}

}  // namespace refx::core
