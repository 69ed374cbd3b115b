#include "core/agreement.h"

#include <algorithm>
#include <atomic>

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "common/status_macros.h"
#include "common/yaml_proto.h"
#include "core/partnership.h"

namespace refx::core {
namespace {

using config::v1::Grant;
using config::v1::RoleRules;

bool IsId(absl::string_view id) {
  if (id.empty() || id.size() > 63) return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  }
  return true;
}

template <typename Repeated>
DataClassSet ToSet(const Repeated& classes) {
  DataClassSet set;
  for (int c : classes) set.Add(static_cast<v1::DataClass>(c));
  return set;
}

}  // namespace

Agreement::Agreement(config::v1::Agreement config) : config_(std::move(config)) {
  static std::atomic<uint64_t> next_instance{1};
  instance_ = next_instance.fetch_add(1);
  for (int i = 0; i < config_.roles_size(); ++i) roles_.emplace(config_.roles(i).role(), i);
  // Validated in Create: every priority has one period, the zone loads and
  // every holiday parses.
  for (const auto& d : config_.response_deadlines()) {
    DeadlinePeriod period;
    switch (d.period_case()) {
      case config::v1::ResponseDeadline::kHours:
        period = {DeadlinePeriod::Unit::kHours, d.hours()};
        break;
      case config::v1::ResponseDeadline::kCalendarDays:
        period = {DeadlinePeriod::Unit::kCalendarDays, d.calendar_days()};
        break;
      default:
        period = {DeadlinePeriod::Unit::kWorkingDays, d.working_days()};
        break;
    }
    deadlines_[d.priority()] = period;
  }
  absl::TimeZone zone = absl::UTCTimeZone();
  absl::LoadTimeZone(config_.deadline_time_zone(), &zone);
  std::set<absl::CivilDay> holidays;
  for (const std::string& date : config_.bank_holidays()) {
    absl::CivilDay day;
    if (absl::ParseCivilTime(date, &day)) holidays.insert(day);
  }
  calendar_ = WorkingCalendar(zone, std::move(holidays));
  for (const config::v1::RegimeSuccession& s : config_.regime_successions()) {
    absl::CivilDay day;
    if (!absl::ParseCivilTime(s.effective_date(), &day)) continue;  // refused by Create
    successions_[s.from()] = {s.from(), s.to(), s.effective_date(), absl::FromCivil(day, zone),
                              s.subject_data() == config::v1::RegimeSuccession::PURGE};
  }
}

