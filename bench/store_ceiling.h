// The storage ceilings of refx-bench: what the database itself commits of
// the rows a CreateReferral writes, from a bare loop in this process, with
// none of refx (no gRPC, TLS, agreement, redaction, audit hashing or
// signing, engine). Measured in the same run as the rows it is the ceiling
// of, on the same disk (SQLite: a file beside refx-server's; PostgreSQL: a
// database beside refx's in the same cluster).
//
// "The same rows" is taken literally: the loop copies one referral that
// refx-server created in this run (its referral row, parties, strands,
// victim tokens, idempotency key, event and its audience, audit event) and
// writes fresh copies of all of them per create, with the statements of
// refx's own dialect for that backend (prepared once), plus the idempotency
// lookup and repeat-victim count a create runs, and the audit head once per
// transaction, into a database of its own made by refx's migrations (same
// tables, keys and indexes).
#ifndef REFX_BENCH_STORE_CEILING_H_
#define REFX_BENCH_STORE_CEILING_H_

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bench/load.h"
#include "storage/postgres/pg_connection.h"
#include "storage/sql_driver.h"

namespace refx::bench {

class StoreCeiling {
 public:
  // PostgreSQL: reads the newest referral refx-server created in `source`
  // (its database) as the template, and makes (or empties) database
  // `scratch_db` beside it for the loop's rows.
  static absl::StatusOr<std::unique_ptr<StoreCeiling>> PreparePostgres(
      const refx::storage::postgres::ConnectParameters& source, const std::string& scratch_db);
  // SQLite: the template from the file at `source_path` (refx-server's, read
  // while it runs), the loop's rows in a new file at `scratch_path`.
  static absl::StatusOr<std::unique_ptr<StoreCeiling>> PrepareSqlite(const std::string& source_path,
                                                                     const std::string& scratch_path);
  ~StoreCeiling();

  // One connection, `creates_per_transaction` creates per transaction (what
  // refx's group commit does at best with that many calls in flight),
  // transactions back to back until `options.duration` or `options.cancel`.
  // Counts creates; each create's latency is its transaction's.
  LoadResult Run(const LoadOptions& options, int creates_per_transaction);

  // What one create writes, for the report: "1 referral, 2 parties, ...".
  const std::string& rows_per_create() const { return rows_description_; }

  // How many bytes of tables and indexes each create written so far added
  // to the loop's database (its size now less its size before the first);
  // nullopt before any create.
  absl::StatusOr<std::optional<int64_t>> BytesPerCreate();

 private:
  struct Template;
  StoreCeiling() = default;
  // Reads the template through `source`.
  absl::Status ReadTemplate(refx::storage::SqlConnection* source);
  absl::Status WriteOneCreate(int64_t n);
  absl::StatusOr<int64_t> DatabaseBytes();

  const refx::storage::SqlDialect* dialect_ = nullptr;
  std::unique_ptr<Template> template_;
  std::unique_ptr<refx::storage::SqlConnection> conn_;
  std::string rows_description_;
  int64_t next_ = 0;         // creates attempted (each its own ids)
  int64_t committed_ = 0;    // creates committed
  int64_t empty_bytes_ = 0;  // the loop's database, migrated, before any create
};

}  // namespace refx::bench

#endif  // REFX_BENCH_STORE_CEILING_H_
