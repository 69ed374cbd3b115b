// Builds and records the audit event of every call: the DPA 2018 s62 action,
// who (agency, certificate serial, the acting person as a keyed HMAC), why
// (purpose, agreement version), which referrals, which data classes were
// disclosed, and the outcome.
//
// Events that concern stored data are written in the same transaction as
// that data (CreateReferral) or committed before any data is returned
// (reads); if an event cannot be written the call fails and returns nothing.
// No personal data enters an event: ids, class names, status codes, and an
// HMAC of the acting person under a key the server holds.
#ifndef REFX_CORE_AUDITOR_H_
#define REFX_CORE_AUDITOR_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/clock.h"
#include "core/caller.h"
#include "core/redaction.h"
#include "storage/referral_store.h"

namespace refx::core {

// The s62 actions, plus kNone for calls that touch no personal data.
enum class AuditAction { kCollection, kAlteration, kConsultation, kDisclosure, kCombination, kErasure, kNone };
const char* AuditActionName(AuditAction action);

// What one call did, filled in as it runs.
struct CallAudit {
  std::string method;     // full name, e.g. "refx.v1.ReferralService.GetReferral"
  bool recorded = false;  // an event was written with the data; do not write another
  // The call's event when it goes with no stored change (a read, a replay):
  // the server writes it and sends the answer only once it is durable, and
  // sends nothing if it cannot be written. Deferring the write to the
  // server lets it wait without holding a worker thread, so concurrent
  // reads share commits.
  std::optional<storage::AuditRecord> before_answer = std::nullopt;

  // Hands `record` over as the event the answer must wait for.
  void WriteBeforeAnswer(storage::AuditRecord record) {
    before_answer = std::move(record);
    recorded = true;
  }
};

class Auditor {
 public:
  struct Options {
    storage::ReferralStore* store = nullptr;  // not owned
    std::string hmac_key;                     // at least 32 bytes
    const Clock* clock = nullptr;             // default: system clock
  };
  explicit Auditor(Options options);

  // An event for an identified caller.
  // `disclosed` is DisclosureOf the answer sent (nothing for a refusal).
  storage::AuditRecord Build(const Caller& caller, absl::string_view method, AuditAction action,
                             const std::vector<std::string>& referral_ids, const Disclosure& disclosed,
                             absl::StatusCode outcome) const;

  // Durably appends `record`. UNAVAILABLE if it cannot be written.
  absl::Status Record(const storage::AuditRecord& record);
  // As Record, without blocking: `done` runs once the event is durable or
  // has failed (UNAVAILABLE), on a thread of the store's.
  void RecordAsync(const storage::AuditRecord& record, std::function<void(absl::Status)> done);

  // Events for the data protection officer, oldest first.
  absl::StatusOr<std::vector<storage::AuditRecord>> ListEvents(const storage::AuditQuery& query);
  // The chain's verdict (see ReferralStore::VerifyAuditChain).
  absl::StatusOr<storage::AuditChainReport> Verify(const storage::AuditHead* checkpoint = nullptr);

  // The hex HMAC-SHA256 of the acting person's name ("" for none).
  std::string ActingUserToken(absl::string_view acting_user) const;

  storage::ReferralStore* store() const { return options_.store; }

 private:
  Options options_;
};

// The action a method performs when it succeeds (reads refine it to
// consultation or disclosure by whose referral it was).
AuditAction DefaultActionFor(absl::string_view method);

}  // namespace refx::core

#endif  // REFX_CORE_AUDITOR_H_