absl::StatusOr<std::shared_ptr<const Agreement>> Agreement::Create(config::v1::Agreement config,
                                                                   absl::string_view source,
                                                                   const Partnership& partnership) {
  auto bad = [&](absl::string_view key, absl::string_view problem) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", key, ": ", problem));
  };
  if (!IsId(config.id())) return bad("id", "required, [a-z0-9_-]+");
  if (config.version().empty()) return bad("version", "required");
  absl::CivilDay review;
  if (!absl::ParseCivilTime(config.review_date(), &review)) return bad("review_date", "required, YYYY-MM-DD");
  if (config.dpia_reference().empty()) return bad("dpia_reference", "required");

  std::set<std::string> purposes, bases, roles;
  for (int i = 0; i < config.purposes_size(); ++i) {
    const std::string key = absl::StrCat("purposes[", i, "].id");
    if (!IsId(config.purposes(i).id())) return bad(key, "required, [a-z0-9_-]+");
    if (!purposes.insert(config.purposes(i).id()).second) return bad(key, "duplicate purpose");
  }
  for (int i = 0; i < config.lawful_bases_size(); ++i) {
    const std::string key = absl::StrCat("lawful_bases[", i, "]");
    if (!IsId(config.lawful_bases(i).id())) return bad(key + ".id", "required, [a-z0-9_-]+");
    if (config.lawful_bases(i).citation().empty()) return bad(key + ".citation", "required");
    if (!bases.insert(config.lawful_bases(i).id()).second) return bad(key + ".id", "duplicate lawful basis");
  }
  auto check_classes = [&](const std::string& key, const auto& classes) -> absl::Status {
    for (int j = 0; j < classes.size(); ++j) {
      if (classes[j] == v1::DATA_CLASS_UNSPECIFIED) return bad(absl::StrCat(key, "[", j, "]"), "not a data class");
    }
    return absl::OkStatus();
  };
  for (int i = 0; i < config.roles_size(); ++i) {
    const RoleRules& role = config.roles(i);
    const std::string key = absl::StrCat("roles[", i, "]");
    if (role.role().empty()) return bad(key + ".role", "required");
    if (!roles.insert(role.role()).second)
      return bad(key + ".role", absl::StrCat("duplicate role '", role.role(), "'"));
    for (int p : role.permissions()) {
      if (p == config::v1::PERMISSION_UNSPECIFIED) return bad(key + ".permissions", "not a permission");
    }
    std::set<std::string> granted;
    for (int g = 0; g < role.grants_size(); ++g) {
      const Grant& grant = role.grants(g);
      const std::string gkey = absl::StrCat(key, ".grants[", g, "]");
      if (!purposes.count(grant.purpose())) {
        return bad(gkey + ".purpose", absl::StrCat("unknown purpose '", grant.purpose(), "'"));
      }
      if (!granted.insert(grant.purpose()).second) return bad(gkey + ".purpose", "purpose granted twice");
      for (int b = 0; b < grant.lawful_bases_size(); ++b) {
        if (!bases.count(grant.lawful_bases(b))) {
          return bad(absl::StrCat(gkey, ".lawful_bases[", b, "]"),
                     absl::StrCat("unknown lawful basis '", grant.lawful_bases(b), "'"));
        }
      }
      if (grant.read_without_consent_size() > 0 && grant.lawful_bases_size() == 0) {
        return bad(gkey + ".lawful_bases", "read_without_consent needs at least one lawful basis");
      }
      REFX_RETURN_IF_ERROR(check_classes(gkey + ".read_with_consent", grant.read_with_consent()));
      REFX_RETURN_IF_ERROR(check_classes(gkey + ".read_without_consent", grant.read_without_consent()));
      REFX_RETURN_IF_ERROR(check_classes(gkey + ".write", grant.write()));
    }
    const bool needs_purpose = !role.grants().empty();
    if (needs_purpose && !granted.count(role.default_purpose())) {
      return bad(key + ".default_purpose", "must be one of the role's granted purposes");
    }
    // A role that may create referrals must be able to write a valid one
    // under its default purpose, or every create it makes is refused.
    bool creates = false;
    for (int p : role.permissions()) creates = creates || p == config::v1::REFERRAL_CREATE;
    if (creates) {
      for (const Grant& g : role.grants()) {
        if (g.purpose() != role.default_purpose()) continue;
        for (v1::DataClass required : {v1::DATA_CLASS_REFERRAL_CORE, v1::DATA_CLASS_VICTIM_IDENTITY,
                                       v1::DATA_CLASS_PROTECTED_CHARACTERISTICS, v1::DATA_CLASS_INCIDENT_NARRATIVE}) {
          if (!ToSet(g.write()).Contains(required)) {
            return bad(key + ".grants",
                       absl::StrCat("the role may create referrals but its default purpose cannot write ",
                                    v1::DataClass_Name(required), ", which every referral needs"));
          }
        }
      }
    }
  }
  std::set<int> retained;
  for (int i = 0; i < config.retention_size(); ++i) {
    const std::string key = absl::StrCat("retention[", i, "]");
    if (config.retention(i).data_class() == v1::DATA_CLASS_UNSPECIFIED) return bad(key + ".data_class", "required");
    if (!retained.insert(config.retention(i).data_class()).second) return bad(key + ".data_class", "listed twice");
    if (config.retention(i).days() <= 0) return bad(key + ".days", "must be positive");
  }
  // The routing record's period ending deletes the referral with all it
  // still holds, so no class may be promised a longer one, and operational
  // data (no victim data) has no period of its own.
  for (const config::v1::Retention& routing : config.retention()) {
    if (routing.data_class() != v1::DATA_CLASS_REFERRAL_CORE) continue;
    for (int i = 0; i < config.retention_size(); ++i) {
      const config::v1::Retention& retention = config.retention(i);
      if (retention.data_class() == v1::DATA_CLASS_OPERATIONAL && retention.days() != routing.days()) {
        return bad(absl::StrCat("retention[", i, "].days"),
                   absl::StrCat("DATA_CLASS_OPERATIONAL is deleted with the routing record: list it with "
                                "DATA_CLASS_REFERRAL_CORE's ",
                                routing.days(), " days or not at all"));
      }
      if (retention.days() > routing.days()) {
        return bad(absl::StrCat("retention[", i, "].days"),
                   absl::StrCat("longer than DATA_CLASS_REFERRAL_CORE's ", routing.days(),
                                " days, when the referral and everything it holds are deleted"));
      }
    }
  }
  if (config.abandoned_after_days() < 0) return bad("abandoned_after_days", "must be 0 (never) or positive");
  // Response deadlines: one period per priority, in a zone this host knows.
  if (config.deadline_time_zone().empty()) config.set_deadline_time_zone("Europe/London");
  absl::TimeZone zone;
  if (!absl::LoadTimeZone(config.deadline_time_zone(), &zone)) {
    return bad("deadline_time_zone",
               absl::StrCat("unknown time zone '", config.deadline_time_zone(), "' (is tzdata installed?)"));
  }
  std::set<int> priorities;
  for (int i = 0; i < config.response_deadlines_size(); ++i) {
    const config::v1::ResponseDeadline& d = config.response_deadlines(i);
    const std::string key = absl::StrCat("response_deadlines[", i, "]");
    if (d.priority() == v1::PRIORITY_UNSPECIFIED) return bad(key + ".priority", "required");
    if (!priorities.insert(d.priority()).second) return bad(key + ".priority", "listed twice");
    int amount = 0;
    int max = 366;
    switch (d.period_case()) {
      case config::v1::ResponseDeadline::kHours:
        amount = d.hours();
        max = 24 * 366;
        break;
      case config::v1::ResponseDeadline::kCalendarDays:
        amount = d.calendar_days();
        break;
      case config::v1::ResponseDeadline::kWorkingDays:
        amount = d.working_days();
        break;
      default:
        return bad(key, "needs one of hours, calendar_days, working_days");
    }
    if (amount <= 0 || amount > max) return bad(key, absl::StrCat("the period must be between 1 and ", max));
  }
  for (int p = 0; p < v1::Priority_descriptor()->value_count(); ++p) {
    const auto* value = v1::Priority_descriptor()->value(p);
    if (value->number() != v1::PRIORITY_UNSPECIFIED && !priorities.count(value->number())) {
      return bad("response_deadlines", absl::StrCat("no period for ", value->name()));
    }
  }
  std::set<absl::CivilDay> holidays;
  for (int i = 0; i < config.bank_holidays_size(); ++i) {
    const std::string key = absl::StrCat("bank_holidays[", i, "]");
    absl::CivilDay day;
    if (!absl::ParseCivilTime(config.bank_holidays(i), &day)) return bad(key, "must be a date, YYYY-MM-DD");
    if (!holidays.insert(day).second) return bad(key, "listed twice");
  }
  // Recording regimes: refx knows the rules of one succession, the Code's
  // replacement after the 2026 review; what happens to subject data is the
  // partnership's decision, never a default.
  std::set<int> replaced;
  for (int i = 0; i < config.regime_successions_size(); ++i) {
    const config::v1::RegimeSuccession& s = config.regime_successions(i);
    const std::string key = absl::StrCat("regime_successions[", i, "]");
    if (s.from() != v1::NCHI_COP_2023) {
      return bad(key + ".from", "must be NCHI_COP_2023 (the one succession refx knows)");
    }
    if (!replaced.insert(s.from()).second) return bad(key + ".from", "listed twice");
    if (s.to() != v1::POLICE_POST_REVIEW) return bad(key + ".to", "must be POLICE_POST_REVIEW");
    absl::CivilDay day;
    if (!absl::ParseCivilTime(s.effective_date(), &day)) return bad(key + ".effective_date", "required, YYYY-MM-DD");
    if (s.subject_data() != config::v1::RegimeSuccession::KEEP &&
        s.subject_data() != config::v1::RegimeSuccession::PURGE) {
      return bad(key + ".subject_data",
                 "required: KEEP or PURGE (the partnership decides what happens to subject data)");
    }
  }
  // Aggregates: the rules every release applies, defaults filled in.
  config::v1::StatisticalDisclosure& sdc = *config.mutable_statistical_disclosure();
  if (sdc.suppress_below() == 0) sdc.set_suppress_below(8);
  if (sdc.round_to() == 0) sdc.set_round_to(5);
  if (sdc.source().empty() && sdc.suppress_below() == 8 && sdc.round_to() == 5) {
    sdc.set_source("NHS Digital rule for sub-national counts");
  }
  if (sdc.release_period() == config::v1::RELEASE_PERIOD_UNSPECIFIED) {
    sdc.set_release_period(config::v1::RELEASE_PERIOD_QUARTER);
  }
  if (absl::Status rules = reporting::CheckDisclosureRules({sdc.suppress_below(), sdc.round_to()}); !rules.ok()) {
    return bad("statistical_disclosure", std::string(rules.message()));
  }
  config::v1::TensionMonitoring& tension = *config.mutable_tension_monitoring();
  if (tension.baseline_weeks() == 0) tension.set_baseline_weeks(12);
  if (tension.false_alarm_rate() == 0) tension.set_false_alarm_rate(0.001);
  if (tension.minimum_count() == 0) tension.set_minimum_count(5);
  if (absl::Status rules = reporting::CheckTensionRules(
          {tension.baseline_weeks(), tension.false_alarm_rate(), tension.minimum_count()});
      !rules.ok()) {
    return bad("tension_monitoring", std::string(rules.message()));
  }
  // Former parties: the routing facts at least, by default nothing more.
  config::v1::FormerParties& former = *config.mutable_former_parties();
  if (former.read_size() == 0) former.add_read(v1::DATA_CLASS_REFERRAL_CORE);
  std::set<int> former_classes;
  for (int i = 0; i < former.read_size(); ++i) {
    const std::string key = absl::StrCat("former_parties.read[", i, "]");
    if (former.read(i) == v1::DATA_CLASS_UNSPECIFIED) return bad(key, "must name a data class");
    if (!former_classes.insert(former.read(i)).second) return bad(key, "listed twice");
  }
  if (!former_classes.count(v1::DATA_CLASS_REFERRAL_CORE)) {
    return bad("former_parties.read", "must include DATA_CLASS_REFERRAL_CORE: a party always sees the routing facts");
  }
  for (const auto& agency : partnership.config().agencies()) {
    if (!roles.count(agency.role())) {
      return bad("roles", absl::StrCat("no rules for role '", agency.role(), "' of agency ", agency.id()));
    }
  }
  return std::shared_ptr<const Agreement>(new Agreement(std::move(config)));
}

