// The arithmetic of the response-times release: which band a referral falls
// in as at a period's end, and when a median may be released beside a
// protected table.
//
// A median is released only when the released counts alone show that at
// least `suppress_below` referrals stand behind it (the least value each
// released cell can hold, summed). The decision is then a function of what
// the reader already has, so a withheld median discloses nothing the table
// does not: deciding on the true number behind it would tell the reader
// whether withheld cells hold few referrals.
//
// Times in, bands and whole hours out: no personal data.
#ifndef REFX_CORE_REPORTING_RESPONSE_TIMES_H_
#define REFX_CORE_REPORTING_RESPONSE_TIMES_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/reporting/disclosure_control.h"

namespace refx::core::reporting {

// What had happened to one referral by a period's end.
struct ReferralTimeline {
  absl::Time create;
  absl::Time deadline;                           // the recipient's, as set at creation
  std::optional<absl::Time> first_response;      // accepted, declined or redirected
  std::optional<absl::Time> withdrawn;           // cancelled before any response
  std::optional<absl::Time> completed;           // first completion
};

// Columns of the first-response table: the first kAnsweredBands count
// referrals answered by the period's end.
const std::vector<std::string>& FirstResponseBands();
inline constexpr int kAnsweredBands = 4;
int FirstResponseBand(const ReferralTimeline& timeline, absl::Time period_end);

// Columns of the completion table: the first kCompletedBands count
// referrals completed by the period's end.
const std::vector<std::string>& CompletionBands();
inline constexpr int kCompletedBands = 3;
int CompletionBand(const ReferralTimeline& timeline, absl::Time period_end);

struct MedianRelease {
  bool withheld = true;
  int64_t hours = 0;  // 0 when withheld
  bool operator==(const MedianRelease&) const = default;
};

// The median of `durations` in whole hours (the mean of the middle two for
// an even count, rounded half up), released if the least total the reader
// can deduce for `cells` (ranges of the released table's cells behind the
// median) is at least rules.suppress_below; withheld otherwise and for no
// durations.
MedianRelease ReleaseMedian(std::vector<absl::Duration> durations, const std::vector<DeducibleRange>& cells,
                            const DisclosureRules& rules);

}  // namespace refx::core::reporting

#endif  // REFX_CORE_REPORTING_RESPONSE_TIMES_H_
