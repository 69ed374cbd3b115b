#include "clients/admin/demo_seed.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numbers>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "common/status_details.h"
#include "core/method_permissions.h"
#include "core/reporting/iso_week.h"

namespace refx::admin {
namespace {

// A small generator of our own (splitmix64) and our own draws from it: the
// standard library's distributions differ between implementations, and the
// same seed must give the same demo everywhere.
class Draw {
 public:
  explicit Draw(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  bool Chance(double p) { return Uniform() < p; }
  int Below(int n) { return static_cast<int>(Uniform() * n); }
  // Log-normal with the given median and log-scale spread (Box-Muller).
  double LogNormal(double median, double sigma) {
    const double u = std::max(Uniform(), 1e-12);
    const double normal = std::sqrt(-2.0 * std::log(u)) * std::cos(2.0 * std::numbers::pi * Uniform());
    return median * std::exp(sigma * normal);
  }
  // An index drawn with the given (not necessarily normalised) weights.
  size_t Weighted(const std::vector<double>& weights) {
    double total = 0;
    for (double w : weights) total += w;
    double pick = Uniform() * total;
    for (size_t i = 0; i < weights.size(); ++i) {
      if (pick < weights[i]) return i;
      pick -= weights[i];
    }
    return weights.size() - 1;
  }

 private:
  uint64_t state_;
};

// Rough shares of LLR's recorded hate by strand (race the largest by far);
// a strand the partnership adds that is not listed gets a small share.
double StrandWeight(const std::string& id) {
  static const std::map<std::string, double> kWeights = {
      {"race", 55}, {"sexual_orientation", 15}, {"religion_or_belief", 12}, {"disability", 9},
      {"transgender_identity", 6}};
  const auto it = kWeights.find(id);
  return it == kWeights.end() ? 3 : it->second;
}

constexpr const char* kGivenNames[] = {"Alex", "Sam", "Jordan", "Priya", "Amir", "Chen", "Maria", "Tomasz",
                                       "Aisha", "Kofi", "Leah", "Ravi", "Nadia", "Owen", "Zara", "Ellis"};
constexpr const char* kPlatforms[] = {"social media", "messaging app", "online gaming", "video sharing"};

// The agencies that can take part in a referral in one area.
struct AreaAgencies {
  std::string police;   // a police-role agency covering the area
  std::string council;  // the most local community-safety agency covering it
  std::string health;   // a health-role agency covering it
};

std::map<std::string, AreaAgencies> AgenciesByArea(const config::v1::Partnership& p) {
  std::map<std::string, AreaAgencies> out;
  std::map<std::string, int> council_reach;
  for (const auto& agency : p.agencies()) {
    for (const auto& area : agency.areas()) {
      AreaAgencies& a = out[area];
      if (agency.role() == "police" && a.police.empty()) a.police = agency.id();
      if (agency.role() == "health" && a.health.empty()) a.health = agency.id();
      if (agency.role() == "community_safety" &&
          (a.council.empty() || agency.areas_size() < council_reach[area])) {
        a.council = agency.id();
        council_reach[area] = agency.areas_size();
      }
    }
  }
  return out;
}

struct Actors {
  std::string sender;
  std::string recipient;
  v1::ReportingChannel channel = v1::REPORTING_CHANNEL_POLICE;
};

// Who refers whom: mostly the police (to the local council or the health
// partnership), then councils, including third-party reporting centres (to
// the police), then the health partnership (to the council). A sender
// without anyone to refer to in the area gets no weight.
std::vector<double> SenderWeights(const AreaAgencies& a) {
  return {a.police.empty() || (a.council.empty() && a.health.empty()) ? 0.0 : 70.0,
          a.council.empty() || (a.police.empty() && a.health.empty()) ? 0.0 : 20.0,
          a.health.empty() || a.council.empty() ? 0.0 : 10.0};
}

Actors ChooseActors(const AreaAgencies& a, Draw& draw) {
  Actors actors;
  switch (draw.Weighted(SenderWeights(a))) {
    case 0:
      actors.sender = a.police;
      actors.recipient = (a.health.empty() || (!a.council.empty() && draw.Chance(0.75))) ? a.council : a.health;
      actors.channel = draw.Chance(0.8)   ? v1::REPORTING_CHANNEL_POLICE
                       : draw.Chance(0.6) ? v1::REPORTING_CHANNEL_ONLINE_FORM
                                          : v1::REPORTING_CHANNEL_THIRD_PARTY_CENTRE;
      break;
    case 1:
      actors.sender = a.council;
      actors.recipient = a.police.empty() ? a.health : a.police;
      actors.channel = draw.Chance(0.55) ? v1::REPORTING_CHANNEL_COUNCIL : v1::REPORTING_CHANNEL_THIRD_PARTY_CENTRE;
      break;
    default:
      actors.sender = a.health;
      actors.recipient = a.council;
      actors.channel = v1::REPORTING_CHANNEL_HEALTH;
      break;
  }
  return actors;
}

constexpr const char* kReligions[] = {"Muslim", "Jewish", "Sikh", "Hindu", "Christian"};
constexpr const char* kOtherGroups[] = {"alternative subculture", "sex workers", "people experiencing homelessness"};

v1::Referral SyntheticReferral(const core::Partnership& partnership, const std::string& area,
                               const std::string& strand, const Actors& actors, int victim, Draw& draw) {
  v1::Referral r;
  r.set_report_type(draw.Chance(0.65) ? v1::HATE_CRIME : v1::HATE_INCIDENT);
  auto* s = r.add_strands();
  s->set_strand(strand);
  s->set_basis(v1::Strand::PERCEIVED);
  if (const auto* definition = partnership.FindStrand(strand); definition != nullptr) {
    if (definition->requires_targeted_religion()) s->set_targeted_religion(kReligions[draw.Below(std::size(kReligions))]);
    if (definition->requires_group_description()) s->set_other_group(kOtherGroups[draw.Below(std::size(kOtherGroups))]);
  }
  r.set_perceived_by(draw.Chance(0.85) ? v1::PERCEIVED_BY_VICTIM : v1::PERCEIVED_BY_WITNESS);
  r.set_reporting_channel(actors.channel);
  r.set_area(area);
  r.set_priority(draw.Chance(0.12) ? v1::PRIORITY_URGENT : v1::PRIORITY_ROUTINE);
  if (draw.Chance(0.2)) {
    r.set_online(true);
    r.set_online_platform(kPlatforms[draw.Below(std::size(kPlatforms))]);
  }
  r.set_incident_narrative(
      absl::StrCat("[synthetic demo] ", r.online() ? "Online " : "", strand, " hate reported in ", area, "."));
  auto* v = r.mutable_victim();
  v->set_given_name(kGivenNames[victim % std::size(kGivenNames)]);
  v->set_family_name("Demo");
  // One address per synthetic person: the repeat-victim tokens match a
  // person's later referrals by it.
  v->set_email(absl::StrCat("demo-victim-", victim, "@example.org"));
  if (draw.Chance(0.85)) {
    v->mutable_consent()->set_status(v1::Consent::GIVEN);
  } else {
    v->mutable_consent()->set_status(v1::Consent::NOT_ASKED);
    v->mutable_consent()->set_lawful_basis("cda-1998-s115");
  }
  r.add_recipient_agencies(absl::StrCat("agencies/", actors.recipient));
  return r;
}

DemoStep Step(absl::Time at, int referral, core::LifecycleAction action, const std::string& agency) {
  DemoStep step;
  step.at = at;
  step.referral = referral;
  step.action = action;
  step.agency = agency;
  return step;
}

// How a referral goes on after it is made, cut at `end`.
void PlanLifecycle(int index, absl::Time created, const Actors& actors, const AreaAgencies& area, absl::Time end,
                   Draw& draw, std::vector<DemoStep>* steps) {
  auto hours = [](double h) { return absl::Seconds(static_cast<int64_t>(h * 3600)); };
  auto add = [&](DemoStep step) {
    if (step.at >= end) return false;
    steps->push_back(std::move(step));
    return true;
  };
  std::string responder = actors.recipient;
  // Councils answer within a day or two, the police and health sooner or later.
  const double median_hours = responder == area.police ? 14 : responder == area.council ? 30 : 44;
  absl::Time at = created + hours(draw.LogNormal(median_hours, 0.9));
  const double fate = draw.Uniform();
  if (fate < 0.02) {
    DemoStep cancel = Step(created + (at - created) / 2, index, core::LifecycleAction::kCancel, actors.sender);
    cancel.text = "[synthetic demo] withdrawn by the sender";
    add(std::move(cancel));
    return;
  }
  if (fate < 0.08) {
    DemoStep decline = Step(at, index, core::LifecycleAction::kDecline, responder);
    decline.decline_reason = draw.Chance(0.5) ? v1::DECLINE_REASON_NO_CAPACITY : v1::DECLINE_REASON_NOT_ELIGIBLE;
    add(std::move(decline));
    return;
  }
  if (fate < 0.11) {
    // Passed on to the health partnership, else the council, else the police.
    std::string target;
    for (const std::string* candidate : {&area.health, &area.council, &area.police}) {
      if (!candidate->empty() && *candidate != responder && *candidate != actors.sender) {
        target = *candidate;
        break;
      }
    }
    if (!target.empty()) {
      DemoStep redirect = Step(at, index, core::LifecycleAction::kRedirect, responder);
      redirect.target_agency = target;
      if (!add(std::move(redirect))) return;
      responder = target;
      at += hours(draw.LogNormal(36, 0.8));
    }
  }
  if (!add(Step(at, index, core::LifecycleAction::kAccept, responder))) return;
  if (draw.Chance(0.6)) {
    at += hours(draw.LogNormal(40, 0.7));
    if (!add(Step(at, index, core::LifecycleAction::kStart, responder))) return;
  }
  at += hours(draw.LogNormal(24 * 18, 0.7));
  DemoStep complete = Step(at, index, core::LifecycleAction::kComplete, responder);
  static const std::vector<double> kOutcomeWeights = {55, 15, 15, 10, 5};
  static const v1::Outcome kOutcomes[] = {v1::OUTCOME_SUPPORTED, v1::OUTCOME_SUPPORT_DECLINED, v1::OUTCOME_NO_CONTACT,
                                          v1::OUTCOME_REFERRED_ON, v1::OUTCOME_OTHER};
  complete.outcome = kOutcomes[draw.Weighted(kOutcomeWeights)];
  add(std::move(complete));
}

}  // namespace

absl::StatusOr<DemoPlan> PlanDemo(const core::Partnership& partnership, const DemoPlanOptions& options) {
  if (options.referrals < 1 || options.referrals > 1000000) {
    return absl::InvalidArgumentError("--referrals must be from 1 to 1000000");
  }
  if (options.months < 3 || options.months > 120) return absl::InvalidArgumentError("--months must be from 3 to 120");
  const auto& config = partnership.config();
  const auto by_area = AgenciesByArea(config);
  std::vector<std::string> areas;
  std::vector<double> area_weights;
  for (const auto& area : config.areas()) {
    const auto it = by_area.find(area.id());
    if (it == by_area.end()) continue;
    const std::vector<double> senders = SenderWeights(it->second);
    if (std::all_of(senders.begin(), senders.end(), [](double w) { return w == 0; })) continue;
    areas.push_back(area.id());
    // The first area (LLR: the city) holds about a third of the population.
    area_weights.push_back(areas.size() == 1 ? 4.0 : 1.0);
  }
  std::vector<std::string> strands;
  std::vector<double> strand_weights;
  for (const auto& strand : config.strands()) {
    strands.push_back(strand.id());
    strand_weights.push_back(StrandWeight(strand.id()));
  }
  if (areas.empty() || strands.empty()) {
    return absl::InvalidArgumentError(
        "the partnership has no strand, or no area where a police, community-safety or health agency has "
        "another to refer to: nothing to refer");
  }

  Draw draw(options.seed);
  DemoPlan plan;
  const absl::CivilDay last_day = absl::ToCivilDay(options.end, options.zone);
  const absl::Time start =
      absl::FromCivil(absl::CivilMonth(last_day) - options.months + 1, options.zone);  // first day of the month
  const double span_seconds = absl::ToDoubleSeconds(options.end - start);
  // A victim pool a little smaller than the referrals: about one referral
  // in eight is a person's second or later.
  const int victims = std::max(1, options.referrals * 7 / 8);

  // The planted rise: in the last whole week of the last ended quarter, so
  // that both the quarter's report and the monitor's recent weeks show it;
  // in the third area (LLR: Charnwood) and the third strand by weight
  // (religion or belief).
  const absl::CivilMonth this_month(last_day);
  const absl::CivilDay quarter_start(this_month.year(), (this_month.month() - 1) / 3 * 3 + 1, 1);
  auto spike_week = core::reporting::WeekOf(quarter_start - 1, options.zone);
  if (spike_week.end > absl::FromCivil(quarter_start, options.zone)) {
    spike_week = core::reporting::WeeksAfter(spike_week, -1, options.zone);
  }
  plan.spike_area = areas[std::min<size_t>(2, areas.size() - 1)];
  {
    std::vector<size_t> order(strands.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return strand_weights[a] > strand_weights[b]; });
    plan.spike_strand = strands[order[std::min<size_t>(2, order.size() - 1)]];
  }
  plan.spike_week = spike_week.label;
  plan.spike_referrals = spike_week.start >= start ? std::max(12, options.referrals / 200) : 0;

