// Personal data at rest: every stored copy of a referral's or a case
// update's document (the referral row, the event log's copies, the stored
// response a retry is answered from, the case record), and each step of an
// NCHI subject's notification, is sealed with
// AES-256-GCM before it is bound to a statement and opened after it is read,
// inside the store engine, so no backend and no layer above ever sees a
// sealed value and no database file, WAL or backup ever holds plaintext.
//
// A sealed value is `\0RXE` | version 1 | data key id (4 bytes, big-endian)
// | nonce | cipher text | tag. The associated data is the column and the
// row's identity (the referral id, and for the event log the event's
// sequence, for the case record the update's sequence, for a subject
// notification the step's number, for a retry's stored response the agency
// and request id), so a value copied into another row
// or column, even another row of the same referral, does not open.
// A serialized protobuf never starts with a zero byte (field number 0 is
// invalid), so a value stored before encryption was turned on is told apart
// and read as it is until `refx-admin keys reencrypt` seals it.
//
// Data keys (random, 32 bytes) live in the database's data_keys table,
// each wrapped (AES-256-GCM) by the key-encryption key, which lives only in
// a file beside the server (storage.encryption_key_file): a stolen database
// or backup without that file opens nothing. New values are sealed with the
// newest data key; older ones stay readable by the key id they carry
// (`refx-admin keys rotate` makes a new one, `keys reencrypt` moves every
// value to it).
#ifndef REFX_STORAGE_VALUE_CIPHER_H_
#define REFX_STORAGE_VALUE_CIPHER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace refx::storage {

// The columns that hold sealed documents: part of each value's associated
// data.
namespace sealed_column {
inline constexpr absl::string_view kReferral = "referrals.document";
inline constexpr absl::string_view kEventReferral = "referral_events.referral_document";
inline constexpr absl::string_view kEventUpdate = "referral_events.update_document";
inline constexpr absl::string_view kReplay = "update_requests.document";
inline constexpr absl::string_view kCaseUpdate = "case_updates.document";
inline constexpr absl::string_view kSubjectNotification = "subject_notifications.document";
}  // namespace sealed_column

// A row's identity as a sealed value's associated data: the referral id,
// then (for rows a referral has many of) what tells them apart.
std::string SealedRow(absl::string_view referral_id);
std::string SealedRow(absl::string_view referral_id, int64_t sequence);
std::string SealedRow(absl::string_view referral_id, absl::string_view agency_id, absl::string_view request_id);

class ValueCipher {
 public:
  // `data_keys` by id (each 32 bytes, at least one); values are sealed with
  // the highest id. INVALID_ARGUMENT otherwise.
  static absl::StatusOr<ValueCipher> Create(std::map<uint32_t, std::string> data_keys);

  // `plaintext` sealed for `column` of the row `row` (SealedRow). An empty
  // value stays empty (it says nothing the row's kind does not).
  absl::StatusOr<std::string> Seal(absl::string_view column, absl::string_view row,
                                   absl::string_view plaintext) const;
  // The plaintext of a value read from `column` of the row `row`:
  // opened if sealed, as it is if stored before encryption. DATA_LOSS if it
  // does not open (altered, moved, or sealed with a key this store does not
  // hold), naming only the column and the key id, never content.
  absl::StatusOr<std::string> Open(absl::string_view column, absl::string_view row,
                                   absl::string_view stored) const;

  uint32_t active_key_id() const { return active_key_id_; }
  bool HasKey(uint32_t key_id) const { return data_keys_.count(key_id) > 0; }
  size_t key_count() const { return data_keys_.size(); }
  // This cipher with `more` keys besides its own (a newer data key made by
  // a rotation): the highest id becomes the active one.
  absl::StatusOr<ValueCipher> WithKeys(std::map<uint32_t, std::string> more) const;

  // Whether `stored` is a sealed value, and the id of the data key that
  // sealed it (0 when it is not sealed).
  static bool IsSealed(absl::string_view stored);
  static uint32_t KeyIdOf(absl::string_view stored);

 private:
  explicit ValueCipher(std::map<uint32_t, std::string> data_keys);
  std::map<uint32_t, std::string> data_keys_;
  uint32_t active_key_id_ = 0;
};

// The key-encryption key a store is opened with.
struct KeyEncryptionKey {
  std::string key;  // 32 bytes; empty: no encryption at rest
  // Where it came from, for messages (a setting and a file).
  std::string source;
  // Set when the key was made by this start and is not saved yet: called
  // to save it before the first data key it wraps is stored. A database
  // that already holds data keys is then refused: its key file is missing,
  // and a new key opens nothing.
  std::function<absl::Status()> save_new;
  // Keys this one replaces (rotation): data keys found wrapped by one of
  // them are re-wrapped under `key` on open, so the old key can be retired
  // once every replica has started with the new one.
  struct Previous {
    std::string key;
    std::string source;
  };
  std::vector<Previous> previous;
};

// A data key wrapped by the key-encryption key `kek` for storing in the
// data_keys table (bound to its id), and back. Unwrap fails with
// FAILED_PRECONDITION when `kek` is not the key that wrapped it.
absl::StatusOr<std::string> WrapDataKey(absl::string_view kek, uint32_t key_id, absl::string_view data_key);
absl::StatusOr<std::string> UnwrapDataKey(absl::string_view kek, uint32_t key_id, absl::string_view wrapped);
// A key-encryption key's public name (16 hex digits of a hash of it): what
// data_keys records as the key that wrapped each data key, so a wrong key
// file is named as such at startup without revealing anything of the key.
std::string KeyEncryptionKeyId(absl::string_view kek);

}  // namespace refx::storage

#endif  // REFX_STORAGE_VALUE_CIPHER_H_
