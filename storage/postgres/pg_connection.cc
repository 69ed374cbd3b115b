#include "storage/postgres/pg_connection.h"

#include <libpq-fe.h>
#include <poll.h>

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace refx::storage::postgres {
namespace {

// PostgreSQL type OIDs of the columns refx reads as integers.
constexpr unsigned kBoolOid = 16;
constexpr unsigned kInt8Oid = 20;
constexpr unsigned kInt2Oid = 21;
constexpr unsigned kInt4Oid = 23;
constexpr unsigned kByteaOid = 17;

// Statements sent in a pipeline before their answers are read.
constexpr int kMaxPending = 128;

int64_t BigEndian(const char* bytes, int size) {
  uint64_t value = 0;
  for (int i = 0; i < size; ++i) value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  if (size < 8 && size > 0 && (static_cast<unsigned char>(bytes[0]) & 0x80)) {
    value |= ~uint64_t{0} << (8 * size);  // sign-extend int2/int4
  }
  return static_cast<int64_t>(value);
}

bool IsConnectionLevel(absl::string_view sqlstate) {
  // 08: connection exception; 57P01-57P03: shutdown, crash, cannot connect
  // now; 53: insufficient resources; 57014: statement timeout or cancel.
  return absl::StartsWith(sqlstate, "08") || absl::StartsWith(sqlstate, "57P") ||
         absl::StartsWith(sqlstate, "53") || sqlstate == "57014";
}

}  // namespace

absl::Status StatusFromPostgres(PGconn* conn, const PGresult* result, absl::string_view what) {
  std::string message = result != nullptr ? PQresultErrorMessage(result) : "";
  if (message.empty() && conn != nullptr) message = PQerrorMessage(conn);
  message = std::string(absl::StripAsciiWhitespace(message));
  // Both texts name tables, constraints and the server; bound values appear
  // only in DETAIL fields, which PQresultErrorMessage's first line does not
  // carry with the default verbosity set in Configure (TERSE).
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string sqlstate = state != nullptr ? state : "";
  const std::string text = absl::StrCat(what, ": ", message, sqlstate.empty() ? "" : " [", sqlstate,
                                        sqlstate.empty() ? "" : "]");
  if (conn == nullptr || PQstatus(conn) != CONNECTION_OK || sqlstate.empty() || IsConnectionLevel(sqlstate)) {
    return absl::UnavailableError(text);
  }
  if (sqlstate == "23505") return absl::AlreadyExistsError(text);
  if (sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "55P03") return absl::UnavailableError(text);
  return absl::InternalError(text);
}

PreparedStatement TranslateParameters(absl::string_view sql, std::string* out) {
  PreparedStatement prepared;
  out->clear();
  auto is_name = [](char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  for (size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (c == '\'' || c == '"') {  // quoted text or identifier, '' escapes included
      const size_t end = sql.find(c, i + 1);
      const size_t stop = end == absl::string_view::npos ? sql.size() : end + 1;
      out->append(sql.data() + i, stop - i);
      i = stop - 1;
      continue;
    }
    if (c == ':' && i + 1 < sql.size() && sql[i + 1] == ':') {  // a cast
      out->append("::");
      ++i;
      continue;
    }
    if (c == ':' && i + 1 < sql.size() && (absl::ascii_isalpha(static_cast<unsigned char>(sql[i + 1])) ||
                                           sql[i + 1] == '_')) {
      size_t end = i + 1;
      while (end < sql.size() && is_name(sql[end])) ++end;
      const std::string name(sql.substr(i, end - i));
      auto [it, inserted] = prepared.index.emplace(name, prepared.parameters);
      if (inserted) ++prepared.parameters;
      absl::StrAppend(out, "$", it->second + 1);
      i = end - 1;
      continue;
    }
    out->push_back(c);
  }
  return prepared;
}

Statement::Statement(Connection* conn, const PreparedStatement* prepared)
    : conn_(conn),
      prepared_(prepared),
      values_(prepared->parameters),
      null_(prepared->parameters, true),
      formats_(prepared->parameters, 0) {}

Statement::~Statement() { PQclear(result_); }

int Statement::Slot(const char* name) {
  auto it = prepared_->index.find(name);
  if (it == prepared_->index.end()) {
    if (bind_error_.ok()) bind_error_ = absl::InternalError(absl::StrCat("no SQL parameter ", name));
    return -1;
  }
  null_[it->second] = false;
  return it->second;
}

SqlStatement& Statement::Bind(const char* name, absl::string_view text) {
  if (int i = Slot(name); i >= 0) {
    values_[i] = std::string(text);
    formats_[i] = 0;
  }
  return *this;
}

SqlStatement& Statement::BindBlob(const char* name, absl::string_view bytes) {
  if (int i = Slot(name); i >= 0) {
    values_[i] = std::string(bytes);
    formats_[i] = 1;  // binary: bytea takes the bytes as they are
  }
  return *this;
}

SqlStatement& Statement::Bind(const char* name, int64_t value) {
  if (int i = Slot(name); i >= 0) {
    values_[i] = absl::StrCat(value);
    formats_[i] = 0;
  }
  return *this;
}

SqlStatement& Statement::Bind(const char* name, absl::optional<int64_t> value) {
  if (value.has_value()) return Bind(name, *value);
  if (int i = Slot(name); i >= 0) null_[i] = true;
  return *this;
}

absl::Status Statement::Execute(bool need_result) {
  const int n = prepared_->parameters;
  std::vector<const char*> values(n);
  std::vector<int> lengths(n);
  for (int i = 0; i < n; ++i) {
    values[i] = null_[i] ? nullptr : values_[i].data();
    lengths[i] = static_cast<int>(values_[i].size());
  }
  if (conn_->pipelining_) {
    // Sent now, answered later: a statement whose rows are not needed costs
    // no round trip of its own. Its failure is reported by the next
    // statement that waits (and aborts the transaction, as it would anyway).
    if (PQsendQueryPrepared(conn_->conn_, prepared_->name.c_str(), n, values.data(), lengths.data(),
                            formats_.data(), /*resultFormat=*/1) == 0) {
      return StatusFromPostgres(conn_->conn_, nullptr, "postgres statement");
    }
    ++conn_->pending_;
    // Answers are read at least every kMaxPending statements, so neither
    // side's socket buffer fills with answers nobody reads (libpq's
    // pipeline deadlock).
    if (!need_result) return conn_->pending_ >= kMaxPending ? conn_->SyncPipeline(nullptr) : absl::OkStatus();
    return conn_->SyncPipeline(&result_);
  }
  result_ = PQexecPrepared(conn_->conn_, prepared_->name.c_str(), n, values.data(), lengths.data(), formats_.data(),
                           /*resultFormat=*/1);
  const ExecStatusType status = PQresultStatus(result_);
  if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) return absl::OkStatus();
  absl::Status error = StatusFromPostgres(conn_->conn_, result_, "postgres statement");
  PQclear(result_);
  result_ = nullptr;
  return error;
}

absl::StatusOr<bool> Statement::Step() {
  if (!bind_error_.ok()) return bind_error_;
  if (result_ == nullptr) {
    if (absl::Status s = Execute(/*need_result=*/true); !s.ok()) {
      bind_error_ = s;  // a failed statement stays failed
      return s;
    }
  }
  ++row_;
  return row_ < PQntuples(result_);
}

absl::Status Statement::Run() {
  if (!bind_error_.ok()) return bind_error_;
  if (conn_->pipelining_ && result_ == nullptr) {
    absl::Status s = Execute(/*need_result=*/false);
    if (!s.ok()) bind_error_ = s;
    return s;
  }
  absl::StatusOr<bool> row = Step();
  if (!row.ok()) return row.status();
  if (*row) return absl::InternalError("statement returned rows unexpectedly");
  return absl::OkStatus();
}

int64_t Statement::Int(int column) const {
  if (result_ == nullptr || PQgetisnull(result_, row_, column)) return 0;
  const char* bytes = PQgetvalue(result_, row_, column);
  const int size = PQgetlength(result_, row_, column);
  switch (PQftype(result_, column)) {
    case kInt8Oid:
    case kInt4Oid:
    case kInt2Oid:
      return BigEndian(bytes, size);
    case kBoolOid:
      return size > 0 && bytes[0] != 0 ? 1 : 0;
    default: {
      int64_t value = 0;
      return absl::SimpleAtoi(absl::string_view(bytes, size), &value) ? value : 0;
    }
  }
}

bool Statement::IsNull(int column) const { return result_ == nullptr || PQgetisnull(result_, row_, column); }

std::string Statement::Text(int column) const {
  if (IsNull(column)) return "";
  return std::string(PQgetvalue(result_, row_, column), PQgetlength(result_, row_, column));
}

int Statement::ColumnCount() const { return result_ == nullptr ? 0 : PQnfields(result_); }

std::string Statement::ColumnName(int column) const {
  const char* name = result_ == nullptr ? nullptr : PQfname(result_, column);
  return name != nullptr ? name : "";
}

SqlStatement::ValueKind Statement::Kind(int column) const {
  if (IsNull(column)) return ValueKind::kNull;
  switch (PQftype(result_, column)) {
    case kInt8Oid:
    case kInt4Oid:
    case kInt2Oid:
    case kBoolOid:
      return ValueKind::kInteger;
    case kByteaOid:
      return ValueKind::kBlob;
    default:
      return ValueKind::kText;
  }
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(const ConnectParameters& parameters, bool read_only) {
  std::vector<const char*> keys, values;
  for (const auto& [key, value] : parameters.parameters) {
    keys.push_back(key.c_str());
    values.push_back(value.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* raw = PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/1);
  if (raw == nullptr) return absl::ResourceExhaustedError("postgres: out of memory");
  // libpq prints the server's notices (warnings, at client_min_messages)
  // to stderr. Their text can quote values, and refx logs only its own
  // structured events; what matters reaches refx as a statement's error or
  // a dropped connection.
  PQsetNoticeProcessor(
      raw, [](void*, const char*) {}, nullptr);
  auto conn = std::unique_ptr<Connection>(new Connection(raw, parameters, read_only));
  if (PQstatus(raw) != CONNECTION_OK) {
    return absl::UnavailableError(absl::StrCat(
        "cannot connect to PostgreSQL: ", absl::StripAsciiWhitespace(PQerrorMessage(raw))));
  }
  if (absl::Status s = conn->Configure(); !s.ok()) return s;
  return conn;
}

Connection::~Connection() { PQfinish(conn_); }

absl::Status Connection::SyncPipeline(PGresult** last) {
  if (!pipelining_) return absl::OkStatus();
  failed_before_last_ = false;
  absl::Status first_failure;
  auto fail = [&](absl::Status s) {
    if (first_failure.ok()) first_failure = std::move(s);
  };
  if (pending_ > 0 && PQpipelineSync(conn_) == 0) {
    pending_ = 0;
    pipelining_ = false;  // the connection is broken; it is reset on its next use
    return StatusFromPostgres(conn_, nullptr, "postgres pipeline");
  }
  const bool synced = pending_ > 0;
  for (; pending_ > 0; --pending_) {
    PGresult* result = PQgetResult(conn_);
    if (result == nullptr) {
      pending_ = 0;
      pipelining_ = false;
      return absl::UnavailableError(absl::StrCat("postgres pipeline: connection lost: ",
                                                 absl::StripAsciiWhitespace(PQerrorMessage(conn_))));
    }
    const ExecStatusType status = PQresultStatus(result);
    if (status == PGRES_FATAL_ERROR) {
      if (first_failure.ok()) failed_before_last_ = pending_ > 1;
      fail(StatusFromPostgres(conn_, result, "postgres statement"));
    } else if (status == PGRES_PIPELINE_ABORTED) {
      fail(absl::InternalError("postgres statement: not run, an earlier statement of the transaction failed"));
    }
    if (pending_ == 1 && last != nullptr && (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK)) {
      *last = result;  // the waiting statement's rows
    } else {
      PQclear(result);
    }
    // Each statement's results end with a null.
    while (PGresult* extra = PQgetResult(conn_)) PQclear(extra);
  }
  if (synced) {
    PGresult* sync = PQgetResult(conn_);
    if (sync == nullptr || PQresultStatus(sync) != PGRES_PIPELINE_SYNC) {
      fail(absl::UnavailableError("postgres pipeline: no sync point (connection lost?)"));
      pipelining_ = false;
    }
    PQclear(sync);
  }
  if (!first_failure.ok() && last != nullptr && *last != nullptr) {
    PQclear(*last);
    *last = nullptr;
  }
  return first_failure;
}

absl::Status Connection::LeavePipeline() {
  if (!pipelining_) return absl::OkStatus();
  absl::Status pending = SyncPipeline(nullptr);
  if (pipelining_ && PQexitPipelineMode(conn_) == 0 && pending.ok()) {
    pending = absl::UnavailableError("postgres: cannot leave pipeline mode");
  }
  pipelining_ = false;
  return pending;
}

void Connection::EnterPipeline() {
  if (pipeline_enabled_ && in_write_transaction_ && !pipelining_ && PQstatus(conn_) == CONNECTION_OK) {
    pipelining_ = PQenterPipelineMode(conn_) == 1;
  }
}

absl::Status Connection::Simple(const char* sql, absl::string_view what, bool after_failure) {
  // Commands run outside the pipeline; what it still owes is read first,
  // and a statement of it that failed is this command's failure too (unless
  // the command is the one that recovers from it).
  absl::Status pending = LeavePipeline();
  if (!pending.ok() && !after_failure) return pending;
  PGresult* result = PQexec(conn_, sql);
  const ExecStatusType status = PQresultStatus(result);
  absl::Status out = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK
                         ? absl::OkStatus()
                         : StatusFromPostgres(conn_, result, what);
  // COMMIT of a transaction in which a statement failed succeeds as a
  // ROLLBACK: never taken for a commit.
  if (out.ok() && std::strcmp(sql, "COMMIT") == 0 && std::strcmp(PQcmdStatus(result), "ROLLBACK") == 0) {
    out = absl::InternalError("postgres commit: a statement of the transaction had failed; it was rolled back");
  }
  PQclear(result);
  EnterPipeline();
  return out;
}

absl::Status Connection::Configure() {
  PQsetErrorVerbosity(conn_, PQERRORS_TERSE);  // no DETAIL lines: they can quote values
  cache_.clear();
  std::string setup = "SET client_encoding = 'UTF8'; SET client_min_messages = warning;";
  if (parameters_.statement_timeout_ms > 0) {
    absl::StrAppend(&setup, " SET statement_timeout = ", parameters_.statement_timeout_ms, ";");
  }
  if (read_only_) absl::StrAppend(&setup, " SET default_transaction_read_only = on;");
  if (absl::Status s = Simple(setup.c_str(), "postgres session setup"); !s.ok()) return s;
  if (!listening_.empty()) {
    return Simple(absl::StrCat("LISTEN ", listening_).c_str(), "postgres listen");
  }
  return absl::OkStatus();
}

bool Connection::DroppedWhileIdle() {
  // Between transactions the server sends nothing unasked but a
  // notification or its goodbye (it restarted, or an administrator ended
  // the session), so a socket with nothing to read is still connected; a
  // readable one is read now, which tells the two apart.
  // The goodbye comes in two parts (a FATAL message, then the end of the
  // stream), and a read that finds the first does not look for the second.
  if (in_transaction_ || pipelining_) return false;
  for (int reads = 0; reads < 4; ++reads) {
    pollfd fd{PQsocket(conn_), POLLIN, 0};
    if (::poll(&fd, 1, 0) <= 0) return false;
    if (PQconsumeInput(conn_) == 0 || PQstatus(conn_) != CONNECTION_OK) return true;
  }
  return false;
}

absl::Status Connection::EnsureConnected() {
  if (PQstatus(conn_) == CONNECTION_OK && !DroppedWhileIdle()) return absl::OkStatus();
  pipelining_ = false;
  pending_ = 0;
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK) {
    return absl::UnavailableError(absl::StrCat("PostgreSQL is unreachable: ",
                                               absl::StripAsciiWhitespace(PQerrorMessage(conn_))));
  }
  return Configure();
}

absl::StatusOr<std::unique_ptr<SqlStatement>> Connection::Prepare(const char* sql) {
  // A connection that dropped (the database restarted) is reset here, on
  // its next use, and its statements prepared again: a replica recovers by
  // itself once PostgreSQL is back. Inside a transaction a reset would lose
  // it, so a dropped connection then fails the statement (UNAVAILABLE).
  if (!in_transaction_) {
    if (absl::Status s = EnsureConnected(); !s.ok()) return s;
  }
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    // Preparing waits for its answer: outside the pipeline (once per
    // statement and connection).
    if (absl::Status s = LeavePipeline(); !s.ok()) return s;
    std::string text;
    auto prepared = std::make_unique<PreparedStatement>(TranslateParameters(sql, &text));
    prepared->name = absl::StrCat("refx_", ++next_statement_);
    PGresult* result = PQprepare(conn_, prepared->name.c_str(), text.c_str(), 0, nullptr);
    const bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
    absl::Status error = ok ? absl::OkStatus() : StatusFromPostgres(conn_, result, "postgres prepare");
    PQclear(result);
    EnterPipeline();
    if (!ok) return error;
    it = cache_.emplace(sql, std::move(prepared)).first;
  }
  return std::make_unique<Statement>(this, it->second.get());
}

absl::Status Connection::Exec(const char* sql) {
  if (absl::Status s = EnsureConnected(); !s.ok()) return s;
  return Simple(sql, "postgres exec");
}

absl::Status Connection::SendInPipeline(const char* sql) {
  if (PQsendQueryParams(conn_, sql, 0, nullptr, nullptr, nullptr, nullptr, /*resultFormat=*/1) == 0) {
    return StatusFromPostgres(conn_, nullptr, "postgres pipeline");
  }
  ++pending_;
  return absl::OkStatus();
}

absl::Status Connection::BeginWrite() {
  if (absl::Status s = EnsureConnected(); !s.ok()) return s;
  const std::string lock = absl::StrCat("SELECT pg_advisory_xact_lock(", kWriteLockKey, ")");
  if (pipeline_enabled_ && PQenterPipelineMode(conn_) == 1) {
    // BEGIN and the lock go out with the transaction's first statement that
    // waits: one round trip for all three. Their failure is that
    // statement's (or the commit's).
    pipelining_ = true;
    in_transaction_ = in_write_transaction_ = true;
    absl::Status s = SendInPipeline("BEGIN ISOLATION LEVEL READ COMMITTED");
    if (s.ok()) s = SendInPipeline(lock.c_str());
    return s;
  }
  const std::string begin = absl::StrCat("BEGIN ISOLATION LEVEL READ COMMITTED; ", lock);
  absl::Status s = Simple(begin.c_str(), "postgres begin");
  in_transaction_ = PQtransactionStatus(conn_) != PQTRANS_IDLE && PQstatus(conn_) == CONNECTION_OK;
  in_write_transaction_ = in_transaction_ && s.ok();
  EnterPipeline();
  return s;
}

absl::Status Connection::BeginRead() {
  if (absl::Status s = EnsureConnected(); !s.ok()) return s;
  absl::Status s = Simple("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "postgres begin");
  in_transaction_ = s.ok();
  return s;
}

// A failed COMMIT leaves the transaction open only if the server still
// holds it (aborted, awaiting ROLLBACK). On a dropped connection it is over:
// rolled back by the server, or committed with the answer lost; UNAVAILABLE
// either way, and the store engine finds out which (RunBatch).
absl::Status Connection::Commit() {
  in_write_transaction_ = false;
  commit_failed_on_statement_ = false;
  absl::Status s;
  if (pipelining_) {
    // COMMIT goes out behind what the pipeline holds, answered with it. If
    // a statement before it failed, the pipeline skips the COMMIT and that
    // failure is returned; the transaction stays open (aborted) for the
    // caller's ROLLBACK.
    PGresult* commit = nullptr;
    s = SendInPipeline("COMMIT");
    if (s.ok()) {
      s = SyncPipeline(&commit);
      commit_failed_on_statement_ = !s.ok() && failed_before_last_;
    }
    if (s.ok() && commit != nullptr && std::strcmp(PQcmdStatus(commit), "ROLLBACK") == 0) {
      s = absl::InternalError("postgres commit: a statement of the transaction had failed; it was rolled back");
    }
    PQclear(commit);
    if (absl::Status left = LeavePipeline(); s.ok()) s = left;
  } else {
    // A statement of the transaction that failed in the pipeline fails the
    // commit (COMMIT of an aborted transaction would roll back silently);
    // the transaction stays open for the caller's ROLLBACK.
    s = Simple("COMMIT", "postgres commit");
  }
  in_transaction_ = PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) != PQTRANS_IDLE;
  return s;
}
absl::Status Connection::Rollback() {
  in_transaction_ = false;
  in_write_transaction_ = false;
  return Simple("ROLLBACK", "postgres rollback", /*after_failure=*/true);
}
absl::Status Connection::Savepoint() { return Simple("SAVEPOINT write", "postgres savepoint"); }
absl::Status Connection::ReleaseSavepoint() { return Simple("RELEASE SAVEPOINT write", "postgres release"); }
absl::Status Connection::RollbackToSavepoint() {
  absl::Status rolled_back =
      Simple("ROLLBACK TO SAVEPOINT write", "postgres rollback to savepoint", /*after_failure=*/true);
  absl::Status released = Simple("RELEASE SAVEPOINT write", "postgres release");
  return rolled_back.ok() ? released : rolled_back;
}

absl::Status Connection::Listen(absl::string_view channel) {
  listening_ = std::string(channel);  // a fixed identifier of the store's, never input
  if (absl::Status s = EnsureConnected(); !s.ok()) return s;
  return Simple(absl::StrCat("LISTEN ", listening_).c_str(), "postgres listen");
}

absl::StatusOr<bool> Connection::WaitForNotification(absl::Duration timeout) {
  if (absl::Status s = EnsureConnected(); !s.ok()) return s;
  auto drain = [this] {
    bool any = false;
    while (PGnotify* n = PQnotifies(conn_)) {
      any = true;
      PQfreemem(n);
    }
    return any;
  };
  if (drain()) return true;
  pollfd fd{PQsocket(conn_), POLLIN, 0};
  const int ready = ::poll(&fd, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  if (ready < 0) return absl::UnavailableError("postgres: poll failed");
  if (ready == 0) return false;
  if (PQconsumeInput(conn_) == 0 || PQstatus(conn_) != CONNECTION_OK) {
    return absl::UnavailableError(absl::StrCat("PostgreSQL connection lost: ",
                                               absl::StripAsciiWhitespace(PQerrorMessage(conn_))));
  }
  return drain();
}

std::string Connection::ServerVersion() const {
  const char* version = PQparameterStatus(conn_, "server_version");
  return version != nullptr ? version : "";
}

bool Connection::UsesTls() const { return PQsslInUse(conn_) != 0; }

}  // namespace refx::storage::postgres
