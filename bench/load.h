// The load generator of refx-bench: closed loops that keep a fixed number of
// calls in flight for a bounded time (or number of calls), and record every
// call's latency.
//
// Two drivers share one result type:
//   RunClosedLoop  for unary calls on gRPC's callback API: `in_flight` slots,
//                  each starting its next call from the previous call's
//                  completion. No client thread per call, so the client
//                  costs as little CPU as gRPC allows on a 2-core machine
//                  that also runs the server.
//   RunThreadLoop  for work that blocks, such as opening a connection:
//                  `threads` threads, each repeating the work.
// Both stop starting work at the deadline (or when `cancel` is set) and
// return only when every call has finished; every call carries its own
// deadline, so the wait is bounded.
#ifndef REFX_BENCH_LOAD_H_
#define REFX_BENCH_LOAD_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace refx::bench {

struct LoadOptions {
  int in_flight = 1;                       // Slots (or threads).
  absl::Duration duration = absl::Seconds(3);  // Stop starting calls after this.
  int64_t max_calls = 0;                   // Also stop after this many; 0: no limit.
  // Called about every `progress_every` with calls finished so far.
  absl::Duration progress_every = absl::InfiniteDuration();
  std::function<void(int64_t finished)> progress;
  const std::atomic<bool>* cancel = nullptr;  // Stop early when it becomes true.
};

struct LoadResult {
  int64_t ok = 0;                  // Calls that succeeded.
  int64_t errors = 0;              // Calls that failed.
  std::string first_error;         // The first failure's message.
  absl::Duration elapsed;          // First start to last finish.
  std::vector<int64_t> latencies_ns;  // Successful calls only, unsorted.

  double CallsPerSecond() const;
  // The latency at quantile `q` (0 < q <= 1) in microseconds; 0 if none.
  double PercentileMicros(double q) const;
};

// Finishes one call: `ok` false with a message on failure. Must be called
// exactly once per started call, from any thread.
using CallDone = std::function<void(bool ok, const std::string& error)>;

// Starts one asynchronous call for `slot` (0 <= slot < in_flight). Calls of
// one slot never overlap, so per-slot state needs no lock.
using StartCall = std::function<void(int slot, CallDone done)>;

LoadResult RunClosedLoop(const LoadOptions& options, const StartCall& start);

// One blocking unit of work for `thread` (0 <= thread < in_flight).
using BlockingCall = std::function<absl::Status(int thread)>;

LoadResult RunThreadLoop(const LoadOptions& options, const BlockingCall& call);

}  // namespace refx::bench

#endif  // REFX_BENCH_LOAD_H_
