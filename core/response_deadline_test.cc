#include "core/response_deadline.h"

#include "gtest/gtest.h"

namespace refx::core {
namespace {

using Unit = DeadlinePeriod::Unit;

absl::TimeZone London() {
  absl::TimeZone tz;
  EXPECT_TRUE(absl::LoadTimeZone("Europe/London", &tz));
  return tz;
}

// A London local time.
absl::Time At(int y, int m, int d, int hh, int mm = 0) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, 0), London());
}

absl::Time Utc(int y, int m, int d, int hh, int mm = 0) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, 0), absl::UTCTimeZone());
}

class ResponseDeadlineTest : public ::testing::Test {
 protected:
  // 2026: Good Friday 3 April, Easter Monday 6 April, early May 4 May.
  WorkingCalendar calendar_{London(),
                            {absl::CivilDay(2026, 4, 3), absl::CivilDay(2026, 4, 6), absl::CivilDay(2026, 5, 4)}};
};

TEST_F(ResponseDeadlineTest, WeekendsAndHolidaysAreNotWorkingDays) {
  EXPECT_TRUE(calendar_.IsWorkingDay(absl::CivilDay(2026, 3, 13)));   // Friday
  EXPECT_FALSE(calendar_.IsWorkingDay(absl::CivilDay(2026, 3, 14)));  // Saturday
  EXPECT_FALSE(calendar_.IsWorkingDay(absl::CivilDay(2026, 3, 15)));  // Sunday
  EXPECT_FALSE(calendar_.IsWorkingDay(absl::CivilDay(2026, 4, 3)));   // Good Friday
  EXPECT_TRUE(calendar_.IsWorkingDay(absl::CivilDay(2026, 4, 7)));
}

TEST_F(ResponseDeadlineTest, FridayPlusOneWorkingDayIsMonday) {
  EXPECT_EQ(calendar_.Add(At(2026, 3, 13, 10), {Unit::kWorkingDays, 1}), At(2026, 3, 16, 10));
}

TEST_F(ResponseDeadlineTest, AWeekendStartCountsMondayAsTheFirstWorkingDay) {
  EXPECT_EQ(calendar_.Add(At(2026, 3, 14, 9), {Unit::kWorkingDays, 1}), At(2026, 3, 16, 9));
  EXPECT_EQ(calendar_.Add(At(2026, 3, 15, 22), {Unit::kWorkingDays, 5}), At(2026, 3, 20, 22));
}

TEST_F(ResponseDeadlineTest, FiveWorkingDaysSpanAWeekend) {
  // Wednesday + 5 = the next Wednesday.
  EXPECT_EQ(calendar_.Add(At(2026, 3, 11, 14, 30), {Unit::kWorkingDays, 5}), At(2026, 3, 18, 14, 30));
}

TEST_F(ResponseDeadlineTest, BankHolidaysAreSkipped) {
  // Thursday 2 April 2026 + 1: Good Friday, the weekend and Easter Monday
  // are skipped, so Tuesday 7 April.
  EXPECT_EQ(calendar_.Add(At(2026, 4, 2, 11), {Unit::kWorkingDays, 1}), At(2026, 4, 7, 11));
  // Thursday 30 April + 5: Fri 1, Tue 5, Wed 6, Thu 7, Fri 8 May (4 May is a holiday).
  EXPECT_EQ(calendar_.Add(At(2026, 4, 30, 9), {Unit::kWorkingDays, 5}), At(2026, 5, 8, 9));
}

TEST_F(ResponseDeadlineTest, DaysAreLondonDaysNotUtcDays) {
  // 23:30 UTC on Friday 12 June 2026 is 00:30 BST on Saturday 13 June in
  // London: the referral arrived on a Saturday, so one working day is
  // Monday 00:30 BST, not Monday 23:30 UTC.
  EXPECT_EQ(calendar_.Add(Utc(2026, 6, 12, 23, 30), {Unit::kWorkingDays, 1}), At(2026, 6, 15, 0, 30));
  // The same instant counted in UTC would have been a Friday.
  WorkingCalendar utc(absl::UTCTimeZone(), {});
  EXPECT_EQ(utc.Add(Utc(2026, 6, 12, 23, 30), {Unit::kWorkingDays, 1}), Utc(2026, 6, 15, 23, 30));
}

TEST_F(ResponseDeadlineTest, CalendarDaysKeepTheLocalTimeAcrossAClockChange) {
  // British Summer Time starts at 01:00 UTC on Sunday 29 March 2026: one
  // calendar day from Saturday 10:00 GMT is Sunday 10:00 BST, 23 hours on.
  const absl::Time start = At(2026, 3, 28, 10);
  const absl::Time due = calendar_.Add(start, {Unit::kCalendarDays, 1});
  EXPECT_EQ(due, At(2026, 3, 29, 10));
  EXPECT_EQ(due - start, absl::Hours(23));
  // Calendar days do not skip weekends or holidays.
  EXPECT_EQ(calendar_.Add(At(2026, 4, 2, 11), {Unit::kCalendarDays, 1}), At(2026, 4, 3, 11));
}

TEST_F(ResponseDeadlineTest, HoursAreExact) {
  const absl::Time start = At(2026, 3, 28, 10);
  EXPECT_EQ(calendar_.Add(start, {Unit::kHours, 24}), start + absl::Hours(24));
}

TEST_F(ResponseDeadlineTest, ALocalTimeSkippedByTheClockChangeMovesPastTheGap) {
  // 01:30 on 29 March 2026 does not exist in London (01:00 -> 02:00).
  const absl::Time start = At(2026, 3, 28, 1, 30);
  EXPECT_EQ(calendar_.Add(start, {Unit::kCalendarDays, 1}), Utc(2026, 3, 29, 1, 0));
}

TEST(AwaitsResponseTest, OnlyRequestedAndRedirectedAwaitAResponse) {
  EXPECT_TRUE(AwaitsResponse(v1::Referral::REQUESTED));
  EXPECT_TRUE(AwaitsResponse(v1::Referral::REDIRECTED));
  for (auto s : {v1::Referral::ACCEPTED, v1::Referral::DECLINED, v1::Referral::IN_PROGRESS, v1::Referral::COMPLETED,
                 v1::Referral::CANCELLED}) {
    EXPECT_FALSE(AwaitsResponse(s)) << v1::Referral::State_Name(s);
  }
}

}  // namespace
}  // namespace refx::core
