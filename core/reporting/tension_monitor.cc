#include "core/reporting/tension_monitor.h"

#include <cmath>

namespace refx::core::reporting {

absl::Status CheckTensionRules(const TensionRules& rules) {
  if (rules.baseline_weeks < 1 || rules.baseline_weeks > 520) {
    return absl::InvalidArgumentError("baseline_weeks must be between 1 and 520");
  }
  if (!(rules.false_alarm_rate > 0 && rules.false_alarm_rate < 0.5)) {
    return absl::InvalidArgumentError("false_alarm_rate must be above 0 and below 0.5");
  }
  if (rules.minimum_count < 1) return absl::InvalidArgumentError("minimum_count must be at least 1");
  return absl::OkStatus();
}

double BinomialUpperTail(int64_t n, int64_t k, double p) {
  if (k <= 0) return 1;
  if (k > n) return 0;
  // Sum the terms from k up in log space: each term's log is exact through
  // lgamma, and the terms fall fast past the mean, so the sum stops early.
  const double log_p = std::log(p), log_q = std::log1p(-p);
  const double log_n_factorial = std::lgamma(static_cast<double>(n) + 1);
  double sum = 0;
  for (int64_t i = k; i <= n; ++i) {
    const double log_term = log_n_factorial - std::lgamma(static_cast<double>(i) + 1) -
                            std::lgamma(static_cast<double>(n - i) + 1) + static_cast<double>(i) * log_p +
                            static_cast<double>(n - i) * log_q;
    const double term = std::exp(log_term);
    sum += term;
    if (static_cast<double>(i) > static_cast<double>(n) * p && term < sum * 1e-17) break;
  }
  return std::min(1.0, sum);
}

std::vector<TensionAlert> DetectRises(const std::vector<int64_t>& weekly_counts, const TensionRules& rules) {
  std::vector<TensionAlert> alerts;
  const int weeks = static_cast<int>(weekly_counts.size());
  const double share = 1.0 / (rules.baseline_weeks + 1);
  int64_t baseline_sum = 0;
  for (int w = 0; w < weeks; ++w) {
    if (w >= rules.baseline_weeks) {
      const int64_t count = weekly_counts[w];
      if (count >= rules.minimum_count) {
        const double tail = BinomialUpperTail(count + baseline_sum, count, share);
        if (tail <= rules.false_alarm_rate) {
          alerts.push_back(TensionAlert{w, count, static_cast<double>(baseline_sum) / rules.baseline_weeks, tail});
        }
      }
      baseline_sum -= weekly_counts[w - rules.baseline_weeks];
    }
    baseline_sum += weekly_counts[w];
  }
  return alerts;
}

}  // namespace refx::core::reporting
