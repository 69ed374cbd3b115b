// The PostgreSQL ceiling of refx-bench: what PostgreSQL itself commits of
// the rows a CreateReferral writes, from a bare loop over libpq in this
// process, with none of refx (no gRPC, TLS, agreement, redaction, audit
// hashing or signing, engine). Measured in the same run as the rows it is
// the ceiling of, against the same PostgreSQL.
//
// "The same rows" is taken literally: the loop copies one referral that
// refx-server created in this run (its referral row, parties, strands,
// victim tokens, idempotency key, event and its audience, audit event) and
// writes fresh copies of all of them per create, with the statements of
// refx's PostgreSQL dialect (prepared once, executed with PQexecPrepared),
// plus the idempotency lookup and repeat-victim count a create runs, and the
// audit head once per transaction, into a database of its own migrated by
// refx's migrations (same tables, keys and indexes).
#ifndef REFX_BENCH_LIBPQ_CEILING_H_
#define REFX_BENCH_LIBPQ_CEILING_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bench/load.h"
#include "storage/postgres/pg_connection.h"

namespace refx::bench {

class LibpqCeiling {
 public:
  // Reads the newest referral refx-server created in `source` (its
  // database) as the template, and makes (or empties) database `scratch_db`
  // beside it for the loop's rows.
  static absl::StatusOr<std::unique_ptr<LibpqCeiling>> Prepare(
      const refx::storage::postgres::ConnectParameters& source, const std::string& scratch_db);
  ~LibpqCeiling();

  // One connection, `creates_per_transaction` creates per transaction (what
  // refx's group commit does at best with that many calls in flight),
  // transactions back to back until `options.duration` or `options.cancel`.
  // Counts creates; each create's latency is its transaction's.
  LoadResult Run(const LoadOptions& options, int creates_per_transaction);

  // What one create writes, for the report: "1 referral, 2 parties, ...".
  const std::string& rows_per_create() const { return rows_description_; }

 private:
  struct Template;
  LibpqCeiling() = default;
  absl::Status WriteOneCreate(int64_t n);

  std::unique_ptr<Template> template_;
  std::unique_ptr<refx::storage::postgres::Connection> conn_;
  std::string rows_description_;
  int64_t next_ = 0;
};

}  // namespace refx::bench

#endif  // REFX_BENCH_LIBPQ_CEILING_H_