absl::StatusOr<std::shared_ptr<const Agreement>> Agreement::Load(const std::string& path,
                                                                 const Partnership& partnership) {
  config::v1::Agreement config;
  REFX_RETURN_IF_ERROR(ReadYamlFileToProto(path, &config));
  return Create(std::move(config), path, partnership);
}

std::string Agreement::Label() const { return absl::StrCat(config_.id(), "@", config_.version()); }

bool Agreement::Allows(absl::string_view role, config::v1::Permission permission) const {
  auto it = roles_.find(role);
  if (it == roles_.end()) return false;
  for (int p : config_.roles(it->second).permissions()) {
    if (p == permission) return true;
  }
  return false;
}

absl::StatusOr<std::string> Agreement::ResolvePurpose(absl::string_view role, absl::string_view requested) const {
  auto it = roles_.find(role);
  if (it == roles_.end()) return absl::PermissionDeniedError("this agency's role has no rules in the agreement");
  const RoleRules& rules = config_.roles(it->second);
  const std::string purpose = requested.empty() ? rules.default_purpose() : std::string(requested);
  for (const Grant& g : rules.grants()) {
    if (g.purpose() == purpose) return purpose;
  }
  if (requested.empty()) return std::string();  // roles without grants read nothing
  return absl::PermissionDeniedError(
      absl::StrCat("the agreement grants this agency's role nothing for purpose '", purpose, "'"));
}

