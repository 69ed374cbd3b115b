#include "core/response_deadline.h"

namespace refx::core {

bool WorkingCalendar::IsWorkingDay(absl::CivilDay day) const {
  const absl::Weekday weekday = absl::GetWeekday(day);
  if (weekday == absl::Weekday::saturday || weekday == absl::Weekday::sunday) return false;
  return holidays_.count(day) == 0;
}

absl::Time WorkingCalendar::Add(absl::Time start, const DeadlinePeriod& period) const {
  if (period.unit == DeadlinePeriod::Unit::kHours) return start + absl::Hours(period.amount);
  const absl::CivilSecond local = absl::ToCivilSecond(start, zone_);
  absl::CivilDay day(local);
  const absl::civil_diff_t time_of_day = local - absl::CivilSecond(day);
  if (period.unit == DeadlinePeriod::Unit::kCalendarDays) {
    day += period.amount;
  } else {
    for (int counted = 0; counted < period.amount;) {
      ++day;
      if (IsWorkingDay(day)) ++counted;
    }
  }
  // `post` is the instant after a skipped (spring-forward) local time and
  // the first of two repeated ones (autumn), which is the earlier deadline.
  const absl::TimeZone::TimeInfo info = zone_.At(absl::CivilSecond(day) + time_of_day);
  return info.kind == absl::TimeZone::TimeInfo::SKIPPED ? info.trans : info.pre;
}

bool AwaitsResponse(v1::Referral::State state) {
  return state == v1::Referral::REQUESTED || state == v1::Referral::REDIRECTED;
}

}  // namespace refx::core
