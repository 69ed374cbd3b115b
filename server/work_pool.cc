#include "server/work_pool.h"

#include <utility>

namespace refx::server {

WorkPool::WorkPool(int threads, int max_queued) : max_queued_(static_cast<size_t>(max_queued)) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
}

WorkPool::~WorkPool() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (auto& t : threads_) t.join();
}

bool WorkPool::TrySubmit(std::function<void()> work, absl::string_view key) {
  absl::MutexLock lock(&mu_);
  if (queued_ >= max_queued_) return false;
  auto queue = queues_.find(key);
  if (queue == queues_.end()) {
    queue = queues_.emplace(std::string(key), std::deque<std::function<void()>>()).first;
    turns_.push_back(queue->first);
  }
  queue->second.push_back(std::move(work));
  ++queued_;
  return true;
}

void WorkPool::Loop() {
  while (true) {
    std::function<void()> work;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](WorkPool* p) ABSL_NO_THREAD_SAFETY_ANALYSIS { return p->stopping_ || p->queued_ > 0; }, this));
      if (queued_ == 0) return;
      // The key whose turn it is gives one closure, then waits for its next
      // turn behind every other key with work.
      std::string key = std::move(turns_.front());
      turns_.pop_front();
      auto queue = queues_.find(key);
      work = std::move(queue->second.front());
      queue->second.pop_front();
      --queued_;
      if (queue->second.empty()) {
        queues_.erase(queue);
      } else {
        turns_.push_back(std::move(key));
      }
    }
    work();
  }
}

}  // namespace refx::server
