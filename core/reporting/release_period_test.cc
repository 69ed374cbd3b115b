#include "core/reporting/release_period.h"

#include "gtest/gtest.h"

namespace refx::core::reporting {
namespace {

absl::TimeZone London() {
  absl::TimeZone zone;
  EXPECT_TRUE(absl::LoadTimeZone("Europe/London", &zone));
  return zone;
}

TEST(ReleasePeriodTest, MonthsQuartersAndYearsRunOnTheLocalCalendar) {
  auto q3 = ParseReleasePeriod("2026-Q3", London());
  ASSERT_TRUE(q3.ok()) << q3.status();
  EXPECT_EQ(q3->kind, PeriodKind::kQuarter);
  EXPECT_EQ(q3->label, "2026-Q3");
  // British Summer Time: local midnight is 23:00 UTC the day before.
  EXPECT_EQ(absl::FormatTime("%Y-%m-%dT%H:%M", q3->start, absl::UTCTimeZone()), "2026-06-30T23:00");
  EXPECT_EQ(absl::FormatTime("%Y-%m-%dT%H:%M", q3->end, absl::UTCTimeZone()), "2026-09-30T23:00");

  auto march = ParseReleasePeriod("2026-03", London());
  ASSERT_TRUE(march.ok());
  EXPECT_EQ(march->kind, PeriodKind::kMonth);
  // March starts in GMT and ends in BST.
  EXPECT_EQ(absl::FormatTime("%Y-%m-%dT%H:%M", march->start, absl::UTCTimeZone()), "2026-03-01T00:00");
  EXPECT_EQ(absl::FormatTime("%Y-%m-%dT%H:%M", march->end, absl::UTCTimeZone()), "2026-03-31T23:00");

  auto year = ParseReleasePeriod("2025", London());
  ASSERT_TRUE(year.ok());
  EXPECT_EQ(year->kind, PeriodKind::kYear);
  EXPECT_EQ(year->first, absl::CivilMonth(2025, 1));
  EXPECT_EQ(year->after, absl::CivilMonth(2026, 1));
  EXPECT_EQ(ParseReleasePeriod("2026-q4", London())->label, "2026-Q4");
}

TEST(ReleasePeriodTest, DateRangesAndMalformedPeriodsAreRefused) {
  for (const char* text : {"", "2026-07-01", "2026-07-01..2026-08-01", "2026-Q5", "2026-Q0", "2026-13", "2026-00",
                           "26-Q3", "1999", "2201", "2026-7", "2026-+7", "Q3-2026", "2026-H1", "２０２６"}) {
    auto period = ParseReleasePeriod(text, London());
    EXPECT_EQ(period.status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
  EXPECT_NE(ParseReleasePeriod("2026-07-01", London()).status().message().find("date ranges are not released"),
            std::string::npos);
}

}  // namespace
}  // namespace refx::core::reporting
