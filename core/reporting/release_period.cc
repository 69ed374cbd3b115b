#include "core/reporting/release_period.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace refx::core::reporting {
namespace {

// Years refx could hold referrals for; keeps civil arithmetic far from its limits.
constexpr int kFirstYear = 2000, kLastYear = 2200;

bool ParseYear(absl::string_view text, int* year) {
  return text.size() == 4 && absl::SimpleAtoi(text, year) && *year >= kFirstYear && *year <= kLastYear;
}

}  // namespace

const char* PeriodKindName(PeriodKind kind) {
  switch (kind) {
    case PeriodKind::kMonth: return "month";
    case PeriodKind::kQuarter: return "quarter";
    case PeriodKind::kYear: return "year";
  }
  return "period";
}

absl::StatusOr<ReleasePeriod> ParseReleasePeriod(absl::string_view text, absl::TimeZone zone) {
  ReleasePeriod period;
  int year = 0;
  const absl::Status bad = absl::InvalidArgumentError(absl::StrCat(
      "a period is a month (2026-07), a quarter (2026-Q3) or a year (2026), from ", kFirstYear, " to ", kLastYear,
      "; date ranges are not released"));
  if (text.size() == 4) {
    if (!ParseYear(text, &year)) return bad;
    period.kind = PeriodKind::kYear;
    period.first = absl::CivilMonth(year, 1);
    period.after = absl::CivilMonth(year + 1, 1);
    period.label = absl::StrCat(year);
  } else if (text.size() == 7 && text[4] == '-' && (text[5] == 'Q' || text[5] == 'q')) {
    int quarter = 0;
    if (!ParseYear(text.substr(0, 4), &year) || !absl::SimpleAtoi(text.substr(6), &quarter) || quarter < 1 ||
        quarter > 4) {
      return bad;
    }
    period.kind = PeriodKind::kQuarter;
    period.first = absl::CivilMonth(year, 3 * (quarter - 1) + 1);
    period.after = period.first + 3;
    period.label = absl::StrCat(year, "-Q", quarter);
  } else if (text.size() == 7 && text[4] == '-') {
    int month = 0;
    if (!ParseYear(text.substr(0, 4), &year) || text[5] < '0' || text[5] > '1' ||
        !absl::SimpleAtoi(text.substr(5), &month) || month < 1 || month > 12) {
      return bad;
    }
    period.kind = PeriodKind::kMonth;
    period.first = absl::CivilMonth(year, month);
    period.after = period.first + 1;
    period.label = absl::StrFormat("%04d-%02d", year, month);
  } else {
    return bad;
  }
  period.start = absl::FromCivil(absl::CivilSecond(period.first), zone);
  period.end = absl::FromCivil(absl::CivilSecond(period.after), zone);
  return period;
}

absl::StatusOr<ReleasePeriod> PeriodBefore(const ReleasePeriod& period, int back, absl::TimeZone zone) {
  switch (period.kind) {
    case PeriodKind::kMonth: {
      const absl::CivilMonth m = period.first - back;
      return ParseReleasePeriod(absl::StrFormat("%04d-%02d", m.year(), m.month()), zone);
    }
    case PeriodKind::kQuarter: {
      const absl::CivilMonth m = period.first - 3 * back;
      return ParseReleasePeriod(absl::StrCat(m.year(), "-Q", (m.month() - 1) / 3 + 1), zone);
    }
    case PeriodKind::kYear:
      return ParseReleasePeriod(absl::StrCat(period.first.year() - back), zone);
  }
  return absl::InvalidArgumentError("unknown period kind");
}

}  // namespace refx::core::reporting
