// The calendar periods aggregate tables are released for (ADR 8): a month
// (`2026-07`), a quarter (`2026-Q3`) or a year (`2026`), on the partnership's
// local calendar, and only once ended. Date ranges are not periods: the same
// table for a period and that period plus a day would differ by one day's
// counts, unprotected.
#ifndef REFX_CORE_REPORTING_RELEASE_PERIOD_H_
#define REFX_CORE_REPORTING_RELEASE_PERIOD_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace refx::core::reporting {

enum class PeriodKind { kMonth, kQuarter, kYear };

// "month", "quarter", "year".
const char* PeriodKindName(PeriodKind kind);

struct ReleasePeriod {
  PeriodKind kind = PeriodKind::kQuarter;
  std::string label;        // canonical: 2026-07, 2026-Q3, 2026
  absl::CivilMonth first;   // the period's first month
  absl::CivilMonth after;   // the month after its last
  // [start, end) on the time zone's calendar.
  absl::Time start;
  absl::Time end;
};

// The period `text` names, on `zone`'s calendar. INVALID_ARGUMENT for
// anything else (a date range included), naming the forms accepted.
absl::StatusOr<ReleasePeriod> ParseReleasePeriod(absl::string_view text, absl::TimeZone zone);

// The period of the same kind `back` periods before `period` (2026-Q1, 1:
// 2025-Q4; 2026-03, 12: 2025-03). INVALID_ARGUMENT before the first year.
absl::StatusOr<ReleasePeriod> PeriodBefore(const ReleasePeriod& period, int back, absl::TimeZone zone);

}  // namespace refx::core::reporting

#endif  // REFX_CORE_REPORTING_RELEASE_PERIOD_H_
