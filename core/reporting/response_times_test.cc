#include "core/reporting/response_times.h"

#include "gtest/gtest.h"

namespace refx::core::reporting {
namespace {

const absl::Time kCreate = absl::FromUnixSeconds(1'780'000'000);
const absl::Time kPeriodEnd = kCreate + absl::Hours(24 * 30);

ReferralTimeline Created(absl::Duration deadline_after = absl::Hours(72)) {
  ReferralTimeline t;
  t.create = kCreate;
  t.deadline = kCreate + deadline_after;
  return t;
}

TEST(ResponseTimesTest, AReferralFallsInOneFirstResponseBandAsAtThePeriodsEnd) {
  ReferralTimeline t = Created();
  const std::vector<std::pair<absl::Duration, int>> answered = {
      {absl::Minutes(5), 0},      {absl::Hours(23) + absl::Minutes(59), 0},
      {absl::Hours(24), 1},       {absl::Hours(71), 1},
      {absl::Hours(72), 2},       {absl::Hours(167), 2},
      {absl::Hours(168), 3},      {absl::Hours(24 * 29), 3}};
  for (const auto& [after, band] : answered) {
    t.first_response = kCreate + after;
    EXPECT_EQ(FirstResponseBand(t, kPeriodEnd), band) << after;
    EXPECT_LT(band, kAnsweredBands);
  }
  // An answer after the period's end is not known as at its end.
  t.first_response = kPeriodEnd + absl::Minutes(1);
  EXPECT_EQ(FirstResponseBands()[FirstResponseBand(t, kPeriodEnd)], "awaiting, overdue");
  t.deadline = kPeriodEnd + absl::Hours(1);
  EXPECT_EQ(FirstResponseBands()[FirstResponseBand(t, kPeriodEnd)], "awaiting, not yet due");
  t.withdrawn = kPeriodEnd - absl::Hours(1);
  EXPECT_EQ(FirstResponseBands()[FirstResponseBand(t, kPeriodEnd)], "withdrawn unanswered");
  // A response before the withdrawal is a response.
  t.first_response = kCreate + absl::Hours(2);
  EXPECT_EQ(FirstResponseBand(t, kPeriodEnd), 0);
  EXPECT_EQ(FirstResponseBands().size(), 7u);
}

TEST(ResponseTimesTest, CompletionBandsCountOnlyCompletionsBeforeThePeriodsEnd) {
  ReferralTimeline t = Created();
  EXPECT_EQ(CompletionBands()[CompletionBand(t, kPeriodEnd)], "not completed");
  t.completed = kCreate + absl::Hours(7 * 24 - 1);
  EXPECT_EQ(CompletionBand(t, kPeriodEnd), 0);
  t.completed = kCreate + absl::Hours(7 * 24);
  EXPECT_EQ(CompletionBand(t, kPeriodEnd), 1);
  t.completed = kCreate + absl::Hours(28 * 24);
  EXPECT_EQ(CompletionBand(t, kCreate + absl::Hours(24 * 40)), 2);
  t.completed = kPeriodEnd;
  EXPECT_EQ(CompletionBand(t, kPeriodEnd), 3);
  EXPECT_LT(0, kCompletedBands);
}

std::vector<absl::Duration> Hours(std::initializer_list<int> hours) {
  std::vector<absl::Duration> out;
  for (int h : hours) out.push_back(absl::Hours(h));
  return out;
}

TEST(ResponseTimesTest, AMedianIsReleasedOnlyWhenTheReleasedCountsShowEnoughBehindIt) {
  const DisclosureRules rules{8, 5};
  const std::vector<absl::Duration> nine = Hours({1, 2, 3, 4, 50, 60, 70, 80, 90});
  // The reader can tell at least 8 stand behind it: released.
  EXPECT_EQ(ReleaseMedian(nine, {{8, 12}, {0, 0}}, rules), (MedianRelease{false, 50}));
  // Nine referrals really stand behind it, but the released counts show
  // only 5 at least (a withheld cell's least is 0): withheld, so that the
  // decision tells nothing about the withheld cells.
  EXPECT_EQ(ReleaseMedian(nine, {{5, 5}, {0, 7}}, rules), (MedianRelease{true, 0}));
  EXPECT_EQ(ReleaseMedian({}, {{10, 10}}, rules), (MedianRelease{true, 0}));
  // An even count: the mean of the middle two, rounded half up to the hour.
  EXPECT_EQ(ReleaseMedian({absl::Minutes(60), absl::Minutes(150), absl::Minutes(1), absl::Hours(9)}, {{8, 8}}, rules),
            (MedianRelease{false, 2}));
  // With the ONS threshold the same figures are withheld.
  EXPECT_TRUE(ReleaseMedian(nine, {{8, 12}}, DisclosureRules{10, 5}).withheld);
}

TEST(ResponseTimesTest, TheMedianGateReadsARealProtectedTable) {
  // Two rows of answered counts: one row with a small count, withheld, and
  // its complement; the reader's least total for row 0 is what the other
  // shown cell proves.
  CountTable table;
  table.row_labels = {"police", "council"};
  table.column_labels = {"within 1 day", "over 7 days"};
  table.counts = {{20, 3}, {40, 30}};
  const DisclosureRules rules{8, 5};
  auto released = ProtectCounts(table, rules);
  ASSERT_TRUE(released.ok()) << released.status();
  auto ranges = DeducibleRanges(*released, rules);
  ASSERT_TRUE(ranges.ok()) << ranges.status();
  const std::vector<DeducibleRange> police((*ranges)[0].begin(), (*ranges)[0].begin() + 2);
  std::vector<absl::Duration> police_times(23, absl::Hours(5));
  const MedianRelease median = ReleaseMedian(police_times, police, rules);
  int64_t least = 0;
  for (const DeducibleRange& r : police) least += r.min;
  EXPECT_EQ(median.withheld, least < rules.suppress_below);
  EXPECT_TRUE(released->cells[0][1].withheld);
}

}  // namespace
}  // namespace refx::core::reporting
