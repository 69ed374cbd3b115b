#include "server/work_pool.h"

#include <atomic>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
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

TEST(WorkPoolTest, ServesKeysInTurnSoOneBacklogDoesNotDelayAnother) {
  absl::Notification release, started;
  std::vector<std::string> order;
  absl::Mutex mu;
  {
    WorkPool pool(1, 1000);
    ASSERT_TRUE(pool.TrySubmit([&] {
      started.Notify();
      release.WaitForNotification();
    }));
    started.WaitForNotification();  // the only thread is busy: what follows queues
    for (int i = 0; i < 100; ++i) {
      ASSERT_TRUE(pool.TrySubmit(
          [&] {
            absl::MutexLock lock(&mu);
            order.push_back("flood");
          },
          "flooding-agency"));
    }
    ASSERT_TRUE(pool.TrySubmit(
        [&] {
          absl::MutexLock lock(&mu);
          order.push_back("polite");
        },
        "polite-agency"));
    release.Notify();
  }
  ASSERT_EQ(order.size(), 101u);
  // The polite agency's one call runs second, not after the 100 queued first.
  EXPECT_EQ(order[1], "polite");
}

TEST(WorkPoolTest, TheQueueBoundCountsEveryKey) {
  absl::Notification release, started;
  WorkPool pool(1, 3);
  ASSERT_TRUE(pool.TrySubmit([&] {
    started.Notify();
    release.WaitForNotification();
  }));
  started.WaitForNotification();
  EXPECT_TRUE(pool.TrySubmit([] {}, "a"));
  EXPECT_TRUE(pool.TrySubmit([] {}, "b"));
  EXPECT_TRUE(pool.TrySubmit([] {}, "c"));
  EXPECT_FALSE(pool.TrySubmit([] {}, "d"));
  release.Notify();
}

TEST(WorkPoolTest, TheLastFreeThreadWaitsForAKeyWithNothingRunning) {
  absl::Notification release, first_started, polite_ran;
  std::atomic<bool> second_ran{false};
  {
    WorkPool pool(2, 100, /*spare_thread_for_idle_keys=*/true);
    ASSERT_TRUE(pool.TrySubmit(
        [&] {
          first_started.Notify();
          release.WaitForNotification();
        },
        "flooding-agency"));
    first_started.WaitForNotification();
    ASSERT_TRUE(pool.TrySubmit([&] { second_ran = true; }, "flooding-agency"));
    ASSERT_TRUE(pool.TrySubmit([&] { polite_ran.Notify(); }, "polite-agency"));
    // The polite agency's call runs on the spare thread while the flood's
    // first call still holds the other; the flood's second waits.
    EXPECT_TRUE(polite_ran.WaitForNotificationWithTimeout(absl::Seconds(10)));
    absl::SleepFor(absl::Milliseconds(50));
    EXPECT_FALSE(second_ran.load());
    release.Notify();
  }
  EXPECT_TRUE(second_ran.load()) << "queued work still runs once a thread frees";
}

}  // namespace
}  // namespace refx::server
