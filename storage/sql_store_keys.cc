// SqlStore's encryption at rest: the data keys on open, and sealing and
// opening the documents it stores (storage/value_cipher.h).
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/aead.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "storage/sql_store.h"

namespace refx::storage {
namespace {

struct WrappedDataKey {
  uint32_t id = 0;
  std::string kek_id;
  std::string wrapped;
};

absl::StatusOr<std::vector<WrappedDataKey>> ReadDataKeys(SqlConnection* conn, const SqlDialect& sql) {
  REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql.select_data_keys));
  std::vector<WrappedDataKey> keys;
  while (true) {
    REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) return keys;
    keys.push_back({static_cast<uint32_t>(stmt->Int(0)), stmt->Text(1), stmt->Text(2)});
  }
}

}  // namespace

absl::Status SqlStore::LoadDataKeys(SqlConnection* conn) {
  REFX_ASSIGN_OR_RETURN(std::vector<WrappedDataKey> stored, ReadDataKeys(conn, sql_));
  const std::string& kek = options_.key_encryption_key.key;
  if (kek.empty()) {
    if (stored.empty()) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrCat(
        "database ", options_.description, " holds documents encrypted at rest under key-encryption key ",
        stored.front().kek_id, "; configure storage.encryption_key_file with that key"));
  }
  if (kek.size() != kAeadKeyBytes) {
    return absl::FailedPreconditionError(
        absl::StrCat(options_.key_encryption_key.source, " does not hold a 32-byte key-encryption key"));
  }
  const std::string kek_id = KeyEncryptionKeyId(kek);
  if (stored.empty()) {
    if (options_.key_encryption_key.save_new) REFX_RETURN_IF_ERROR(options_.key_encryption_key.save_new());
    REFX_ASSIGN_OR_RETURN(std::string wrapped, WrapDataKey(kek, 1, RandomBytes(kAeadKeyBytes)));
    REFX_ASSIGN_OR_RETURN(SqlTransaction txn, SqlTransaction::Begin(conn));
    {
      // Ignored if another replica stored the first key meanwhile: its key
      // is read back below, and must unwrap with this replica's key too.
      REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.insert_data_key));
      stmt->Bind(":key_id", int64_t{1})
          .Bind(":kek_id", kek_id)
          .BindBlob(":wrapped", wrapped)
          .Bind(":create_time_us", absl::ToUnixMicros(absl::Now()));
      REFX_RETURN_IF_ERROR(stmt->Run());
    }
    REFX_RETURN_IF_ERROR(txn.Commit());
    REFX_ASSIGN_OR_RETURN(stored, ReadDataKeys(conn, sql_));
    log::Info("storage_data_key_created", {{"key_id", 1}, {"kek_id", kek_id}});
  } else if (options_.key_encryption_key.save_new) {
    return absl::FailedPreconditionError(absl::StrCat(
        options_.key_encryption_key.source, " does not exist, but database ", options_.description,
        " holds documents encrypted under key-encryption key ", stored.front().kek_id,
        "; restore that key's file (a new key opens nothing)"));
  }
  std::map<uint32_t, std::string> keys;
  std::vector<std::pair<const WrappedDataKey*, std::string>> to_rewrap;  // with the key it was wrapped by
  for (const WrappedDataKey& key : stored) {
    std::string unwrapping = key.kek_id == kek_id ? kek : "";
    for (const KeyEncryptionKey::Previous& previous : options_.key_encryption_key.previous) {
      if (unwrapping.empty() && KeyEncryptionKeyId(previous.key) == key.kek_id) unwrapping = previous.key;
    }
    if (unwrapping.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          options_.key_encryption_key.source, " holds key-encryption key ", kek_id, ", but database ",
          options_.description, "'s data key ", key.id, " is wrapped by ", key.kek_id,
          "; configure that key's file (or, to rotate, list it in storage.previous_encryption_key_files)"));
    }
    REFX_ASSIGN_OR_RETURN(keys[key.id], UnwrapDataKey(unwrapping, key.id, key.wrapped));
    if (unwrapping != kek) to_rewrap.emplace_back(&key, key.kek_id);
  }
  if (!to_rewrap.empty()) {
    // Rotation: every data key under the new key-encryption key, in one
    // transaction (a replica doing the same meanwhile changes nothing: the
    // update applies only while the old key still wraps it).
    REFX_ASSIGN_OR_RETURN(SqlTransaction txn, SqlTransaction::Begin(conn));
    for (const auto& [key, old_kek_id] : to_rewrap) {
      REFX_ASSIGN_OR_RETURN(std::string wrapped, WrapDataKey(kek, key->id, keys[key->id]));
      REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.rewrap_data_key));
      stmt->Bind(":key_id", int64_t{key->id})
          .Bind(":kek_id", kek_id)
          .BindBlob(":wrapped", wrapped)
          .Bind(":old_kek_id", old_kek_id);
      REFX_RETURN_IF_ERROR(stmt->Run());
    }
    REFX_RETURN_IF_ERROR(txn.Commit());
    log::Info("storage_data_keys_rewrapped", {{"data_keys", static_cast<int64_t>(to_rewrap.size())},
                                              {"kek_id", kek_id}});
  }
  REFX_ASSIGN_OR_RETURN(ValueCipher cipher, ValueCipher::Create(std::move(keys)));
  cipher_ = std::move(cipher);
  return absl::OkStatus();
}

absl::StatusOr<std::string> SqlStore::SealValue(absl::string_view column, absl::string_view row,
                                                absl::string_view plaintext) const {
  if (!cipher_.has_value()) return std::string(plaintext);
  return cipher_->Seal(column, row, plaintext);
}

absl::Status SqlStore::OpenValue(absl::string_view column, absl::string_view row, std::string* value) const {
  if (!ValueCipher::IsSealed(*value)) return absl::OkStatus();
  if (!cipher_.has_value()) {
    return absl::DataLossError(absl::StrCat("a value in ", column, " is encrypted and this store has no key"));
  }
  REFX_ASSIGN_OR_RETURN(*value, cipher_->Open(column, row, *value));
  return absl::OkStatus();
}

absl::Status SqlStore::OpenReferral(StoredReferral* referral) const {
  return OpenValue(sealed_column::kReferral, SealedRow(referral->id), &referral->document);
}

absl::Status SqlStore::OpenEvent(ReferralEvent* event) const {
  const std::string row = SealedRow(event->referral_id, event->sequence);
  REFX_RETURN_IF_ERROR(OpenValue(sealed_column::kEventReferral, row, &event->referral_document));
  return OpenValue(sealed_column::kEventUpdate, row, &event->update_document);
}

absl::Status SqlStore::OpenCaseUpdate(StoredCaseUpdate* update) const {
  return OpenValue(sealed_column::kCaseUpdate, SealedRow(update->referral_id, update->sequence), &update->document);
}

}  // namespace refx::storage
