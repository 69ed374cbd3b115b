// SqlStore's encryption at rest: the data keys on open and after a
// rotation, and sealing and opening the documents it stores
// (storage/value_cipher.h).
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

// `key` unwrapped by whichever configured key-encryption key wrapped it
// (the current one, or one it replaces); FAILED_PRECONDITION naming both
// keys' ids when none did.
absl::StatusOr<std::string> UnwrapWithConfiguredKeys(const KeyEncryptionKey& configured, const std::string& kek_id,
                                                     const WrappedDataKey& key, absl::string_view database) {
  std::string unwrapping = key.kek_id == kek_id ? configured.key : "";
  for (const KeyEncryptionKey::Previous& previous : configured.previous) {
    if (unwrapping.empty() && KeyEncryptionKeyId(previous.key) == key.kek_id) unwrapping = previous.key;
  }
  if (unwrapping.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        configured.source, " holds key-encryption key ", kek_id, ", but database ", database, "'s data key ",
        key.id, " is wrapped by ", key.kek_id,
        "; configure that key's file (or, to rotate, list it in storage.previous_encryption_key_files)"));
  }
  return UnwrapDataKey(unwrapping, key.id, key.wrapped);
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
    REFX_ASSIGN_OR_RETURN(keys[key.id], UnwrapWithConfiguredKeys(options_.key_encryption_key, kek_id, key,
                                                                 options_.description));
    if (key.kek_id != kek_id) to_rewrap.emplace_back(&key, key.kek_id);
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
  absl::MutexLock lock(&cipher_mu_);
  cipher_ = std::make_shared<const ValueCipher>(std::move(cipher));
  return absl::OkStatus();
}

std::shared_ptr<const ValueCipher> SqlStore::Cipher() const {
  absl::ReaderMutexLock lock(&cipher_mu_);
  return cipher_;
}

absl::Status SqlStore::RefreshDataKeys(SqlConnection* conn) {
  std::shared_ptr<const ValueCipher> current = Cipher();
  if (current == nullptr) return absl::OkStatus();
  REFX_ASSIGN_OR_RETURN(std::vector<WrappedDataKey> stored, ReadDataKeys(conn, sql_));
  const std::string kek_id = KeyEncryptionKeyId(options_.key_encryption_key.key);
  std::map<uint32_t, std::string> added;
  for (const WrappedDataKey& key : stored) {
    if (current->HasKey(key.id)) continue;
    REFX_ASSIGN_OR_RETURN(added[key.id], UnwrapWithConfiguredKeys(options_.key_encryption_key, kek_id, key,
                                                                  options_.description));
  }
  if (added.empty()) return absl::OkStatus();
  REFX_ASSIGN_OR_RETURN(ValueCipher next, current->WithKeys(std::move(added)));
  const uint32_t active = next.active_key_id();
  {
    absl::MutexLock lock(&cipher_mu_);
    // Two refreshes may race; the one that knows more keys stays.
    if (next.key_count() <= cipher_->key_count()) return absl::OkStatus();
    cipher_ = std::make_shared<const ValueCipher>(std::move(next));
  }
  log::Info("storage_data_keys_loaded", {{"active_key_id", static_cast<int64_t>(active)}});
  return absl::OkStatus();
}

absl::Status SqlStore::RefreshDataKeys() {
  absl::MutexLock lock(&key_conn_mu_);
  if (key_conn_ == nullptr) {
    REFX_ASSIGN_OR_RETURN(key_conn_, options_.connect(/*read_only=*/true));
  }
  absl::Status refreshed = RefreshDataKeys(key_conn_.get());
  if (absl::IsUnavailable(refreshed)) key_conn_.reset();  // connect afresh next time
  return refreshed;
}

