#include "storage/make_store.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "storage/postgres/pg_statements.h"
#include "storage/postgres/pg_store.h"
#include "storage/sqlite/sqlite_statements.h"
#include "storage/sqlite/sqlite_store.h"

namespace refx::storage {

absl::Status CheckStorageConfig(const config::v1::StorageConfig& config) {
  if (config.backend() == "sqlite") return absl::OkStatus();
  if (config.backend() == "postgres") return postgres::ParametersFromConfig(config.postgres()).status();
  return absl::InvalidArgumentError(
      absl::StrCat("storage.backend: \"", config.backend(), "\" is not sqlite or postgres"));
}

absl::StatusOr<std::unique_ptr<ReferralStore>> MakeStore(const MakeStoreOptions& options) {
  REFX_RETURN_IF_ERROR(CheckStorageConfig(options.config));
  if (options.config.backend() == "postgres") {
    postgres::PostgresStore::Options pg;
    REFX_ASSIGN_OR_RETURN(pg.connect, postgres::ParametersFromConfig(options.config.postgres()));
    pg.description = postgres::Describe(options.config.postgres());
    pg.max_batch_size = options.config.max_batch_size();
    pg.pool_size = options.config.postgres().pool_size();
    pg.audit_head_key = options.audit_head_key;
    pg.adopt_unsigned_head = options.adopt_unsigned_head;
    pg.commit_observer = options.commit_observer;
    pg.key_encryption_key = options.key_encryption_key;
    REFX_ASSIGN_OR_RETURN(auto store, postgres::PostgresStore::Create(pg));
    return std::unique_ptr<ReferralStore>(std::move(store));
  }
  sqlite::SqliteStore::Options sqlite;
  sqlite.path = options.config.sqlite_path();
  sqlite.max_batch_size = options.config.max_batch_size();
  sqlite.read_connections = options.config.read_connections();
  sqlite.audit_head_key = options.audit_head_key;
  sqlite.adopt_unsigned_head = options.adopt_unsigned_head;
  sqlite.commit_observer = options.commit_observer;
  sqlite.key_encryption_key = options.key_encryption_key;
  REFX_ASSIGN_OR_RETURN(auto store, sqlite::SqliteStore::Create(sqlite));
  return std::unique_ptr<ReferralStore>(std::move(store));
}

absl::StatusOr<std::string> DescribeStore(const config::v1::StorageConfig& config) {
  REFX_RETURN_IF_ERROR(CheckStorageConfig(config));
  if (config.backend() == "postgres") {
    REFX_ASSIGN_OR_RETURN(auto parameters, postgres::ParametersFromConfig(config.postgres()));
    REFX_ASSIGN_OR_RETURN(postgres::DatabaseProbe probe, postgres::Probe(parameters));
    const int pending = probe.latest_schema_version - probe.schema_version;
    return absl::StrCat("storage: postgres at ", postgres::Describe(config.postgres()), ", PostgreSQL ",
                        probe.server_version, probe.tls ? " over TLS" : " without TLS (local)", ", schema version ",
                        probe.schema_version, pending > 0 ? absl::StrCat(", ", pending, " migration(s) pending")
                                                          : pending < 0 ? " (newer than this binary)" : ", up to date");
  }
  const int latest = sqlite::Migrations().back().version;
  if (::access(config.sqlite_path().c_str(), F_OK) != 0) {
    return absl::StrCat("storage: sqlite at ", config.sqlite_path(), " (absent: created with schema version ", latest,
                        " on first start)");
  }
  return absl::StrCat("storage: sqlite at ", config.sqlite_path(), " (this binary's schema version ", latest, ")");
}

absl::StatusOr<AuditChainReport> VerifyStoredAuditChain(const config::v1::StorageConfig& config,
                                                        const VerifyingKey* key, const AuditHead* checkpoint) {
  REFX_RETURN_IF_ERROR(CheckStorageConfig(config));
  if (config.backend() == "postgres") {
    REFX_ASSIGN_OR_RETURN(auto parameters, postgres::ParametersFromConfig(config.postgres()));
    return postgres::VerifyAuditChainInDatabase(parameters, key, checkpoint);
  }
  return sqlite::VerifyAuditChainInFile(config.sqlite_path(), key, checkpoint);
}

}  // namespace refx::storage
