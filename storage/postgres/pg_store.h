// The PostgreSQL backend: the store engine (storage/sql_store.h) over a
// PostgreSQL database that several refx-server replicas may share. Every
// write is committed in PostgreSQL before it is acknowledged; writers of all
// replicas are serialized by the database's write lock, so the audit chain
// is one chain and the event log one gapless sequence in commit order; live
// events reach every replica's watchers through LISTEN/NOTIFY. All the logic
// is the engine's; this adds the connection settings and the dialect.
#ifndef REFX_STORAGE_POSTGRES_PG_STORE_H_
#define REFX_STORAGE_POSTGRES_PG_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/optional.h"
#include "common/signing.h"
#include "refx/config/v1/server_config.pb.h"
#include "storage/postgres/pg_connection.h"
#include "storage/sql_store.h"

namespace refx::storage::postgres {

// The libpq parameters for `config` (defaults applied, paths resolved):
// reads the password file (which must exist and be owner-only), refuses a
// DSN that carries a password and a plaintext sslmode to a host that is not
// local. INVALID_ARGUMENT / NOT_FOUND / PERMISSION_DENIED naming the key.
absl::StatusOr<ConnectParameters> ParametersFromConfig(const config::v1::PostgresConfig& config);

// Where the database is, for messages: host:port/dbname, never the password.
std::string Describe(const config::v1::PostgresConfig& config);

class PostgresStore final : public SqlStore {
 public:
  struct Options {
    ConnectParameters connect;
    std::string description;  // for messages (Describe)
    int max_batch_size = 256;
    int pool_size = 4;  // read connections
    absl::optional<SigningKey> audit_head_key;
    bool adopt_unsigned_head = false;
    CommitObserver commit_observer;  // optional: told of every group commit
    KeyEncryptionKey key_encryption_key;  // as SqlStore::Options
    bool schema_only = false;             // as SqlStore::Options
  };

  // Connects, migrates (under the write lock: replicas starting together
  // migrate once) and starts the engine. UNAVAILABLE if PostgreSQL cannot be
  // reached.
  static absl::StatusOr<std::unique_ptr<PostgresStore>> Create(const Options& options);

 private:
  explicit PostgresStore(SqlStore::Options options) : SqlStore(std::move(options)) {}
};

// What `refx-server --check-config` reports about the database.
struct DatabaseProbe {
  std::string server_version;
  bool tls = false;
  int schema_version = 0;
  int latest_schema_version = 0;  // this binary's; pending = latest - schema
};
absl::StatusOr<DatabaseProbe> Probe(const ConnectParameters& parameters);

// Verifies the audit chain of a database without a server (one snapshot,
// read-only); as sqlite::VerifyAuditChainInFile.
absl::StatusOr<AuditChainReport> VerifyAuditChainInDatabase(const ConnectParameters& parameters,
                                                            const VerifyingKey* key = nullptr,
                                                            const AuditHead* checkpoint = nullptr);

}  // namespace refx::storage::postgres

#endif  // REFX_STORAGE_POSTGRES_PG_STORE_H_
