// The community-tensions monitor's detector: is this week's count of
// referrals for one area and strand unusually high against the weeks before?
//
// Method (a conditional Poisson test, documented in docs/reporting.md): let x
// be this week's count and s the sum over the previous `baseline_weeks`
// weeks. If the weekly rate has not changed, then whatever that rate is, x
// given x + s is Binomial(x + s, 1 / (baseline_weeks + 1)). The week alerts
// when the upper tail P(X >= x) is at most `false_alarm_rate` and x is at
// least `minimum_count`. Because the test conditions on the total, its
// false-alarm probability is at most `false_alarm_rate` for each series and
// week whatever the (unknown, unestimated) rate, and the bound the tests
// check holds without a fitted baseline. Weeks with fewer than
// `baseline_weeks` before them are not tested.
//
// No personal data enters or leaves: counts in, (week, count, baseline) out.
#ifndef REFX_CORE_REPORTING_TENSION_MONITOR_H_
#define REFX_CORE_REPORTING_TENSION_MONITOR_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"

namespace refx::core::reporting {

struct TensionRules {
  int baseline_weeks = 12;
  // Upper bound on the chance that a week with no change in rate alerts.
  double false_alarm_rate = 0.001;
  // A rise to fewer referrals than this never alerts, however unusual.
  int64_t minimum_count = 5;
};

absl::Status CheckTensionRules(const TensionRules& rules);

struct TensionAlert {
  int week = 0;            // index into the series
  int64_t count = 0;       // that week's count
  double baseline = 0;     // mean weekly count over the baseline weeks
  double tail_probability = 0;  // P(X >= count) under no change
};

// The weeks of `weekly_counts` (oldest first) that alert under `rules`.
// Rules must pass CheckTensionRules.
std::vector<TensionAlert> DetectRises(const std::vector<int64_t>& weekly_counts, const TensionRules& rules);

// P(X >= k) for X ~ Binomial(n, p), accurate in the far tail.
double BinomialUpperTail(int64_t n, int64_t k, double p);

}  // namespace refx::core::reporting

#endif  // REFX_CORE_REPORTING_TENSION_MONITOR_H_
