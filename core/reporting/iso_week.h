// ISO 8601 weeks (Monday to Sunday, week 1 holding the year's first
// Thursday) on the partnership's local calendar: the community-tensions
// monitor counts referrals by week.
#ifndef REFX_CORE_REPORTING_ISO_WEEK_H_
#define REFX_CORE_REPORTING_ISO_WEEK_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace refx::core::reporting {

struct IsoWeek {
  std::string label;     // 2026-W07
  absl::CivilDay monday;
  absl::Time start;      // local midnight starting the Monday
  absl::Time end;        // local midnight after the Sunday
};

// The week holding `day`.
IsoWeek WeekOf(absl::CivilDay day, absl::TimeZone zone);
// The week `weeks` after (or before, if negative) `week`.
IsoWeek WeeksAfter(const IsoWeek& week, int weeks, absl::TimeZone zone);
// `2026-W07` (or `2026-w7`); INVALID_ARGUMENT for anything else, a week 53
// of a year without one included.
absl::StatusOr<IsoWeek> ParseIsoWeek(absl::string_view text, absl::TimeZone zone);

}  // namespace refx::core::reporting

#endif  // REFX_CORE_REPORTING_ISO_WEEK_H_
