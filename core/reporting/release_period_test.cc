#include "core/reporting/release_period.h"

#include <string>

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

TEST(ReleasePeriodTest, PeriodsBeforeKeepTheirKindAcrossYears) {
  auto before = [](const char* text, int back) {
    auto period = ParseReleasePeriod(text, London());
    EXPECT_TRUE(period.ok()) << text;
    auto earlier = PeriodBefore(*period, back, London());
    return earlier.ok() ? earlier->label : std::string(earlier.status().message());
  };
  EXPECT_EQ(before("2026-Q1", 1), "2025-Q4");
  EXPECT_EQ(before("2026-Q3", 3), "2025-Q4");
  EXPECT_EQ(before("2026-Q3", 0), "2026-Q3");
  EXPECT_EQ(before("2026-03", 11), "2025-04");
  EXPECT_EQ(before("2026-01", 1), "2025-12");
  EXPECT_EQ(before("2026", 2), "2024");
  auto march = PeriodBefore(*ParseReleasePeriod("2026-05", London()), 2, London());
  ASSERT_TRUE(march.ok());
  EXPECT_EQ(march->kind, PeriodKind::kMonth);
  EXPECT_EQ(absl::FormatTime("%Y-%m-%dT%H:%M", march->end, absl::UTCTimeZone()), "2026-03-31T23:00");
  // Not before the first year refx counts.
  EXPECT_FALSE(PeriodBefore(*ParseReleasePeriod("2000-Q1", London()), 1, London()).ok());
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
