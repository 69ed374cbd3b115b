// Synthetic referrals for a development database (`refx-admin demo seed`),
// so that reports, the tensions monitor and the README's screenshot have
// plausible data without anyone's real case.
//
// A plan is drawn first, from a seeded generator of its own (the same seed
// and partnership give the same plan on any machine): who refers whom, in
// which area and strand, when, and how each referral then goes on (accepted,
// started, completed with an outcome; declined; redirected; withdrawn;
// still awaiting). One rise is planted in the last ended quarter so the monitor has
// something to find. Then the plan runs through the core exactly as calls
// would (validation, the agreement's write gates, the lifecycle, the event
// log and an audit event per change) with a clock walked through the
// months, so the database is one a server opens, verifies and reports on
// like any other.
//
// Every synthetic value says it is synthetic: family name "Demo", e-mail
// addresses at example.org (RFC 2606), narratives opening "[synthetic demo]".
#ifndef REFX_CLIENTS_ADMIN_DEMO_SEED_H_
#define REFX_CLIENTS_ADMIN_DEMO_SEED_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "core/partnership.h"
#include "core/referral_lifecycle.h"
#include "core/referral_manager.h"
#include "refx/v1/referral.pb.h"

namespace refx::admin {

struct DemoPlanOptions {
  int referrals = 5000;  // besides the planted rise
  int months = 18;
  absl::Time end;        // nothing happens at or after this (normally now)
  uint64_t seed = 1;
  absl::TimeZone zone;   // the partnership's calendar (Europe/London)
};

// One change, made by `agency` at `at`.
struct DemoStep {
  absl::Time at;
  int referral = 0;  // index into DemoPlan::referrals
  bool create = false;
  core::LifecycleAction action = core::LifecycleAction::kAccept;  // when !create
  std::string agency;         // registry id of the agency acting
  std::string target_agency;  // redirect: registry id
  v1::DeclineReason decline_reason = v1::DECLINE_REASON_UNSPECIFIED;
  v1::Outcome outcome = v1::OUTCOME_UNSPECIFIED;
  std::string text;  // cancel reason
};

struct DemoPlan {
  std::vector<v1::Referral> referrals;  // as their senders submit them
  std::vector<DemoStep> steps;          // in time order
  // The planted rise: extra referrals of one strand in one area and week.
  std::string spike_area;
  std::string spike_strand;
  std::string spike_week;  // ISO week, e.g. 2026-W45
  int spike_referrals = 0;
};

// INVALID_ARGUMENT when the options are out of range or the partnership has
// no area, strand, or police or community-safety agency to refer with.
absl::StatusOr<DemoPlan> PlanDemo(const core::Partnership& partnership, const DemoPlanOptions& options);

struct DemoSeedOptions {
  core::ReferralManager* manager = nullptr;  // over the database to fill
  const core::Partnership* partnership = nullptr;
  std::shared_ptr<const core::Agreement> agreement;
  FakeClock* clock = nullptr;  // the manager's clock; set to each step's time
  // Called now and then with (steps done, steps in all).
  std::function<void(size_t, size_t)> progress;
};

struct DemoSeedReport {
  int64_t referrals = 0;
  int64_t transitions = 0;
};

// Runs `plan`. A refused step stops the run with its status, naming the step
// (never a synthetic value); what ran before it stays written.
absl::StatusOr<DemoSeedReport> RunDemoPlan(const DemoPlan& plan, const DemoSeedOptions& options);

}  // namespace refx::admin

#endif  // REFX_CLIENTS_ADMIN_DEMO_SEED_H_
