#include "storage/make_store.h"

#include "common/status_macros.h"
#include "storage/sqlite/sqlite_store.h"

namespace refx::storage {

absl::StatusOr<std::unique_ptr<ReferralStore>> MakeStore(const MakeStoreOptions& options) {
  sqlite::SqliteStore::Options sqlite;
  sqlite.path = options.config.sqlite_path();
  sqlite.max_batch_size = options.config.max_batch_size();
  sqlite.read_connections = options.config.read_connections();
  sqlite.audit_head_key = options.audit_head_key;
  sqlite.adopt_unsigned_head = options.adopt_unsigned_head;
  REFX_ASSIGN_OR_RETURN(auto store, sqlite::SqliteStore::Create(sqlite));
  return std::unique_ptr<ReferralStore>(std::move(store));
}

}  // namespace refx::storage
