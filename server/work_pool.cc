#include "server/work_pool.h"

#include <optional>
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
  if (queued_.size() >= max_queued_) return false;
  queued_.Push(key, std::move(work));
  return true;
}

bool WorkPool::MayServe(const std::string& key) const {
  const bool last_free_thread = thread_count_ - busy_ <= 1;
  return !spare_thread_for_idle_keys_ || !last_free_thread || running_.find(key) == running_.end();
}

void WorkPool::Loop() {
  const auto may_serve = [this](const std::string& key) ABSL_NO_THREAD_SAFETY_ANALYSIS { return MayServe(key); };
  while (true) {
    std::optional<std::function<void()>> work;
    std::string key;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](WorkPool* p) ABSL_NO_THREAD_SAFETY_ANALYSIS {
            return (p->stopping_ && p->queued_.empty()) ||
                   p->queued_.CanPop([p](const std::string& k) ABSL_NO_THREAD_SAFETY_ANALYSIS { return p->MayServe(k); });
          },
          this));
      // The key whose turn it is gives one closure, then waits for its next
      // turn behind every other key with work.
      work = queued_.Pop(may_serve, &key);
      if (!work.has_value()) return;  // stopping, and nothing is queued
      ++running_[key];
      ++busy_;
    }
    (*work)();
    absl::MutexLock lock(&mu_);
    --busy_;
    auto running = running_.find(key);
    if (--running->second == 0) running_.erase(running);
  }
}

}  // namespace refx::server
