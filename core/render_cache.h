// Referrals as one reader view last saw them in a list page, so that listing
// the same referrals again (a caseworker's dashboard refreshing, another
// user of the same agency) skips parsing, the record gate, redaction,
// trimming, serializing and the walk that finds what they disclose.
//
// An entry answers only for the exact stored document it was rendered from:
// every change a referral can undergo (a lifecycle change, a case update, a
// consent change, a retention erasure, a regime migration) rewrites its
// document, so a changed referral misses and is rendered afresh. Everything
// else a render depends on is in the key (ListView): the reading agency
// (a former party reads less), its role and purpose, the agreement snapshot
// and the read mask. Keys name the agency, so entries are never shared
// between agencies: a partner's hits cannot tell it what another partner
// has listed. The cache holds at most a configured number of entries,
// least recently used first out, and keeps a render only the second time
// its key misses: a walk through many referrals, each listed once, keeps
// (and evicts) nothing.
#ifndef REFX_CORE_RENDER_CACHE_H_
#define REFX_CORE_RENDER_CACHE_H_

#include <cstddef>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "core/caller.h"
#include "core/redaction.h"

namespace refx::core {

// One referral as one view renders it for a list page.
struct RenderedReferral {
  // Whether the reader's role may see the record at all (the record gate);
  // when false, nothing else is set.
  bool visible = false;
  // The classes the reader may read of it, for filters matched on the view.
  DataClassSet readable;
  // The strand ids the stored document holds, for a strand filter matched
  // here rather than in the store.
  std::vector<std::string> strands;
  // The refx.v1.Referral redacted to the reader's view and trimmed to the
  // read mask, serialized, and what those bytes disclose (DisclosureOf).
  std::string bytes;
  Disclosure disclosed;
};

// What a rendering depends on besides the document and the reading agency:
// `caller`'s role, purpose and agreement snapshot, and `read_mask` as a set.
// Readers of one role share it (the watch's shared views, which leave out a
// former party, the one agency of a role that reads less).
std::string RoleView(const Caller& caller, const std::vector<std::string>& read_mask);
// The view part of a list key: the agency, then RoleView (a former party
// reads less, and no partner's hits may depend on what another listed). A
// referral's key is this followed by its id (ListRenderKey).
std::string ListView(const Caller& caller, const std::vector<std::string>& read_mask);
std::string ListRenderKey(absl::string_view view, absl::string_view referral_id);

class RenderCache {
 public:
  // `capacity` entries at most; 0 keeps nothing.
  explicit RenderCache(size_t capacity) : capacity_(capacity) {}
  RenderCache(const RenderCache&) = delete;
  RenderCache& operator=(const RenderCache&) = delete;

  // The render stored under `key` if it was made from exactly `document`;
  // nullptr otherwise.
  std::shared_ptr<const RenderedReferral> Find(const std::string& key, absl::string_view document);
  // Offers `rendered`, made from `document`, for `key`: stored (replacing
  // what was there) if the key is held or missed before, else only noted.
  void Insert(const std::string& key, std::string document, std::shared_ptr<const RenderedReferral> rendered);

  size_t size() const;
  int64_t hits() const;
  int64_t misses() const;

 private:
  struct Entry {
    std::string key;
    std::string document;
    std::shared_ptr<const RenderedReferral> rendered;
  };
  using Order = std::list<Entry>;  // most recently used first

  const size_t capacity_;
  mutable absl::Mutex mu_;
  Order order_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Order::iterator> by_key_ ABSL_GUARDED_BY(mu_);
  // Hashes of keys offered once and not kept, at most `capacity_` (then
  // forgotten all at once). A collision only admits a render early.
  absl::flat_hash_set<size_t> offered_once_ ABSL_GUARDED_BY(mu_);
  int64_t hits_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t misses_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace refx::core

#endif  // REFX_CORE_RENDER_CACHE_H_
