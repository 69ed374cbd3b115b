// The embedded SQLite backend: the store engine (storage/sql_store.h) over
// one database file, in WAL mode with synchronous=FULL, so a COMMIT that
// returned is on disk. All the logic is the engine's; this adds the file (its
// directory, owner-only modes whatever the umask), the SQLite dialect, and
// the log's checkpoint interval (kWalCheckpointPages).
#ifndef REFX_STORAGE_SQLITE_SQLITE_STORE_H_
#define REFX_STORAGE_SQLITE_SQLITE_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/optional.h"
#include "common/signing.h"
#include "storage/sql_store.h"

namespace refx::storage::sqlite {

// The store's writing connections checkpoint the write-ahead log when it
// passes this many pages (SQLite's default: 1,000). The commit that passes
// it copies the log into the database and fsyncs it, and every write of its
// group commit waits; pages the store rewrites on every commit (indexes'
// right edges, the event log's and audit chain's last pages) are copied once
// per checkpoint, so fewer, larger checkpoints copy less per create (README,
// Performance). The log grows to about 16 MB before it starts afresh.
inline constexpr int kWalCheckpointPages = 4000;

class SqliteStore final : public SqlStore {
 public:
  struct Options {
    std::string path;            // database file; created with its schema if absent
    int max_batch_size = 256;    // writes per transaction at most
    int read_connections = 4;
    // As SqlStore::Options.
    absl::optional<SigningKey> audit_head_key;
    bool adopt_unsigned_head = false;
    CommitObserver commit_observer;  // optional: told of every group commit
    KeyEncryptionKey key_encryption_key;  // as SqlStore::Options
  };

  // Creates the file (0600) and its directory (0700) if absent, narrows
  // them to their owner if found wider, then opens the engine on it.
  // FAILED_PRECONDITION if the file's schema is newer than this binary or
  // its audit head cannot be vouched for.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Create(const Options& options);

 private:
  explicit SqliteStore(SqlStore::Options options) : SqlStore(std::move(options)) {}
};

// Verifies the audit chain of a database file without a server: opens it
// read-only and changes nothing (refx-admin audit verify). With `key`, the
// head's signature is checked too; with `checkpoint` (a signed head exported
// earlier, checked against `key`), the log must still hold its event.
absl::StatusOr<AuditChainReport> VerifyAuditChainInFile(const std::string& path, const VerifyingKey* key = nullptr,
                                                        const AuditHead* checkpoint = nullptr);

}  // namespace refx::storage::sqlite

#endif  // REFX_STORAGE_SQLITE_SQLITE_STORE_H_
