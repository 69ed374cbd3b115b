#include "server/agency_call_limiter.h"

#include "gtest/gtest.h"

namespace refx::server {
namespace {

AgencyCallLimiter::Options Limits(int max_per_agency, int busy_calls_in_flight = 1000,
                                  absl::Duration log_interval = absl::Seconds(10)) {
  AgencyCallLimiter::Options options;
  options.max_per_agency = max_per_agency;
  options.busy_calls_in_flight = busy_calls_in_flight;
  options.log_interval = log_interval;
  return options;
}

TEST(AgencyCallLimiterTest, EachAgencyHasItsOwnShare) {
  AgencyCallLimiter limiter(Limits(2));
  EXPECT_TRUE(limiter.TryAcquire("a"));
  EXPECT_TRUE(limiter.TryAcquire("a"));
  EXPECT_FALSE(limiter.TryAcquire("a"));
  EXPECT_TRUE(limiter.TryAcquire("b"));
  limiter.Release("a");
  EXPECT_TRUE(limiter.TryAcquire("a"));
  EXPECT_EQ(limiter.TotalInFlight(), 3);
}

// Once the server holds its busy number of calls, an agency gets a new one
// only below its fair share: the flooder that filled the server is refused,
// a partner arriving then is served, and the flooder's share shrinks as
// partners join.
TEST(AgencyCallLimiterTest, ABusyServerAdmitsEachAgencyUpToItsFairShare) {
  AgencyCallLimiter limiter(Limits(256, 12));
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(limiter.TryAcquire("flood")) << i;
  EXPECT_FALSE(limiter.TryAcquire("flood")) << "alone, the busy number is its share";
  // A partner with nothing in flight: two holders, a share of 6 each.
  for (int i = 0; i < 6; ++i) EXPECT_TRUE(limiter.TryAcquire("polite")) << i;
  EXPECT_FALSE(limiter.TryAcquire("polite"));
  EXPECT_EQ(limiter.TotalInFlight(), 18);
  // The flooder, over its share of 6, is refused until it is back under it.
  for (int i = 0; i < 6; ++i) {
    EXPECT_FALSE(limiter.TryAcquire("flood"));
    limiter.Release("flood");
  }
  EXPECT_FALSE(limiter.TryAcquire("flood")) << "6 held: its share, not under it";
  limiter.Release("flood");
  EXPECT_TRUE(limiter.TryAcquire("flood"));
  // A third agency: a share of 4, and a place at once.
  EXPECT_TRUE(limiter.TryAcquire("third"));
  EXPECT_FALSE(limiter.TryAcquire("flood"));
  EXPECT_EQ(limiter.InFlight("flood"), 6);
  // Not busy again: per-agency bound only.
  for (int i = 0; i < 6; ++i) limiter.Release("polite");
  for (int i = 0; i < 6; ++i) limiter.Release("flood");
  limiter.Release("third");
  EXPECT_EQ(limiter.TotalInFlight(), 0);
  for (int i = 0; i < 12; ++i) EXPECT_TRUE(limiter.TryAcquire("polite")) << i;
}

// The per-agency bound holds whether or not the server is busy.
TEST(AgencyCallLimiterTest, ThePerAgencyBoundHoldsBelowTheBusyNumber) {
  AgencyCallLimiter limiter(Limits(3, 100));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.TryAcquire("a"));
  EXPECT_FALSE(limiter.TryAcquire("a"));
  EXPECT_TRUE(limiter.TryAcquire("b"));
}

TEST(AgencyCallLimiterTest, RefusalsAreLoggedOncePerIntervalWithTheCountNotLogged) {
  AgencyCallLimiter limiter(Limits(1, 1000, absl::Hours(1)));
  int64_t suppressed = -1;
  EXPECT_TRUE(limiter.ShouldLogRefusal("flooding", &suppressed));
  EXPECT_EQ(suppressed, 0);
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(limiter.ShouldLogRefusal("flooding", &suppressed));
  // Another agency's refusals are not hidden by the first one's flood.
  EXPECT_TRUE(limiter.ShouldLogRefusal("polite", &suppressed));
  EXPECT_EQ(suppressed, 0);

  AgencyCallLimiter every_time(Limits(1, 1000, absl::ZeroDuration()));
  EXPECT_TRUE(every_time.ShouldLogRefusal("a", &suppressed));
  EXPECT_TRUE(every_time.ShouldLogRefusal("a", &suppressed));
  EXPECT_EQ(suppressed, 0);
}

}  // namespace
}  // namespace refx::server
