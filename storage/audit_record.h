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
};

// The hash of `record` chained to `previous_hash`: SHA-256 over the previous
// hash and every field in a fixed order, each length-prefixed, so no two
// different events can encode the same bytes.
std::string AuditHash(const AuditRecord& record, const std::string& previous_hash);

// 32 zero bytes: the previous hash of event 1.
std::string GenesisHash();

}  // namespace refx::storage

#endif  // REFX_STORAGE_AUDIT_RECORD_H_
