// A queue served fairly by key: one FIFO per key, and keys take turns, so a
// key with a thousand items queued delays another key's item by at most one
// item per busy key, not by its whole backlog. refx keys by agency: the work
// pool hands out threads this way and the store's writer fills its group
// commits this way, so a partner flooding the server does not make another
// partner's calls wait behind its backlog (issue 17). Not thread-safe: the
// owner holds its own lock.
#ifndef REFX_COMMON_FAIR_QUEUE_H_
#define REFX_COMMON_FAIR_QUEUE_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"

namespace refx {

template <typename T>
class FairQueue {
 public:
  // Queues `item` behind the earlier items of `key`.
  void Push(absl::string_view key, T item) {
    auto queue = queues_.find(key);
    if (queue == queues_.end()) {
      queue = queues_.emplace(std::string(key), std::deque<T>()).first;
      turns_.push_back(queue->first);
    }
    queue->second.push_back(std::move(item));
    ++size_;
  }

  // The oldest item of the first key in turn that `may_serve` accepts; that
  // key then waits for its next turn behind every other key with items.
  // nullopt if no key is accepted (or none has items). `key_out`, if given,
  // receives the key served.
  std::optional<T> Pop(const std::function<bool(const std::string& key)>& may_serve = nullptr,
                       std::string* key_out = nullptr) {
    const int turn = NextTurn(may_serve);
    if (turn < 0) return std::nullopt;
    std::string key = std::move(turns_[static_cast<size_t>(turn)]);
    turns_.erase(turns_.begin() + turn);
    auto queue = queues_.find(key);
    T item = std::move(queue->second.front());
    queue->second.pop_front();
    --size_;
    if (queue->second.empty()) {
      queues_.erase(queue);
    } else {
      turns_.push_back(key);
    }
    if (key_out != nullptr) *key_out = std::move(key);
    return item;
  }

  // Whether Pop(may_serve) would return an item.
  bool CanPop(const std::function<bool(const std::string& key)>& may_serve = nullptr) const {
    return NextTurn(may_serve) >= 0;
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Items queued for `key`.
  size_t size(absl::string_view key) const {
    auto queue = queues_.find(key);
    return queue == queues_.end() ? 0 : queue->second.size();
  }

 private:
  int NextTurn(const std::function<bool(const std::string& key)>& may_serve) const {
    for (size_t i = 0; i < turns_.size(); ++i) {
      if (!may_serve || may_serve(turns_[i])) return static_cast<int>(i);
    }
    return -1;
  }

  std::map<std::string, std::deque<T>, std::less<>> queues_;
  std::deque<std::string> turns_;  // keys with items queued, in serving order
  size_t size_ = 0;
};

}  // namespace refx

#endif  // REFX_COMMON_FAIR_QUEUE_H_
