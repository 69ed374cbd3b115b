// The SQLite driver's connection (storage/sql_driver.h) over one sqlite3
// handle: opened with the durability pragmas refx relies on, a
// prepared-statement cache, bind-by-name, transactions and savepoints.
// SQLite result codes become absl::Status here and go no further.
#ifndef REFX_STORAGE_SQLITE_SQLITE_CONNECTION_H_
#define REFX_STORAGE_SQLITE_SQLITE_CONNECTION_H_

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/optional.h"
#include "absl/strings/string_view.h"
#include "storage/sql_driver.h"

namespace refx::storage::sqlite {

// Maps a SQLite result code to a status: BUSY/LOCKED -> UNAVAILABLE,
// CONSTRAINT -> ALREADY_EXISTS, FULL/IOERR -> UNAVAILABLE, others INTERNAL.
absl::Status StatusFromSqlite(int rc, absl::string_view what, sqlite3* db);

// A prepared statement borrowed from a Connection's cache; reset and
// unbound when it goes out of scope.
class Statement final : public SqlStatement {
 public:
  explicit Statement(sqlite3_stmt* stmt, sqlite3* db) : stmt_(stmt), db_(db) {}
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

  int64_t Int(int column) const override { return sqlite3_column_int64(stmt_, column); }
  bool IsNull(int column) const override { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  std::string Text(int column) const override;
  int ColumnCount() const override { return sqlite3_column_count(stmt_); }
  std::string ColumnName(int column) const override { return sqlite3_column_name(stmt_, column); }
  ValueKind Kind(int column) const override;

 private:
  sqlite3_stmt* stmt_;
  sqlite3* db_;
  absl::Status bind_error_;
};

class Connection final : public SqlConnection {
 public:
  // Opens (creating if asked) with WAL, synchronous=FULL, foreign keys on
  // and a busy timeout. Read-only connections refuse writes; a writing one
  // gathers its log writes (wal_write_coalescing_vfs.h).
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const std::string& path, bool read_only);
  ~Connection() override;

  // A cached prepared statement for `sql` (the pointer is the cache key, so
  // pass the dialect's constants).
  absl::StatusOr<std::unique_ptr<SqlStatement>> Prepare(const char* sql) override;
  // Runs SQL text with no parameters (pragmas, migrations).
  absl::Status Exec(const char* sql) override;

  absl::Status BeginWrite() override;  // BEGIN IMMEDIATE: the write lock at once
  absl::Status BeginRead() override;   // BEGIN (deferred): a snapshot from the first read
  absl::Status Commit() override;
  absl::Status Rollback() override;
  // Through the statement cache: the writer runs them around every write,
  // and sqlite3_exec would parse and compile them each time.
  absl::Status Savepoint() override;
  absl::Status ReleaseSavepoint() override;
  absl::Status RollbackToSavepoint() override;  // rolls back to it and releases it

  sqlite3* raw() const { return db_; }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}
  absl::Status RunCached(const char* sql);
  sqlite3* db_;
  std::map<const char*, sqlite3_stmt*> cache_;
};

}  // namespace refx::storage::sqlite

#endif  // REFX_STORAGE_SQLITE_SQLITE_CONNECTION_H_
