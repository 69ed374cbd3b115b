#include "core/reporting/response_times.h"

#include <algorithm>

namespace refx::core::reporting {

const std::vector<std::string>& FirstResponseBands() {
  static const auto* kBands = new std::vector<std::string>{
      "within 1 day", "1 to 3 days", "3 to 7 days", "over 7 days",
      "withdrawn unanswered", "awaiting, overdue", "awaiting, not yet due"};
  return *kBands;
}

int FirstResponseBand(const ReferralTimeline& t, absl::Time period_end) {
  if (t.first_response && *t.first_response < period_end) {
    const absl::Duration taken = *t.first_response - t.create;
    if (taken < absl::Hours(24)) return 0;
    if (taken < absl::Hours(72)) return 1;
    if (taken < absl::Hours(168)) return 2;
    return 3;
  }
  if (t.withdrawn && *t.withdrawn < period_end) return 4;
  return t.deadline < period_end ? 5 : 6;
}

const std::vector<std::string>& CompletionBands() {
  static const auto* kBands =
      new std::vector<std::string>{"within 7 days", "7 to 28 days", "over 28 days", "not completed"};
  return *kBands;
}

int CompletionBand(const ReferralTimeline& t, absl::Time period_end) {
  if (!t.completed || *t.completed >= period_end) return 3;
  const absl::Duration taken = *t.completed - t.create;
  if (taken < absl::Hours(7 * 24)) return 0;
  if (taken < absl::Hours(28 * 24)) return 1;
  return 2;
}

MedianRelease ReleaseMedian(std::vector<absl::Duration> durations, const std::vector<DeducibleRange>& cells,
                            const DisclosureRules& rules) {
  int64_t shown_at_least = 0;
  for (const DeducibleRange& cell : cells) shown_at_least += std::max<int64_t>(cell.min, 0);
  if (durations.empty() || shown_at_least < rules.suppress_below) return {};
  std::sort(durations.begin(), durations.end());
  const size_t n = durations.size();
  const absl::Duration median =
      n % 2 == 1 ? durations[n / 2] : (durations[n / 2 - 1] + durations[n / 2]) / 2;
  return {false, absl::ToInt64Hours(median + absl::Minutes(30))};
}

}  // namespace refx::core::reporting
