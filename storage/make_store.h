// The one place that knows the storage backends: opens the store the
// server's `storage` config names. Nothing above storage/ names a backend
// class.
#ifndef REFX_STORAGE_MAKE_STORE_H_
#define REFX_STORAGE_MAKE_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/optional.h"
#include "common/signing.h"
#include "refx/config/v1/server_config.pb.h"
#include "storage/referral_store.h"
#include "storage/value_cipher.h"

namespace refx::storage {

struct MakeStoreOptions {
  config::v1::StorageConfig config;  // defaults applied, paths resolved
  // Signs the audit chain's head (SqlStore::Options).
  absl::optional<SigningKey> audit_head_key;
  bool adopt_unsigned_head = false;
  CommitObserver commit_observer;  // told of every group commit (metrics)
  // Encryption at rest (storage/value_cipher.h); without it documents are
  // stored as they are (tests of the store alone).
  KeyEncryptionKey key_encryption_key;
};

// Checks `config` without connecting: a known backend, and for PostgreSQL
// its settings (password file present and owner-only, no password in the
// DSN, TLS to any host that is not local). The error names the key.
absl::Status CheckStorageConfig(const config::v1::StorageConfig& config);

// Opens (creating and migrating as needed) the configured backend.
// INVALID_ARGUMENT for a config it cannot use; otherwise the backend's errors.
absl::StatusOr<std::unique_ptr<ReferralStore>> MakeStore(const MakeStoreOptions& options);

// What `--check-config` says about the database: the backend, where it is,
// the server version, the schema version and pending migrations. Connects
// (PostgreSQL) or opens read-only (SQLite); changes nothing.
absl::StatusOr<std::string> DescribeStore(const config::v1::StorageConfig& config);

// Verifies the configured database's audit chain without a server.
absl::StatusOr<AuditChainReport> VerifyStoredAuditChain(const config::v1::StorageConfig& config,
                                                        const VerifyingKey* key, const AuditHead* checkpoint);

}  // namespace refx::storage

#endif  // REFX_STORAGE_MAKE_STORE_H_
