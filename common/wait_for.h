// The blocking form of a call that completes through a callback: refx's
// writes are non-blocking (the server completes an RPC from its commit), and
// tools and tests that want the answer in line wait for it with WaitFor.
#ifndef REFX_COMMON_WAIT_FOR_H_
#define REFX_COMMON_WAIT_FOR_H_

#include <functional>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"

namespace refx {

// Calls `start` with a completion and returns what it is called with. The
// completion must run exactly once, and not on this thread after it waits
// on a lock `start`'s work needs.
template <typename T, typename Start>
absl::StatusOr<T> WaitFor(Start start) {
  absl::Notification finished;
  absl::StatusOr<T> result = absl::UnknownError("the call did not complete");
  start(std::function<void(absl::StatusOr<T>)>([&](absl::StatusOr<T> outcome) {
    result = std::move(outcome);
    finished.Notify();
  }));
  finished.WaitForNotification();
  return result;
}

}  // namespace refx

#endif  // REFX_COMMON_WAIT_FOR_H_
