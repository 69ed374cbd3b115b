#include "storage/sqlite/sqlite_connection.h"

#include "absl/strings/str_cat.h"
#include "storage/sqlite/wal_write_coalescing_vfs.h"

namespace refx::storage::sqlite {

absl::Status StatusFromSqlite(int rc, absl::string_view what, sqlite3* db) {
  const int primary = rc & 0xff;
  // sqlite3_errmsg names tables and constraints, never bound values.
  std::string message = absl::StrCat(what, ": ", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (primary) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
      return absl::OkStatus();
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
      return absl::UnavailableError(message);
    case SQLITE_CONSTRAINT:
      return absl::AlreadyExistsError(message);
    default:
      return absl::InternalError(message);
  }
}

Statement::~Statement() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

namespace {
int IndexOf(sqlite3_stmt* stmt, const char* name, absl::Status* error) {
  int index = sqlite3_bind_parameter_index(stmt, name);
  if (index == 0 && error->ok()) *error = absl::InternalError(absl::StrCat("no SQL parameter ", name));
  return index;
}
}  // namespace

SqlStatement& Statement::Bind(const char* name, absl::string_view text) {
  int i = IndexOf(stmt_, name, &bind_error_);
  if (i > 0) sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}

SqlStatement& Statement::BindBlob(const char* name, absl::string_view bytes) {
  int i = IndexOf(stmt_, name, &bind_error_);
  if (i > 0) sqlite3_bind_blob(stmt_, i, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  return *this;
}

SqlStatement& Statement::Bind(const char* name, int64_t value) {
  int i = IndexOf(stmt_, name, &bind_error_);
  if (i > 0) sqlite3_bind_int64(stmt_, i, value);
  return *this;
}

SqlStatement& Statement::Bind(const char* name, absl::optional<int64_t> value) {
  if (value.has_value()) return Bind(name, *value);
  int i = IndexOf(stmt_, name, &bind_error_);
  if (i > 0) sqlite3_bind_null(stmt_, i);
  return *this;
}

absl::StatusOr<bool> Statement::Step() {
  if (!bind_error_.ok()) return bind_error_;
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return StatusFromSqlite(rc, "sqlite step", db_);
}

absl::Status Statement::Run() {
  auto row = Step();
  if (!row.ok()) return row.status();
  if (*row) return absl::InternalError("statement returned rows unexpectedly");
  return absl::OkStatus();
}

std::string Statement::Text(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  int size = sqlite3_column_bytes(stmt_, column);
  return data ? std::string(static_cast<const char*>(data), size) : std::string();
}

SqlStatement::ValueKind Statement::Kind(int column) const {
  switch (sqlite3_column_type(stmt_, column)) {
    case SQLITE_NULL:
      return ValueKind::kNull;
    case SQLITE_INTEGER:
      return ValueKind::kInteger;
    case SQLITE_BLOB:
      return ValueKind::kBlob;
    default:
      return ValueKind::kText;  // refx stores no REAL
  }
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(const std::string& path, bool read_only) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_NOMUTEX | (read_only ? SQLITE_OPEN_READONLY
                                               : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  // A writing connection's log writes are gathered into a few per commit
  // (wal_write_coalescing_vfs.h), over whatever VFS is the default now. That
  // is sound because the connection is synchronous=FULL before it writes.
  const char* vfs = nullptr;
  if (!read_only) {
    vfs = WalWriteCoalescingVfsOver(sqlite3_vfs_find(nullptr));
    if (vfs == nullptr) return absl::InternalError("cannot register the SQLite log-writing VFS");
  }
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, vfs);
  if (rc != SQLITE_OK) {
    absl::Status s = StatusFromSqlite(rc, absl::StrCat("cannot open database ", path), db);
    sqlite3_close(db);
    return s;
  }
  sqlite3_extended_result_codes(db, 1);
  auto conn = std::unique_ptr<Connection>(new Connection(db));
  sqlite3_busy_timeout(db, 5000);
  // synchronous=FULL first, before anything can write: so a COMMIT that
  // returned is on disk (WAL+NORMAL can lose the last commits on power loss,
  // which would break "acknowledged means durable"), and the log-writing VFS
  // relies on it.
  if (absl::Status s = conn->Exec("PRAGMA synchronous=FULL"); !s.ok()) return s;
  if (!read_only) {
    // WAL so readers never block the writer.
    auto mode = conn->Prepare("PRAGMA journal_mode=WAL");
    if (!mode.ok()) return mode.status();
    auto row = (*mode)->Step();
    if (!row.ok()) return row.status();
    if (!*row || (*mode)->Text(0) != "wal") {
      return absl::FailedPreconditionError(absl::StrCat("cannot enable WAL on ", path));
    }
  }
  // secure_delete: a value rewritten or deleted (a re-encryption, a
  // retention erasure) is zeroed where it was, not left in the file's free
  // space.
  for (const char* pragma : {"PRAGMA foreign_keys=ON", "PRAGMA secure_delete=ON"}) {
    absl::Status s = conn->Exec(pragma);
    if (!s.ok()) return s;
  }
  return conn;
}

Connection::~Connection() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

absl::StatusOr<std::unique_ptr<SqlStatement>> Connection::Prepare(const char* sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return StatusFromSqlite(rc, "sqlite prepare", db_);
    it = cache_.emplace(sql, stmt).first;
  }
  return std::make_unique<Statement>(it->second, db_);
}

absl::Status Connection::Exec(const char* sql) {
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  return StatusFromSqlite(rc, "sqlite exec", db_);
}

absl::Status Connection::RunCached(const char* sql) {
  auto stmt = Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  return (*stmt)->Run();
}

absl::Status Connection::BeginWrite() { return Exec("BEGIN IMMEDIATE"); }
absl::Status Connection::BeginRead() { return Exec("BEGIN"); }
absl::Status Connection::Commit() { return Exec("COMMIT"); }
absl::Status Connection::Rollback() { return Exec("ROLLBACK"); }

namespace {
constexpr char kSavepoint[] = "SAVEPOINT write";
constexpr char kRelease[] = "RELEASE write";
constexpr char kRollbackTo[] = "ROLLBACK TO write";
}  // namespace

absl::Status Connection::Savepoint() { return RunCached(kSavepoint); }
absl::Status Connection::ReleaseSavepoint() { return RunCached(kRelease); }
absl::Status Connection::RollbackToSavepoint() {
  absl::Status rolled_back = RunCached(kRollbackTo);
  absl::Status released = RunCached(kRelease);
  return rolled_back.ok() ? released : rolled_back;
}

}  // namespace refx::storage::sqlite
