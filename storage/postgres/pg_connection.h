// The PostgreSQL driver's connection (storage/sql_driver.h) over libpq:
// statements written with ":name" parameters are prepared once per
// connection (as $1, $2, ...), values are always sent as parameters (blobs in
// binary), results come back in binary. A write transaction takes the
// database-wide write lock at once (a transaction-level advisory lock, the
// counterpart of SQLite's BEGIN IMMEDIATE): writers on every replica are
// serialized, so the audit chain stays one chain and the event log's
// sequence is gapless in commit order. A dropped connection is reset at the
// next transaction. libpq errors become absl::Status here and go no further;
// messages carry PostgreSQL's text, never a bound value or the password.
#ifndef REFX_STORAGE_POSTGRES_PG_CONNECTION_H_
#define REFX_STORAGE_POSTGRES_PG_CONNECTION_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "storage/sql_driver.h"

typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;

namespace refx::storage::postgres {

// The advisory lock key every write transaction holds ("refx" in ASCII).
inline constexpr int64_t kWriteLockKey = 0x72656678;

// Where and how to connect. Never logged: `parameters` may hold a password.
struct ConnectParameters {
  // libpq keywords and values (host, port, dbname, user, password, sslmode,
  // sslrootcert, application_name, options, ...). "dbname" may be a whole
  // connection string (expanded by libpq).
  std::vector<std::pair<std::string, std::string>> parameters;
  // SET statement_timeout on every connection; 0 = the server's default.
  int64_t statement_timeout_ms = 0;
};

// Maps a libpq failure: a connection failure, shutdown or timeout ->
// UNAVAILABLE; unique violation -> ALREADY_EXISTS; serialization failure or
// deadlock -> UNAVAILABLE (the whole transaction may be retried); anything
// else INTERNAL.
absl::Status StatusFromPostgres(PGconn* conn, const PGresult* result, absl::string_view what);

// One prepared form of a statement: its name on the server and its
// parameters by name.
struct PreparedStatement {
  std::string name;
  std::map<std::string, int> index;  // ":name" -> 0-based position
  int parameters = 0;
};

// Rewrites ":name" parameters as $1, $2, ... (skipping "::" casts and quoted
// text). Exposed for tests.
PreparedStatement TranslateParameters(absl::string_view sql, std::string* out);

class Connection;

class Statement final : public SqlStatement {
 public:
  Statement(Connection* conn, const PreparedStatement* prepared);
  ~Statement() override;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  using SqlStatement::Bind;
  SqlStatement& Bind(const char* name, absl::string_view text) override;
  SqlStatement& BindBlob(const char* name, absl::string_view bytes) override;
  SqlStatement& Bind(const char* name, int64_t value) override;
  SqlStatement& Bind(const char* name, absl::optional<int64_t> value) override;

  absl::StatusOr<bool> Step() override;
  absl::Status Run() override;

  int64_t Int(int column) const override;
  bool IsNull(int column) const override;
  std::string Text(int column) const override;
  int ColumnCount() const override;
  std::string ColumnName(int column) const override;
  ValueKind Kind(int column) const override;

 private:
  int Slot(const char* name);
  // Sends the statement; in a pipelined write transaction it is answered
  // later unless `need_result`.
  absl::Status Execute(bool need_result);
  Connection* conn_;
  const PreparedStatement* prepared_;
  std::vector<std::string> values_;
  std::vector<bool> null_;
  std::vector<int> formats_;
  absl::Status bind_error_;
  PGresult* result_ = nullptr;
  int row_ = -1;
};

class Connection final : public SqlConnection {
 public:
  // Connects; read-only connections refuse writes (default_transaction_read_only).
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const ConnectParameters& parameters, bool read_only);
  ~Connection() override;

  absl::StatusOr<std::unique_ptr<SqlStatement>> Prepare(const char* sql) override;
  absl::Status Exec(const char* sql) override;

  absl::Status BeginWrite() override;  // BEGIN + the write lock
  absl::Status BeginRead() override;   // REPEATABLE READ, READ ONLY: one snapshot
  absl::Status Commit() override;
  absl::Status Rollback() override;
  absl::Status Savepoint() override;
  absl::Status ReleaseSavepoint() override;
  absl::Status RollbackToSavepoint() override;
  absl::Status Flush() override { return SyncPipeline(nullptr); }
  bool CommitFailedOnAStatement() const override { return commit_failed_on_statement_; }
  void SetPipelining(bool on) override { pipeline_enabled_ = on; }

  // LISTEN on `channel` (re-subscribed after a reset).
  absl::Status Listen(absl::string_view channel) override;
  // UNAVAILABLE if the connection dropped (it is reset on the next call).
  absl::StatusOr<bool> WaitForNotification(absl::Duration timeout) override;
  // The server's version ("15.18") and whether the link is encrypted.
  std::string ServerVersion() const;
  bool UsesTls() const;

  PGconn* raw() const { return conn_; }

 private:
  friend class Statement;
  Connection(PGconn* conn, ConnectParameters parameters, bool read_only)
      : conn_(conn), parameters_(std::move(parameters)), read_only_(read_only) {}
  // Sets the session up after (re)connecting.
  absl::Status Configure();
  // Resets a dropped connection (prepared statements are gone with it),
  // including one the server closed while it sat idle in a pool, found
  // before a statement is sent on it rather than by that statement failing.
  absl::Status EnsureConnected();
  bool DroppedWhileIdle();
  // A command outside the pipeline. With `after_failure` it runs even when
  // a pipelined statement failed (ROLLBACK and ROLLBACK TO SAVEPOINT).
  absl::Status Simple(const char* sql, absl::string_view what, bool after_failure = false);
  // Reads every answer the pipeline owes, through a sync point; the first
  // failure. `last`, if given, receives the last statement's result.
  absl::Status SyncPipeline(PGresult** last);
  absl::Status LeavePipeline();
  // Sends parameterless `sql` in the pipeline, answered at the next sync.
  absl::Status SendInPipeline(const char* sql);
  void EnterPipeline();

  PGconn* conn_;
  const ConnectParameters parameters_;
  const bool read_only_;
  std::string listening_;
  // Inside BEGIN..COMMIT/ROLLBACK: a dropped connection is then not reset
  // under the transaction (its statements would run outside it).
  bool in_transaction_ = false;
  // Write transactions run in libpq's pipeline mode: statements whose rows
  // are not needed (every INSERT and UPDATE) are sent without waiting, so a
  // batch of writes costs a few round trips rather than one per row.
  bool in_write_transaction_ = false;
  bool pipeline_enabled_ = true;
  bool pipelining_ = false;
  int pending_ = 0;  // statements sent in the pipeline, not yet answered
  // Set by SyncPipeline: its first failure was not the last statement's.
  bool failed_before_last_ = false;
  bool commit_failed_on_statement_ = false;
  std::map<const char*, std::unique_ptr<PreparedStatement>> cache_;
  int next_statement_ = 0;
};

}  // namespace refx::storage::postgres

#endif  // REFX_STORAGE_POSTGRES_PG_CONNECTION_H_
