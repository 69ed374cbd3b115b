// One audit event for many alike disclosures made at nearly the same moment.
//
// A watch batch goes to every open stream of an agency that sees it: with
// thousands of streams, one hash-chained event per stream per batch meant
// thousands of chain appends per referral (issue 12; measured, 30 -> 26 µs
// of server CPU per delivery at 10,000 streams). The law asks for a record
// of who received what, not one chain append per stream, so events
// that are equal in every field but their time (same agency, certificate,
// acting person, purpose, agreement, action, referrals, data classes and
// outcome) and are submitted before their group is written become one
// event whose `count` is the number of streams it stands for, timed at the
// first of them. Each stream's opening has its own event, so every stream
// stays accounted for; what differs between two streams (another
// certificate, another mask, another batch) is another event.
//
// A group is handed to the store when the work pool reaches its flush,
// queued behind the sessions already woken for the same events (so the
// first of them waits for those, not for a timer), and every submitter
// hears the group's own outcome (nothing is sent if it failed).
#ifndef REFX_CORE_AUDIT_COALESCER_H_
#define REFX_CORE_AUDIT_COALESCER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "core/auditor.h"
#include "storage/audit_record.h"

namespace refx::core {

class AuditCoalescer {
 public:
  struct Options {
    Auditor* auditor = nullptr;  // not owned
    // Runs a task soon on another thread; false if it cannot now (the
    // group is then written at once). Without it every event is written
    // on its own. Its tasks use the coalescer: it must outlive them.
    std::function<bool(std::function<void()>)> schedule;
  };
  explicit AuditCoalescer(Options options) : options_(std::move(options)) {}

  // Records `record` (its count is how many disclosures it stands for) with
  // every alike record submitted before their group is written. `done` runs
  // once the group's event is durable, or has failed (UNAVAILABLE), on a
  // thread of the store's.
  void RecordAsync(storage::AuditRecord record, std::function<void(absl::Status)> done);

  // Hands every pending group to the store now (before the store closes).
  void FlushAll();

  // Groups submitted and not yet handed to the store.
  size_t pending_groups() const;

 private:
  struct Group {
    storage::AuditRecord record;
    std::vector<std::function<void(absl::Status)>> done;
  };
  void Flush(const std::string& key);
  void Write(Group group);

  Options options_;
  mutable absl::Mutex mu_;
  std::map<std::string, Group> pending_ ABSL_GUARDED_BY(mu_);
};

// What makes two records alike: every field but time, count and the chain.
std::string AuditCoalescingKey(const storage::AuditRecord& record);

}  // namespace refx::core

#endif  // REFX_CORE_AUDIT_COALESCER_H_