const Grant* Agreement::GrantFor(const Caller& caller) const {
  auto it = roles_.find(caller.role);
  if (it == roles_.end()) return nullptr;
  for (const Grant& g : config_.roles(it->second).grants()) {
    if (g.purpose() == caller.purpose) return &g;
  }
  return nullptr;
}

DataClassSet Agreement::ReadableClasses(const Caller& caller, const v1::Referral& referral) const {
  DataClassSet readable = GrantedClasses(caller, referral);
  if (IsFormerParty(caller, referral)) readable.RetainOnly(ToSet(config_.former_parties().read()));
  return readable;
}

DataClassSet Agreement::GrantedClasses(const Caller& caller, const v1::Referral& referral) const {
  const Grant* grant = GrantFor(caller);
  if (grant == nullptr) return {};
  const auto& consent = referral.victim().consent();
  if (consent.status() == v1::Consent::GIVEN) return ToSet(grant->read_with_consent());
  for (const std::string& basis : grant->lawful_bases()) {
    if (basis == consent.lawful_basis()) return ToSet(grant->read_without_consent());
  }
  // No consent and no basis this grant accepts: only the routing facts the
  // parties need to handle the referral at all.
  DataClassSet core;
  if (ToSet(grant->read_with_consent()).Contains(v1::DATA_CLASS_REFERRAL_CORE)) core.Add(v1::DATA_CLASS_REFERRAL_CORE);
  return core;
}

