#include "core/render_cache.h"

#include <algorithm>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/agreement.h"

namespace refx::core {

std::string RoleView(const Caller& caller, const std::vector<std::string>& read_mask) {
  // Trimming keeps the union of the paths, whatever their order or repeats.
  std::vector<std::string> mask = read_mask;
  std::sort(mask.begin(), mask.end());
  mask.erase(std::unique(mask.begin(), mask.end()), mask.end());
  // The agreement snapshot by its instance: a reload, even of the same
  // version, starts afresh.
  const uint64_t agreement = caller.agreement == nullptr ? 0 : caller.agreement->instance();
  return absl::StrCat(caller.role, "\x1f", caller.purpose, "\x1f", agreement, "\x1f", absl::StrJoin(mask, "\x1e"),
                      "\x1f");
}

std::string ListView(const Caller& caller, const std::vector<std::string>& read_mask) {
  return absl::StrCat(caller.agency_id, "\x1f", RoleView(caller, read_mask));
}

std::string ListRenderKey(absl::string_view view, absl::string_view referral_id) {
  return absl::StrCat(view, referral_id);
}

std::shared_ptr<const RenderedReferral> RenderCache::Find(const std::string& key, absl::string_view document) {
  absl::MutexLock lock(&mu_);
  auto it = by_key_.find(key);
  if (it == by_key_.end() || it->second->document != document) {
    ++misses_;
    return nullptr;
  }
  order_.splice(order_.begin(), order_, it->second);
  ++hits_;
  return it->second->rendered;
}

void RenderCache::Insert(const std::string& key, std::string document,
                         std::shared_ptr<const RenderedReferral> rendered) {
  if (capacity_ == 0) return;
  absl::MutexLock lock(&mu_);
  auto it = by_key_.find(key);
  if (it != by_key_.end()) {
    it->second->document = std::move(document);
    it->second->rendered = std::move(rendered);
    order_.splice(order_.begin(), order_, it->second);
    return;
  }
  const size_t hash = absl::HashOf(key);
  if (offered_once_.erase(hash) == 0) {
    if (offered_once_.size() >= capacity_) offered_once_.clear();
    offered_once_.insert(hash);
    return;
  }
  order_.push_front(Entry{key, std::move(document), std::move(rendered)});
  by_key_.emplace(key, order_.begin());
  while (order_.size() > capacity_) {
    by_key_.erase(order_.back().key);
    order_.pop_back();
  }
}

size_t RenderCache::size() const {
  absl::MutexLock lock(&mu_);
  return order_.size();
}

int64_t RenderCache::hits() const {
  absl::MutexLock lock(&mu_);
  return hits_;
}

int64_t RenderCache::misses() const {
  absl::MutexLock lock(&mu_);
  return misses_;
}

}  // namespace refx::core