  struct Made {
    absl::Time at;
    std::string area;
    std::string strand;
  };
  std::vector<Made> made;
  made.reserve(options.referrals + plan.spike_referrals);
  while (static_cast<int>(made.size()) < options.referrals) {
    // A gentle rise over the period (reporting grows as confidence does).
    const double f = draw.Uniform();
    if (!draw.Chance((0.8 + 0.4 * f) / 1.2)) continue;
    absl::Time at = start + absl::Seconds(static_cast<int64_t>(f * span_seconds));
    made.push_back({at, areas[draw.Weighted(area_weights)], strands[draw.Weighted(strand_weights)]});
  }
  for (int i = 0; i < plan.spike_referrals; ++i) {
    const absl::Time at = spike_week.start + absl::Seconds(static_cast<int64_t>(
                                                 draw.Uniform() * absl::ToDoubleSeconds(spike_week.end - spike_week.start)));
    made.push_back({std::min(at, options.end - absl::Seconds(1)), plan.spike_area, plan.spike_strand});
  }
  std::stable_sort(made.begin(), made.end(), [](const Made& a, const Made& b) { return a.at < b.at; });

  for (const Made& m : made) {
    const int index = static_cast<int>(plan.referrals.size());
    const AreaAgencies& area = by_area.at(m.area);
    const Actors actors = ChooseActors(area, draw);
    plan.referrals.push_back(SyntheticReferral(partnership, m.area, m.strand, actors, draw.Below(victims), draw));
    DemoStep create;
    create.at = m.at;
    create.referral = index;
    create.create = true;
    create.agency = actors.sender;
    plan.steps.push_back(std::move(create));
    PlanLifecycle(index, m.at, actors, area, options.end, draw, &plan.steps);
  }
  std::stable_sort(plan.steps.begin(), plan.steps.end(),
                   [](const DemoStep& a, const DemoStep& b) { return a.at < b.at; });
  return plan;
}

absl::StatusOr<DemoSeedReport> RunDemoPlan(const DemoPlan& plan, const DemoSeedOptions& options) {
  DemoSeedReport report;
  std::vector<std::string> names(plan.referrals.size());
  std::vector<std::string> etags(plan.referrals.size());
  std::map<std::pair<std::string, std::string>, core::Caller> callers;  // (agency, method)
  auto caller_for = [&](const std::string& agency, const std::string& method) -> absl::StatusOr<core::Caller> {
    const auto key = std::make_pair(agency, method);
    if (auto it = callers.find(key); it != callers.end()) return it->second;
    const config::v1::Agency* found = options.partnership->FindAgency(agency);
    if (found == nullptr) return absl::InvalidArgumentError(absl::StrCat("no agency ", agency));
    core::Caller caller;
    caller.agency_id = agency;
    caller.display_name = found->display_name();
    caller.agency_type = config::v1::AgencyType_Name(found->type());
    caller.role = found->role();
    caller.spiffe_id = options.partnership->SpiffeIdOf(agency);
    caller.certificate_serial = "00";  // no certificate: written by refx-admin demo seed
    caller.certificate_not_after = absl::InfiniteFuture();
    caller.acting_user = "refx-admin demo seed";
    auto admitted = core::AdmitCall(caller, method, options.agreement, "");
    if (!admitted.ok()) return admitted.status();
    callers.emplace(key, *admitted);
    return *std::move(admitted);
  };

  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const DemoStep& step = plan.steps[i];
    options.clock->Set(step.at);
    const std::string what = step.create ? "create" : core::LifecycleActionName(step.action);
    // Field violations name fields and rules, never values.
    auto fail = [&](const absl::Status& status) {
      std::string why(status.message());
      for (const auto& v : FieldViolationsOf(status)) absl::StrAppend(&why, "; ", v.field, ": ", v.description);
      return absl::Status(status.code(), absl::StrCat("step ", i + 1, " (", what, " of synthetic referral ",
                                                      step.referral + 1, " by ", step.agency, "): ", why));
    };
    const std::string request_id = absl::StrCat("demo-seed-", step.referral, "-", i);
    if (step.create) {
      const std::string method = "refx.v1.ReferralService.CreateReferral";
      auto caller = caller_for(step.agency, method);
      if (!caller.ok()) return fail(caller.status());
      core::CallAudit audit{method};
      auto created = options.manager->CreateReferral(*caller, plan.referrals[step.referral], request_id, &audit);
      if (!created.ok()) return fail(created.status());
      names[step.referral] = created->name();
      etags[step.referral] = created->etag();
      ++report.referrals;
    } else {
      const std::string method = absl::StrCat("refx.v1.ReferralService.", core::LifecycleMethodName(step.action));
      auto caller = caller_for(step.agency, method);
      if (!caller.ok()) return fail(caller.status());
      core::TransitionParams params;
      params.action = step.action;
      params.name = names[step.referral];
      params.request_id = request_id;
      params.etag = etags[step.referral];
      params.decline_reason = step.decline_reason;
      params.outcome = step.outcome;
      params.text = step.text;
      if (!step.target_agency.empty()) params.target_agency = absl::StrCat("agencies/", step.target_agency);
      core::CallAudit audit{method};
      auto changed = options.manager->Transition(*caller, params, &audit);
      if (!changed.ok()) return fail(changed.status());
      etags[step.referral] = changed->etag();
      ++report.transitions;
    }
    if (options.progress && ((i + 1) % 500 == 0 || i + 1 == plan.steps.size())) {
      options.progress(i + 1, plan.steps.size());
    }
  }
  return report;
}

}  // namespace refx::admin
