#include "core/reporting/iso_week.h"

#include "gtest/gtest.h"

namespace refx::core::reporting {
namespace {

absl::TimeZone London() {
  absl::TimeZone zone;
  EXPECT_TRUE(absl::LoadTimeZone("Europe/London", &zone));
  return zone;
}

TEST(IsoWeekTest, WeeksRunMondayToSundayWithWeekOneHoldingTheFirstThursday) {
  // 1 January 2026 is a Thursday: week 1 starts on Monday 29 December 2025.
  EXPECT_EQ(WeekOf(absl::CivilDay(2026, 1, 1), London()).label, "2026-W01");
  EXPECT_EQ(WeekOf(absl::CivilDay(2025, 12, 29), London()).label, "2026-W01");
  EXPECT_EQ(WeekOf(absl::CivilDay(2025, 12, 28), London()).label, "2025-W52");
  // 2026 has 53 weeks (it starts on a Thursday); 1 January 2027 is in it.
  EXPECT_EQ(WeekOf(absl::CivilDay(2027, 1, 1), London()).label, "2026-W53");
  EXPECT_EQ(WeekOf(absl::CivilDay(2027, 1, 4), London()).label, "2027-W01");
  const IsoWeek w14 = WeekOf(absl::CivilDay(2026, 4, 1), London());
  EXPECT_EQ(w14.label, "2026-W14");
  EXPECT_EQ(w14.monday, absl::CivilDay(2026, 3, 30));
  // Local midnight in British Summer Time is 23:00 UTC.
  EXPECT_EQ(absl::FormatTime("%Y-%m-%dT%H:%M", w14.start, absl::UTCTimeZone()), "2026-03-29T23:00");
  EXPECT_EQ(w14.end - w14.start, absl::Hours(24 * 7));
  // The week of the clock change is an hour short.
  const IsoWeek w13 = WeeksAfter(w14, -1, London());
  EXPECT_EQ(w13.label, "2026-W13");
  EXPECT_EQ(w13.end - w13.start, absl::Hours(24 * 7 - 1));
  EXPECT_EQ(WeeksAfter(w14, 40, London()).label, "2027-W01");
}

TEST(IsoWeekTest, OnlyRealIsoWeeksParse) {
  auto week = ParseIsoWeek("2026-w7", London());
  ASSERT_TRUE(week.ok()) << week.status();
  EXPECT_EQ(week->label, "2026-W07");
  EXPECT_EQ(week->monday, absl::CivilDay(2026, 2, 9));
  EXPECT_TRUE(ParseIsoWeek("2026-W53", London()).ok());
  EXPECT_FALSE(ParseIsoWeek("2025-W53", London()).ok());
  for (const char* bad : {"", "2026", "2026-07", "2026-W00", "2026-W54", "2026-W+1", "26-W07", "2026-W007",
                          "2026-W07..2026-W09", "1999-W10"}) {
    EXPECT_FALSE(ParseIsoWeek(bad, London()).ok()) << bad;
  }
}

}  // namespace
}  // namespace refx::core::reporting
