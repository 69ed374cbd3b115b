#include "bench/load.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"

namespace refx::bench {
namespace {

// How long to wait for calls in flight after the deadline. Every call has
// its own gRPC deadline well below this, so reaching it means a bug.
constexpr absl::Duration kDrainLimit = absl::Seconds(60);

// Shared by the slots of one run. Each call's completion holds a reference,
// so it outlives the last callback even if that runs after the caller
// stopped waiting (absl::Notification may still be inside Notify() when the
// waiter wakes).
struct Run : std::enable_shared_from_this<Run> {
  const std::atomic<bool>* cancel = nullptr;
  int64_t max_calls = 0;
  const StartCall* start;
  absl::Time stop_at;
  std::atomic<int64_t> started{0};
  std::atomic<int64_t> finished{0};
  std::atomic<int> active_slots{0};
  absl::Notification all_done;
  absl::Mutex mu;
  int64_t errors ABSL_GUARDED_BY(mu) = 0;
  std::string first_error ABSL_GUARDED_BY(mu);
  std::vector<std::vector<int64_t>> latencies;  // Per slot: no lock needed.

  bool ShouldStop() const {
    if (cancel != nullptr && cancel->load()) return true;
    if (max_calls > 0 && started.load() >= max_calls) return true;
    return absl::Now() >= stop_at;
  }

  void StartNext(int slot) {
    if (ShouldStop()) {
      if (active_slots.fetch_sub(1) == 1) all_done.Notify();
      return;
    }
    started.fetch_add(1);
    const absl::Time begin = absl::Now();
    (*start)(slot, [this, self = shared_from_this(), slot, begin](bool ok, const std::string& error) {
      if (ok) {
        latencies[slot].push_back(absl::ToInt64Nanoseconds(absl::Now() - begin));
      } else {
        absl::MutexLock lock(&mu);
        if (errors++ == 0) first_error = error;
      }
      finished.fetch_add(1);
      StartNext(slot);
    });
  }
};

LoadResult Collect(std::vector<std::vector<int64_t>>& per_slot, int64_t errors, std::string first_error,
                   absl::Duration elapsed) {
  LoadResult result;
  for (auto& v : per_slot) {
    result.latencies_ns.insert(result.latencies_ns.end(), v.begin(), v.end());
  }
  result.ok = static_cast<int64_t>(result.latencies_ns.size());
  result.errors = errors;
  result.first_error = std::move(first_error);
  result.elapsed = elapsed;
  return result;
}

}  // namespace

double LoadResult::CallsPerSecond() const {
  const double seconds = absl::ToDoubleSeconds(elapsed);
  return seconds > 0 ? static_cast<double>(ok) / seconds : 0;
}

double LoadResult::PercentileMicros(double q) const {
  if (latencies_ns.empty()) return 0;
  std::vector<int64_t> copy = latencies_ns;
  size_t index = static_cast<size_t>(std::ceil(q * static_cast<double>(copy.size())));
  index = std::clamp<size_t>(index, 1, copy.size()) - 1;
  std::nth_element(copy.begin(), copy.begin() + static_cast<std::ptrdiff_t>(index), copy.end());
  return static_cast<double>(copy[index]) / 1000.0;
}

LoadResult RunClosedLoop(const LoadOptions& options, const StartCall& start) {
  auto run = std::make_shared<Run>();
  run->cancel = options.cancel;
  run->max_calls = options.max_calls;
  run->start = &start;
  run->latencies.resize(static_cast<size_t>(options.in_flight));
  const absl::Time begin = absl::Now();
  run->stop_at = begin + options.duration;
  run->active_slots = options.in_flight;
  for (int slot = 0; slot < options.in_flight; ++slot) run->StartNext(slot);
  absl::Time next_progress = begin + options.progress_every;
  const absl::Time give_up = run->stop_at + kDrainLimit;
  while (!run->all_done.WaitForNotificationWithTimeout(absl::Milliseconds(100))) {
    if (options.progress && absl::Now() >= next_progress) {
      options.progress(run->finished.load());
      next_progress += options.progress_every;
    }
    if (absl::Now() > give_up) break;
  }
  const absl::Duration elapsed = absl::Now() - begin;
  if (!run->all_done.HasBeenNotified()) {
    LoadResult stuck;
    stuck.errors = 1;
    stuck.first_error = "calls still in flight 60 s after the deadline";
    stuck.elapsed = elapsed;
    // Late callbacks keep `run` alive; they start nothing (the deadline
    // has passed), so `start` is never used again.
    return stuck;
  }
  std::string first_error;
  int64_t errors = 0;
  {
    absl::MutexLock lock(&run->mu);
    errors = run->errors;
    first_error = run->first_error;
  }
  return Collect(run->latencies, errors, first_error, elapsed);
}

LoadResult RunThreadLoop(const LoadOptions& options, const BlockingCall& call) {
  const absl::Time begin = absl::Now();
  const absl::Time stop_at = begin + options.duration;
  std::atomic<int64_t> started{0};
  std::vector<std::vector<int64_t>> latencies(static_cast<size_t>(options.in_flight));
  std::mutex mu;
  int64_t errors = 0;
  std::string first_error;
  std::vector<std::thread> threads;
  for (int t = 0; t < options.in_flight; ++t) {
    threads.emplace_back([&, t] {
      while (absl::Now() < stop_at && !(options.cancel != nullptr && options.cancel->load()) &&
             !(options.max_calls > 0 && started.load() >= options.max_calls)) {
        started.fetch_add(1);
        const absl::Time call_begin = absl::Now();
        const absl::Status status = call(t);
        if (status.ok()) {
          latencies[static_cast<size_t>(t)].push_back(absl::ToInt64Nanoseconds(absl::Now() - call_begin));
        } else {
          std::lock_guard<std::mutex> lock(mu);
          if (errors++ == 0) first_error = std::string(status.message());
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  return Collect(latencies, errors, first_error, absl::Now() - begin);
}

}  // namespace refx::bench
