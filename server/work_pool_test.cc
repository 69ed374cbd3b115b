#include "server/work_pool.h"

#include <atomic>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace refx::server {
namespace {

TEST(WorkPoolTest, RunsEverythingQueuedBeforeItIsDestroyed) {
  std::atomic<int> ran{0};
  {
    WorkPool pool(2, 1000);
    for (int i = 0; i < 500; ++i) ASSERT_TRUE(pool.TrySubmit([&] { ++ran; }));
  }
  EXPECT_EQ(ran.load(), 500);
}

TEST(WorkPoolTest, RefusesWorkBeyondTheQueueBound) {
  absl::Notification release;
  absl::Notification started;
  WorkPool pool(1, 2);
  ASSERT_TRUE(pool.TrySubmit([&] {
    started.Notify();
    release.WaitForNotification();
  }));
  started.WaitForNotification();  // the only thread is now busy
  EXPECT_TRUE(pool.TrySubmit([] {}));
  EXPECT_TRUE(pool.TrySubmit([] {}));
  EXPECT_FALSE(pool.TrySubmit([] {}));
  release.Notify();
}

}  // namespace
}  // namespace refx::server
