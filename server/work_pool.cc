#include "server/work_pool.h"

#include <utility>

namespace refx::server {

WorkPool::WorkPool(int threads, int max_queued, bool spare_thread_for_idle_keys)
    : max_queued_(static_cast<size_t>(max_queued)),
      thread_count_(threads),
      spare_thread_for_idle_keys_(spare_thread_for_idle_keys) {
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

int WorkPool::NextTurn() const {
  const bool last_free_thread = thread_count_ - busy_ <= 1;
  for (size_t i = 0; i < turns_.size(); ++i) {
    if (!spare_thread_for_idle_keys_ || !last_free_thread || running_.find(turns_[i]) == running_.end()) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

void WorkPool::Loop() {
  while (true) {
    std::function<void()> work;
    std::string key;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](WorkPool* p) ABSL_NO_THREAD_SAFETY_ANALYSIS {
            return (p->stopping_ && p->queued_ == 0) || p->NextTurn() >= 0;
          },
          this));
      const int turn = NextTurn();
      if (turn < 0) return;  // stopping, and nothing is queued
      // The key whose turn it is gives one closure, then waits for its next
      // turn behind every other key with work.
      key = std::move(turns_[static_cast<size_t>(turn)]);
      turns_.erase(turns_.begin() + turn);
      auto queue = queues_.find(key);
      work = std::move(queue->second.front());
      queue->second.pop_front();
      --queued_;
      if (queue->second.empty()) {
        queues_.erase(queue);
      } else {
        turns_.push_back(key);
      }
      ++running_[key];
      ++busy_;
    }
    work();
    absl::MutexLock lock(&mu_);
    --busy_;
    auto running = running_.find(key);
    if (--running->second == 0) running_.erase(running);
  }
}

}  // namespace refx::server
