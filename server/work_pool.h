// A fixed pool of threads that run blocking work (storage) on behalf of gRPC
// callback handlers, so that no reactor thread ever waits on disk. Handlers
// submit a closure and return; the closure finishes the RPC. The queue is
// bounded so that overload is refused at once (RESOURCE_EXHAUSTED, retry)
// instead of growing memory until the process dies.
#ifndef REFX_SERVER_WORK_POOL_H_
#define REFX_SERVER_WORK_POOL_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace refx::server {

class WorkPool {
 public:
  WorkPool(int threads, int max_queued);
  // Runs every queued closure, then joins the threads.
  ~WorkPool();
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  // Queues `work`; false (and `work` dropped) if max_queued closures are
  // already waiting.
  bool TrySubmit(std::function<void()> work);

 private:
  void Loop();
  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  const size_t max_queued_;
  std::vector<std::thread> threads_;
};

}  // namespace refx::server

#endif  // REFX_SERVER_WORK_POOL_H_
