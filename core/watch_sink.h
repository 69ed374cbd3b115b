// The two ends of a server stream that core drives without gRPC: the sink
// (the server's stream, which writes bytes) and the subscription (core's
// session, which decides what to write and when). WatchReferrals
// (core/referral_watch.h) and WatchTensionAlerts (core/tension_watch.h)
// share them, so the server has one stream adapter for both.
#ifndef REFX_CORE_WATCH_SINK_H_
#define REFX_CORE_WATCH_SINK_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace refx::core {

// One serialized response message, shared by every subscriber that sees it
// the same way (rendered and serialized once).
using WatchMessageBytes = std::shared_ptr<const std::string>;

// The far end of a subscription (the server's stream).
class WatchSink {
 public:
  virtual ~WatchSink() = default;
  // Sends `messages` in order, then calls the subscription's OnSent().
  // Never called again before that. The bytes are shared: never modify them.
  virtual void Send(std::vector<WatchMessageBytes> messages) = 0;
  // Ends the stream with `status`; called at most once. `abandon_pending`:
  // a batch is stuck in flight (the subscriber stopped reading), so cut it
  // rather than wait for it.
  virtual void Close(const absl::Status& status, bool abandon_pending) = 0;
};

// What the sink tells its subscription.
class WatchSubscription {
 public:
  virtual ~WatchSubscription() = default;
  // The sink wrote everything it was last given.
  virtual void OnSent() = 0;
  // Ends the subscription: the sink is closed with `status` (once).
  virtual void Close(const absl::Status& status, bool abandon_pending) = 0;
  // The sink is going away: never call it again (the stream is done).
  virtual void Detach() = 0;
};

// A subscription's sink as its hub and its own threads reach it: every call
// under one lock, so Clear (the stream going away) waits for a call in
// progress and no call comes after it.
class SinkSlot {
 public:
  explicit SinkSlot(WatchSink* sink) : sink_(sink) {}
  // Runs `use(sink)` with the sink alive; false (and not run) once cleared.
  template <typename Use>
  bool With(Use&& use) {
    absl::MutexLock lock(&mu_);
    if (sink_ == nullptr) return false;
    use(sink_);
    return true;
  }
  void Clear() {
    absl::MutexLock lock(&mu_);
    sink_ = nullptr;
  }

 private:
  absl::Mutex mu_;
  WatchSink* sink_ ABSL_GUARDED_BY(mu_);
};

// Closes each of `sessions` whose sink `check` does not pass, with its
// status: resumably for UNAVAILABLE (the subscriber may reconnect),
// otherwise as it is. `check` runs with the sink alive. A Session has
// `SinkSlot sink`, Close(status, abandon) and CloseResumable(why, abandon).
template <typename Sessions>
void CloseFailing(const Sessions& sessions, const std::function<absl::Status(WatchSink*)>& check) {
  for (const auto& session : sessions) {
    absl::Status verdict;
    if (!session->sink.With([&](WatchSink* sink) { verdict = check(sink); })) continue;
    if (absl::IsUnavailable(verdict)) {
      session->CloseResumable(verdict.message(), /*abandon_pending=*/true);
    } else if (!verdict.ok()) {
      session->Close(verdict, /*abandon_pending=*/true);
    }
  }
}

}  // namespace refx::core

#endif  // REFX_CORE_WATCH_SINK_H_
