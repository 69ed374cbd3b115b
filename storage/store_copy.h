// Copies a whole refx database from one backend to another (refx-admin
// storage copy: SQLite to PostgreSQL when a partnership outgrows one
// machine). Every table the store writes is copied row for row, values and
// types as they are, so the audit chain, its signed head, the event log's
// sequence and every idempotency key carry over unchanged. The source's
// chain is verified before anything is written, the target's after the
// copy, and the two heads must match; the copy is one transaction on the
// target, so a failed copy leaves it as it was.
#ifndef REFX_STORAGE_STORE_COPY_H_
#define REFX_STORAGE_STORE_COPY_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/signing.h"
#include "storage/referral_store.h"
#include "storage/sql_driver.h"

namespace refx::storage {

// The tables copied, parents before children. A migration that adds a table
// adds it here (a test compares this list with the SQLite schema).
const std::vector<std::string>& CopiedTables();

struct CopyOptions {
  SqlConnection* from = nullptr;  // read in one snapshot
  const SqlDialect* from_dialect = nullptr;
  SqlConnection* to = nullptr;  // migrated to the same schema version, and empty
  const SqlDialect* to_dialect = nullptr;
  // Verifies the head's signature on both sides when given.
  const VerifyingKey* key = nullptr;
  // Called every 1,000 rows and at the end of each table.
  std::function<void(const std::string& table, int64_t rows)> progress;
};

struct CopyReport {
  std::vector<std::pair<std::string, int64_t>> tables;  // rows copied per table
  int schema_version = 0;
  AuditChainReport source;
  AuditChainReport target;
};

// FAILED_PRECONDITION if the schema versions differ or the target holds any
// referral, audit or event row; DATA_LOSS if the source's chain is broken or
// the target's does not verify the same after the copy (then rolled back
// where still possible).
absl::StatusOr<CopyReport> CopyDatabase(const CopyOptions& options);

}  // namespace refx::storage

#endif  // REFX_STORAGE_STORE_COPY_H_
