#include "core/reporting/iso_week.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace refx::core::reporting {
namespace {

absl::CivilDay MondayOf(absl::CivilDay day) {
  // absl::Weekday counts from Monday = 0.
  return day - static_cast<int>(absl::GetWeekday(day));
}

// The Monday of week 1 of ISO year `year`: the week holding 4 January.
absl::CivilDay FirstMonday(absl::civil_year_t year) { return MondayOf(absl::CivilDay(year, 1, 4)); }

}  // namespace

IsoWeek WeekOf(absl::CivilDay day, absl::TimeZone zone) {
  IsoWeek week;
  week.monday = MondayOf(day);
  const absl::CivilDay thursday = week.monday + 3;  // its year is the week's
  const int number = static_cast<int>((thursday - FirstMonday(thursday.year())) / 7) + 1;
  week.label = absl::StrFormat("%04d-W%02d", thursday.year(), number);
  week.start = absl::FromCivil(week.monday, zone);
  week.end = absl::FromCivil(week.monday + 7, zone);
  return week;
}

IsoWeek WeeksAfter(const IsoWeek& week, int weeks, absl::TimeZone zone) {
  return WeekOf(week.monday + 7 * static_cast<int64_t>(weeks), zone);
}

absl::StatusOr<IsoWeek> ParseIsoWeek(absl::string_view text, absl::TimeZone zone) {
  const std::string upper = absl::AsciiStrToUpper(text);
  const std::vector<absl::string_view> parts = absl::StrSplit(upper, "-W");
  int year = 0, number = 0;
  if (parts.size() != 2 || parts[0].size() != 4 || parts[1].empty() || parts[1].size() > 2 ||
      !absl::ascii_isdigit(parts[1][0]) || !absl::ascii_isdigit(parts[0][0]) || !absl::SimpleAtoi(parts[0], &year) ||
      !absl::SimpleAtoi(parts[1], &number) || year < 2000 || year > 2200 || number < 1 || number > 53) {
    return absl::InvalidArgumentError("an ISO week, e.g. 2026-W07");
  }
  IsoWeek week = WeekOf(FirstMonday(year) + 7 * (number - 1), zone);
  if (week.label != absl::StrFormat("%04d-W%02d", year, number)) {
    return absl::InvalidArgumentError(absl::StrCat(year, " has no week ", number));
  }
  return week;
}

}  // namespace refx::core::reporting
