// Response-deadline arithmetic: when a recipient must answer a referral,
// given the agreement's period for its priority (hours, calendar days or
// working days) and the partnership's working calendar.
//
// Pure functions of their inputs (no clock, no I/O), so the rules can be
// unit-tested day by day. Days are counted on the partnership's local
// calendar (Europe/London by default, set in the agreement), not UTC: a
// referral sent at 00:30 BST on a Saturday was sent on a Saturday for the
// people who must answer it, although it is still Friday in UTC.
#ifndef REFX_CORE_RESPONSE_DEADLINE_H_
#define REFX_CORE_RESPONSE_DEADLINE_H_

#include <set>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "refx/v1/referral.pb.h"

namespace refx::core {

// One priority's response period, as the agreement states it.
struct DeadlinePeriod {
  enum class Unit { kHours, kCalendarDays, kWorkingDays };
  Unit unit = Unit::kWorkingDays;
  int amount = 0;  // > 0
};

// Which local days are working days: not Saturday, not Sunday, not a listed
// bank holiday.
class WorkingCalendar {
 public:
  WorkingCalendar() : zone_(absl::UTCTimeZone()) {}
  WorkingCalendar(absl::TimeZone zone, std::set<absl::CivilDay> holidays)
      : zone_(zone), holidays_(std::move(holidays)) {}

  bool IsWorkingDay(absl::CivilDay day) const;

  // `start` plus `period`:
  //   hours: exactly that many hours later;
  //   calendar days: the same local time of day that many days later (so
  //     23 or 25 hours across a clock change);
  //   working days: the same local time of day on the Nth working day after
  //     the local day of `start` (Friday 10:00 + 1 = Monday 10:00; a start on
  //     a Saturday counts Monday as the first).
  // A local time that does not exist on the target day (the spring-forward
  // hour) is taken as the time after the gap.
  absl::Time Add(absl::Time start, const DeadlinePeriod& period) const;

  const absl::TimeZone& zone() const { return zone_; }

 private:
  absl::TimeZone zone_;
  std::set<absl::CivilDay> holidays_;
};

// Whether a referral in `state` waits for a recipient's response
// (REQUESTED or REDIRECTED): only those can be overdue.
bool AwaitsResponse(v1::Referral::State state);

}  // namespace refx::core

#endif  // REFX_CORE_RESPONSE_DEADLINE_H_
