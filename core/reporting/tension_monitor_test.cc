// The tension detector on synthetic series: planted spikes are found, and on
// five years of weekly counts with no change in rate the share of weeks that
// alert stays within the documented bound.
#include "core/reporting/tension_monitor.h"

#include <cmath>
#include <random>

#include "gtest/gtest.h"

namespace refx::core::reporting {
namespace {

std::vector<int64_t> PoissonWeeks(std::mt19937_64& random, double rate, int weeks) {
  std::poisson_distribution<int64_t> draw(rate);
  std::vector<int64_t> counts;
  for (int w = 0; w < weeks; ++w) counts.push_back(draw(random));
  return counts;
}

TEST(TensionMonitorTest, BinomialTailMatchesTheDirectSum) {
  // n = 10, p = 0.3: P(X >= 7) = sum C(10,i) 0.3^i 0.7^(10-i) for i = 7..10.
  double direct = 0;
  for (int i = 7; i <= 10; ++i) {
    direct += std::tgamma(11) / (std::tgamma(i + 1) * std::tgamma(11 - i)) * std::pow(0.3, i) * std::pow(0.7, 10 - i);
  }
  EXPECT_NEAR(BinomialUpperTail(10, 7, 0.3), direct, 1e-12);
  EXPECT_DOUBLE_EQ(BinomialUpperTail(10, 0, 0.3), 1.0);
  EXPECT_DOUBLE_EQ(BinomialUpperTail(10, 11, 0.3), 0.0);
  EXPECT_NEAR(BinomialUpperTail(1000, 500, 0.5), 0.5 + 0.0126125, 1e-6);  // P(X = 500) = 0.0252250
}

TEST(TensionMonitorTest, FindsAPlantedSpikeAndOnlyThatWeek) {
  std::mt19937_64 random(7);
  std::vector<int64_t> weeks = PoissonWeeks(random, 3.0, 40);
  weeks[30] = 16;  // a week of anti-Muslim incidents after a national event
  const std::vector<TensionAlert> alerts = DetectRises(weeks, TensionRules{});
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].week, 30);
  EXPECT_EQ(alerts[0].count, 16);
  EXPECT_NEAR(alerts[0].baseline, 3.0, 1.5);
  EXPECT_LE(alerts[0].tail_probability, 0.001);
}

TEST(TensionMonitorTest, FindsADoublingOnABusySeries) {
  std::mt19937_64 random(11);
  std::vector<int64_t> weeks = PoissonWeeks(random, 40.0, 30);
  weeks[20] = 80;
  const std::vector<TensionAlert> alerts = DetectRises(weeks, TensionRules{});
  ASSERT_FALSE(alerts.empty());
  EXPECT_EQ(alerts[0].week, 20);
}

TEST(TensionMonitorTest, SmallRisesAndEarlyWeeksNeverAlert) {
  // From nothing to 4 is unusual but below the minimum count.
  std::vector<int64_t> quiet(20, 0);
  quiet[15] = 4;
  EXPECT_TRUE(DetectRises(quiet, TensionRules{}).empty());
  // The same series with a minimum of 3 alerts.
  EXPECT_EQ(DetectRises(quiet, TensionRules{.minimum_count = 3}).size(), 1u);
  // A spike before a whole baseline exists is not tested.
  std::vector<int64_t> young(12, 1);
  young[5] = 50;
  EXPECT_TRUE(DetectRises(young, TensionRules{}).empty());
  // A fall is not a rise.
  std::vector<int64_t> falling(20, 30);
  falling[15] = 0;
  EXPECT_TRUE(DetectRises(falling, TensionRules{}).empty());
}

// Five years of weekly counts for 9 areas x 8 strands at rates from one a
// quarter to fifty a week, with no change in rate: the share of tested
// weeks that alert is within the bound (false_alarm_rate per series-week),
// allowing three standard deviations of sampling noise.
TEST(TensionMonitorTest, FalseAlarmRateOverFiveStationaryYearsIsWithinTheBound) {
  std::mt19937_64 random(2026);
  const std::vector<double> rates = {0.08, 0.5, 1, 2, 3, 5, 8, 13, 20, 50};
  for (const double bound : {0.001, 0.01}) {
    TensionRules rules;
    rules.false_alarm_rate = bound;
    rules.minimum_count = 1;  // the bound must hold without the floor's help
    int64_t tested = 0, alerts = 0;
    for (int series = 0; series < 9 * 8; ++series) {
      const std::vector<int64_t> weeks = PoissonWeeks(random, rates[series % rates.size()], 5 * 52);
      tested += static_cast<int64_t>(weeks.size()) - rules.baseline_weeks;
      alerts += static_cast<int64_t>(DetectRises(weeks, rules).size());
    }
    const double expected = bound * static_cast<double>(tested);
    EXPECT_LE(static_cast<double>(alerts), expected + 3 * std::sqrt(expected))
        << alerts << " alerts in " << tested << " series-weeks at bound " << bound;
    RecordProperty(bound == 0.001 ? "alerts_at_0.001" : "alerts_at_0.01", std::to_string(alerts));
  }
}

TEST(TensionMonitorTest, RefusesRulesOutOfRange) {
  EXPECT_FALSE(CheckTensionRules(TensionRules{.baseline_weeks = 0}).ok());
  EXPECT_FALSE(CheckTensionRules(TensionRules{.false_alarm_rate = 0}).ok());
  EXPECT_FALSE(CheckTensionRules(TensionRules{.false_alarm_rate = 0.6}).ok());
  EXPECT_FALSE(CheckTensionRules(TensionRules{.minimum_count = 0}).ok());
  EXPECT_TRUE(CheckTensionRules(TensionRules{}).ok());
}

}  // namespace
}  // namespace refx::core::reporting
