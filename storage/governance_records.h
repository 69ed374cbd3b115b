// What the store keeps for the partnership's governance of its data, beside
// the referrals themselves (storage/referral_store.h): the tensions group's
// acknowledgements, the ledger of statistical releases, legal holds, data
// subjects' requests and notifications, and the rotation of the data key
// with the re-encryption that follows it. (Erasing a referral's data is a
// change to the referral: EraseReferralDataRequest, beside it.)
#ifndef REFX_STORAGE_GOVERNANCE_RECORDS_H_
#define REFX_STORAGE_GOVERNANCE_RECORDS_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/time/time.h"

namespace refx::storage {

// The tensions group's acknowledgement of a community-tension alert. Alerts
// themselves are computed from referrals; only acknowledgements are stored.
struct TensionAcknowledgement {
  std::string alert;  // tensionAlerts/{week}/{area}/{strand}
  std::string week;   // its ISO week label (sorts in time order)
  std::string agency_id;
  std::string request_id;
  std::string note;
  absl::Time time;
};

struct AcknowledgeTensionAlertResult {
  TensionAcknowledgement acknowledgement;  // as stored
  bool replayed = false;                   // stored before, by this request
};

// One entry of the release ledger: who released, and the entry's text.
struct LedgerRow {
  std::string agency_id;
  std::string release;
};

// One step of the notification of an NCHI's subject
// (refx.v1.SubjectNotification), kept apart from the referral: writing one
// changes nothing of the referral, its events or its case record.
struct StoredSubjectNotification {
  std::string referral_id;
  int64_t sequence = 0;    // 1, 2, ... within the referral; assigned by the store
  std::string agency_id;   // who recorded it
  std::string request_id;  // its idempotency key, unique per referral
  absl::Time create_time;
  std::string document;    // serialized refx.v1.SubjectNotification
};

struct RecordSubjectNotificationResult {
  StoredSubjectNotification stored;  // as stored: the first one on a replay
  bool replayed = false;
};

// A data protection officer's hold on a referral: its retention erasures
// wait until the hold is released.
struct LegalHold {
  std::string referral_id;
  std::string agency_id;  // who placed it
  std::string reason;     // names the matter (a case reference), never a person
  absl::Time time;
};

// A data subject request (core/subject_requests.h) as stored: its record
// holds a case reference and the clock's steps, never the person.
struct StoredSubjectRequest {
  std::string id;
  std::string agency_id;   // who recorded it
  std::string request_id;  // the idempotency key of its creation
  std::string document;    // refx.v1.SubjectRequest, serialized
  int64_t version = 1;     // one more with every step
  absl::Time create_time;
  absl::Time update_time;
};

struct CreateSubjectRequestResult {
  StoredSubjectRequest stored;  // as stored: the first one on a replay
  bool replayed = false;
};

// A new data key (encryption at rest, storage/value_cipher.h): every value
// the store seals from then on is sealed with it; older values stay
// readable by the key id they carry until ReencryptStoredValues moves them.
struct DataKeyRotation {
  uint32_t key_id = 0;  // the new key
  int data_keys = 0;    // keys the database holds, the new one included
};

// How far a re-encryption has gone: told after every page.
struct ReencryptProgress {
  int pass = 0;
  std::string table;             // the table being rewritten, e.g. "referral_events"
  int64_t values_examined = 0;   // this pass, so far
  int64_t values_rewritten = 0;  // this pass, so far
  bool table_done = false;       // the last page of this table in this pass
};

struct ReencryptReport {
  uint32_t key_id = 0;  // the key every value examined is now sealed with
  int passes = 0;
  // The first pass's census: values found under each data key (0: stored
  // before encryption at rest, in plaintext). Empty values are not counted.
  std::map<uint32_t, int64_t> found_by_key;
  int64_t values_examined = 0;   // first pass
  int64_t values_rewritten = 0;  // every pass
  // Values the last pass still had to rewrite: written under an older key by
  // a replica that had not yet picked up the new one. Zero means every
  // stored value is under `key_id`; otherwise run again.
  int64_t values_left = 0;
};

}  // namespace refx::storage

#endif  // REFX_STORAGE_GOVERNANCE_RECORDS_H_
