// A fixed pool of threads that run blocking work (storage) on behalf of gRPC
// callback handlers, so that no reactor thread ever waits on disk. Handlers
// submit a closure and return; the closure finishes the RPC.
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
  explicit WorkPool(int threads);
  // Runs every queued closure, then joins the threads.
  ~WorkPool();
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  void Submit(std::function<void()> work);

 private:
  void Loop();
  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace refx::server

#endif  // REFX_SERVER_WORK_POOL_H_
