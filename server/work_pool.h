// A fixed pool of threads that run blocking work (storage) on behalf of gRPC
// callback handlers, so that no reactor thread ever waits on disk. Handlers
// submit a closure and return; the closure finishes the RPC. The queue is
// bounded so that overload is refused at once (RESOURCE_EXHAUSTED, retry)
// instead of growing memory until the process dies.
//
// Queued work is served fairly by key (the calling agency): one queue per
// key, taken in turn, so a partner with hundreds of calls queued delays
// another partner's call by at most one call per busy partner, not by its
// whole backlog (issue 17: a well-behaved agency keeps its latency while
// another floods the server). With `spare_thread_for_idle_keys`, the last
// free thread goes only to a key with nothing running, so a partner that
// is not flooding finds a thread at once instead of waiting for one of the
// flooders' calls to finish.
#ifndef REFX_SERVER_WORK_POOL_H_
#define REFX_SERVER_WORK_POOL_H_

#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/fair_queue.h"

namespace refx::server {

class WorkPool {
 public:
  WorkPool(int threads, int max_queued, bool spare_thread_for_idle_keys = false);
  // Runs every queued closure, then joins the threads.
  ~WorkPool();
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  // Queues `work` behind the earlier work of the same `key`; false (and
  // `work` dropped) if max_queued closures are already waiting in all.
  bool TrySubmit(std::function<void()> work, absl::string_view key = {});

 private:
  void Loop();
  // Whether a thread may go to `key` now (the spare-thread rule).
  bool MayServe(const std::string& key) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Mutex mu_;
  FairQueue<std::function<void()>> queued_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int, std::less<>> running_ ABSL_GUARDED_BY(mu_);  // per key, when > 0
  int busy_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  const size_t max_queued_;
  const int thread_count_;
  const bool spare_thread_for_idle_keys_;
  std::vector<std::thread> threads_;
};

}  // namespace refx::server

#endif  // REFX_SERVER_WORK_POOL_H_
