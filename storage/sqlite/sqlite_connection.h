// A thin RAII layer over one sqlite3 connection: open with the durability
// pragmas refx relies on, prepared-statement cache, bind-by-name, and a
// transaction guard that rolls back unless committed. SQLite result codes
// become absl::Status here and go no further.
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

namespace refx::storage::sqlite {

// Maps a SQLite result code to a status: BUSY/LOCKED -> UNAVAILABLE,
// CONSTRAINT -> ALREADY_EXISTS, FULL/IOERR -> UNAVAILABLE, others INTERNAL.
absl::Status StatusFromSqlite(int rc, absl::string_view what, sqlite3* db);

// A prepared statement borrowed from a Connection's cache; reset and
// unbound when it goes out of scope.
class Statement {
 public:
  explicit Statement(sqlite3_stmt* stmt, sqlite3* db) : stmt_(stmt), db_(db) {}
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Bind by parameter name (":name"). Unknown names are a programming error
  // reported as INTERNAL by Step().
  Statement& Bind(const char* name, absl::string_view text);
  Statement& BindBlob(const char* name, absl::string_view bytes);
  Statement& Bind(const char* name, int64_t value);
  // NULL when `value` is empty.
  Statement& Bind(const char* name, absl::optional<int64_t> value);

  // Runs one step: true if a row is available, false when done.
  absl::StatusOr<bool> Step();
  // Runs to completion, expecting no rows.
  absl::Status Run();

  int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
  bool IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  std::string Text(int column) const;

 private:
  sqlite3_stmt* stmt_;
  sqlite3* db_;
  absl::Status bind_error_;
};

class Connection {
 public:
  // Opens (creating if asked) with WAL, synchronous=FULL, foreign keys on
  // and a busy timeout. Read-only connections refuse writes.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const std::string& path, bool read_only);
  ~Connection();

  // A cached prepared statement for `sql` (the pointer is the cache key, so
  // pass the constants from sqlite_statements.h).
  absl::StatusOr<std::unique_ptr<Statement>> Prepare(const char* sql);
  // Runs SQL text with no parameters (pragmas, migrations, BEGIN/COMMIT).
  absl::Status Exec(const char* sql);
  sqlite3* raw() const { return db_; }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::map<const char*, sqlite3_stmt*> cache_;
};

// Rolls back in its destructor unless Commit() succeeded.
class Transaction {
 public:
  static absl::StatusOr<Transaction> Begin(Connection* conn);  // BEGIN IMMEDIATE
  Transaction(Transaction&& other) noexcept : conn_(other.conn_) { other.conn_ = nullptr; }
  ~Transaction();
  absl::Status Commit();

 private:
  explicit Transaction(Connection* conn) : conn_(conn) {}
  Connection* conn_;
};

}  // namespace refx::storage::sqlite

#endif  // REFX_STORAGE_SQLITE_SQLITE_CONNECTION_H_