absl::StatusOr<DataKeyRotation> SqlStore::RotateDataKey(const AuditRecord& audit) {
  if (Cipher() == nullptr) {
    return absl::FailedPreconditionError(
        "encryption at rest is off for this store (no storage.encryption_key_file): no data key to rotate");
  }
  const std::string& kek = options_.key_encryption_key.key;
  const std::string kek_id = KeyEncryptionKeyId(kek);
  DataKeyRotation rotation;
  REFX_RETURN_IF_ERROR(Submit(kKeysQueueKey, [&](SqlConnection* conn) -> absl::Status {
    // Under the database's write lock: no other replica adds a key meanwhile.
    REFX_ASSIGN_OR_RETURN(std::vector<WrappedDataKey> stored, ReadDataKeys(conn, sql_));
    const uint32_t id = stored.empty() ? 1 : stored.back().id + 1;  // read in key order
    REFX_ASSIGN_OR_RETURN(std::string wrapped, WrapDataKey(kek, id, RandomBytes(kAeadKeyBytes)));
    {
      REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.insert_data_key));
      stmt->Bind(":key_id", int64_t{id})
          .Bind(":kek_id", kek_id)
          .BindBlob(":wrapped", wrapped)
          .Bind(":create_time_us", absl::ToUnixMicros(absl::Now()));
      REFX_RETURN_IF_ERROR(stmt->Run());
    }
    // The insert is ignored on a taken id: check the key stored is this one.
    REFX_ASSIGN_OR_RETURN(std::vector<WrappedDataKey> after, ReadDataKeys(conn, sql_));
    if (after.empty() || after.back().id != id || after.back().wrapped != wrapped) {
      return absl::AbortedError("another rotation made a data key at the same time; nothing was changed");
    }
    AuditRecord event = audit;
    event.reason = absl::StrCat("data key ", id);
    if (!AppendAudit(conn, event).ok()) {
      return absl::UnavailableError("the audit log cannot be written; no key was made");
    }
    rotation.key_id = id;
    rotation.data_keys = static_cast<int>(after.size());
    return absl::OkStatus();
  }));
  REFX_RETURN_IF_ERROR(RefreshDataKeys());
  log::Info("storage_data_key_rotated", {{"key_id", static_cast<int64_t>(rotation.key_id)}, {"kek_id", kek_id}});
  return rotation;
}

absl::StatusOr<std::string> SqlStore::SealValue(absl::string_view column, absl::string_view row,
                                                absl::string_view plaintext) const {
  std::shared_ptr<const ValueCipher> cipher = Cipher();
  if (cipher == nullptr) return std::string(plaintext);
  return cipher->Seal(column, row, plaintext);
}

absl::Status SqlStore::OpenValue(absl::string_view column, absl::string_view row, std::string* value) {
  if (!ValueCipher::IsSealed(*value)) return absl::OkStatus();
  std::shared_ptr<const ValueCipher> cipher = Cipher();
  if (cipher == nullptr) {
    return absl::DataLossError(absl::StrCat("a value in ", column, " is encrypted and this store has no key"));
  }
  if (!cipher->HasKey(ValueCipher::KeyIdOf(*value))) {
    // Sealed by a replica that rotated to a data key this one has not
    // loaded yet (or by a key the database does not hold: Open says so).
    REFX_RETURN_IF_ERROR(RefreshDataKeys());
    cipher = Cipher();
  }
  REFX_ASSIGN_OR_RETURN(*value, cipher->Open(column, row, *value));
  return absl::OkStatus();
}

absl::Status SqlStore::OpenReferral(StoredReferral* referral) {
  return OpenValue(sealed_column::kReferral, SealedRow(referral->id), &referral->document);
}

absl::Status SqlStore::OpenEvent(ReferralEvent* event) {
  const std::string row = SealedRow(event->referral_id, event->sequence);
  REFX_RETURN_IF_ERROR(OpenValue(sealed_column::kEventReferral, row, &event->referral_document));
  return OpenValue(sealed_column::kEventUpdate, row, &event->update_document);
}

absl::Status SqlStore::OpenCaseUpdate(StoredCaseUpdate* update) {
  return OpenValue(sealed_column::kCaseUpdate, SealedRow(update->referral_id, update->sequence), &update->document);
}

}  // namespace refx::storage
