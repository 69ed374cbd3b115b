// One audit event as stored: who did what to which referral, under which
// agreement, with what outcome, chained by SHA-256 to the event before it.
//
// Events hold identifiers only, never referral content; the acting person
// is a keyed HMAC. The chain (sequence, previous hash, hash) is assigned by
// the store at commit time, inside the transaction that holds the data the
// event is about, so an event exists exactly when its data change does.
#ifndef REFX_STORAGE_AUDIT_RECORD_H_
#define REFX_STORAGE_AUDIT_RECORD_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

#include "absl/time/time.h"

namespace refx::storage {

struct AuditRecord {
  // Assigned by the store.
  int64_t sequence = 0;
  std::string previous_hash;  // 32 raw bytes; zeros for the first event
  std::string hash;           // 32 raw bytes

  // Filled by the caller.
  absl::Time time;
  std::string action;              // DPA 2018 s62 action, e.g. "DISCLOSURE"
  std::string method;              // e.g. "refx.v1.ReferralService.GetReferral"
  std::string agency_id;           // "-" if the caller was not identified
  std::string certificate_serial;
  std::string acting_user_hmac;    // hex HMAC-SHA256, "" if none was named
  std::string purpose;
  std::string referral_ids;        // comma-separated ids, "" if none
  std::string data_classes;        // comma-separated class names disclosed
  std::string outcome;             // status code name, e.g. "OK", "NOT_FOUND"
  std::string agreement;           // id@version in force
  // Comma-separated names of values the answer carried that were derived
  // from other referrals (e.g. "repeat_victim_count"), "" if none.
  std::string derived;
  // Why the call was refused before it reached the service, or "REPLAYED"
  // for a retry answered from its first result; "" otherwise.
  std::string reason;
  // The calls this event stands for (aggregated refusals); 1 otherwise.
  int64_t count = 1;
  // For an aggregate release, which one: the query and a digest of the
  // released cells (core/report_manager.h), "" otherwise. With it the audit
  // log is the release ledger.
  std::string release;
};

// The hash of `record` chained to `previous_hash`: SHA-256 over the previous
// hash and every field in a fixed order, each length-prefixed, so no two
// different events can encode the same bytes. The fields added later
// (derived, reason, count) follow an "ext" marker only when one differs from
// its default, and `release` an "ext2" marker only when set, so events
// written before they existed hash as they did.
std::string AuditHash(const AuditRecord& record, const std::string& previous_hash);

// 32 zero bytes: the previous hash of event 1.
std::string GenesisHash();

// The chain's head: the newest event's sequence and hash, as the store
// records it with every commit, signed by the server's audit signing key
// (outside the database). Exported, it is a checkpoint: a later copy of the
// log must still hold that event with that hash.
struct AuditHead {
  int64_t sequence = 0;
  std::string hash;       // 32 raw bytes
  std::string signature;  // 64 raw bytes (Ed25519); empty if unsigned
};

// The bytes a head's signature covers.
std::string AuditHeadMessage(int64_t sequence, const std::string& hash);

}  // namespace refx::storage

#endif  // REFX_STORAGE_AUDIT_RECORD_H_
