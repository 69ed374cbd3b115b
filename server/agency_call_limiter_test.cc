#include "server/agency_call_limiter.h"

#include "gtest/gtest.h"

namespace refx::server {
namespace {

TEST(AgencyCallLimiterTest, EachAgencyHasItsOwnShare) {
  AgencyCallLimiter limiter(2);
  EXPECT_TRUE(limiter.TryAcquire("a"));
  EXPECT_TRUE(limiter.TryAcquire("a"));
  EXPECT_FALSE(limiter.TryAcquire("a"));
  EXPECT_TRUE(limiter.TryAcquire("b"));
  limiter.Release("a");
  EXPECT_TRUE(limiter.TryAcquire("a"));
  EXPECT_EQ(limiter.TotalInFlight(), 3);
}

TEST(AgencyCallLimiterTest, RefusalsAreLoggedOncePerIntervalWithTheCountNotLogged) {
  AgencyCallLimiter limiter(1, absl::Hours(1));
  int64_t suppressed = -1;
  EXPECT_TRUE(limiter.ShouldLogRefusal("flooding", &suppressed));
  EXPECT_EQ(suppressed, 0);
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(limiter.ShouldLogRefusal("flooding", &suppressed));
  // Another agency's refusals are not hidden by the first one's flood.
  EXPECT_TRUE(limiter.ShouldLogRefusal("polite", &suppressed));
  EXPECT_EQ(suppressed, 0);

  AgencyCallLimiter every_time(1, absl::ZeroDuration());
  EXPECT_TRUE(every_time.ShouldLogRefusal("a", &suppressed));
  EXPECT_TRUE(every_time.ShouldLogRefusal("a", &suppressed));
  EXPECT_EQ(suppressed, 0);
}

}  // namespace
}  // namespace refx::server