bool Agreement::IsFormerParty(const Caller& caller, const v1::Referral& referral) {
  const std::string me = AgencyName(caller.agency_id);
  const auto& redirected = referral.redirected_agencies();
  return std::find(redirected.begin(), redirected.end(), me) != redirected.end();
}

ReadView Agreement::ViewOf(const Caller& caller, const v1::Referral& referral) const {
  const Grant* grant = GrantFor(caller);
  return ReadView{ReadableClasses(caller, referral),
                  grant != nullptr && grant->read_derived() && !IsFormerParty(caller, referral)};
}

DataClassSet Agreement::MaxReadableClasses(const Caller& caller) const {
  const Grant* grant = GrantFor(caller);
  return grant == nullptr ? DataClassSet() : ToSet(grant->read_with_consent());
}

DataClassSet Agreement::WritableClasses(const Caller& caller) const {
  const Grant* grant = GrantFor(caller);
  return grant == nullptr ? DataClassSet() : ToSet(grant->write());
}

bool Agreement::RecordVisible(const Caller& caller, const v1::Referral& referral) const {
  auto it = roles_.find(caller.role);
  if (it == roles_.end()) return false;
  return !config_.roles(it->second).prevent_relevant_only() || referral.prevent_concern();
}

v1::RecordingRegime Agreement::RegimeInForce(v1::RecordingRegime regime, absl::Time at) const {
  auto it = successions_.find(regime);
  return it != successions_.end() && at >= it->second.effective ? it->second.to : regime;
}

std::vector<Agreement::RegimeSuccession> Agreement::regime_successions() const {
  std::vector<RegimeSuccession> out;
  for (const auto& [from, succession] : successions_) out.push_back(succession);
  return out;
}

bool Agreement::NchiCodeApplies(absl::string_view role) const {
  auto it = roles_.find(role);
  return it != roles_.end() && config_.roles(it->second).nchi_code_applies();
}

absl::Time Agreement::ResponseDeadline(v1::Priority priority, absl::Time from) const {
  auto it = deadlines_.find(priority == v1::PRIORITY_UNSPECIFIED ? v1::PRIORITY_ROUTINE : priority);
  // Unreachable after validation; a referral without a period is due at once
  // rather than never, so that it cannot be forgotten.
  if (it == deadlines_.end()) return from;
  return calendar_.Add(from, it->second);
}

bool Agreement::IsLawfulBasis(absl::string_view id) const {
  for (const auto& b : config_.lawful_bases()) {
    if (b.id() == id) return true;
  }
  return false;
}

reporting::DisclosureRules Agreement::disclosure_rules() const {
  return reporting::DisclosureRules{config_.statistical_disclosure().suppress_below(),
                                    config_.statistical_disclosure().round_to()};
}

reporting::PeriodKind Agreement::release_period() const {
  switch (config_.statistical_disclosure().release_period()) {
    case config::v1::RELEASE_PERIOD_MONTH: return reporting::PeriodKind::kMonth;
    case config::v1::RELEASE_PERIOD_YEAR: return reporting::PeriodKind::kYear;
    default: return reporting::PeriodKind::kQuarter;
  }
}

reporting::TensionRules Agreement::tension_rules() const {
  const config::v1::TensionMonitoring& t = config_.tension_monitoring();
  return reporting::TensionRules{t.baseline_weeks(), t.false_alarm_rate(), t.minimum_count()};
}

}  // namespace refx::core
