#include "auth/pki/issuance_ledger.h"

#include <openssl/evp.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace refx::pki {
namespace {

constexpr const char* kSchema[] = {
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE certificates ("
    " serial TEXT PRIMARY KEY, kind TEXT NOT NULL, subject_id TEXT NOT NULL,"
    " subject TEXT NOT NULL, sha256_fingerprint TEXT NOT NULL,"
    " not_before INTEGER NOT NULL, not_after INTEGER NOT NULL, issued_at INTEGER NOT NULL,"
    " status TEXT NOT NULL CHECK (status IN ('valid', 'revoked')),"
    " revoked_at INTEGER, revocation_reason TEXT NOT NULL DEFAULT '',"
    " operator TEXT NOT NULL, csr_sha256 TEXT NOT NULL DEFAULT '', pem TEXT NOT NULL)",
    "CREATE INDEX certificates_by_subject ON certificates (subject_id, issued_at)",
    "CREATE TABLE publication (id INTEGER PRIMARY KEY CHECK (id = 1),"
    " pending INTEGER NOT NULL, pending_reason TEXT NOT NULL DEFAULT '',"
    " next_sequence INTEGER NOT NULL, last_published INTEGER)",
    "INSERT INTO publication (id, pending, next_sequence) VALUES (1, 0, 1)",
    "CREATE TABLE actions (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL,"
    " operator TEXT NOT NULL, action TEXT NOT NULL, details TEXT NOT NULL,"
    " prev_hash TEXT NOT NULL, hash TEXT NOT NULL)",
};

constexpr char kGenesisHash[] = "0000000000000000000000000000000000000000000000000000000000000000";

// A prepared statement that finalizes itself, with typed binders.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement& Bind(const std::string& value) {
    if (rc_ == SQLITE_OK) {
      rc_ = sqlite3_bind_text(stmt_, ++index_, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
    }
    return *this;
  }
  Statement& Bind(int64_t value) {
    if (rc_ == SQLITE_OK) rc_ = sqlite3_bind_int64(stmt_, ++index_, value);
    return *this;
  }
  Statement& BindNull() {
    if (rc_ == SQLITE_OK) rc_ = sqlite3_bind_null(stmt_, ++index_);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return rc_ == SQLITE_OK ? sqlite3_step(stmt_) : rc_; }
  absl::Status Run(std::string_view what) {
    const int rc = Step();
    if (rc == SQLITE_DONE) return absl::OkStatus();
    return Error(what, rc);
  }
  absl::Status Error(std::string_view what, int rc) const {
    const std::string message = absl::StrCat("ledger: ", std::string(what), ": ", sqlite3_errmsg(db_));
    if (rc == SQLITE_CONSTRAINT || sqlite3_extended_errcode(db_) == SQLITE_CONSTRAINT_PRIMARYKEY) {
      return absl::AlreadyExistsError(message);
    }
    return absl::InternalError(message);
  }
  std::string Text(int column) const {
    const unsigned char* text = sqlite3_column_text(stmt_, column);
    return text == nullptr ? "" : std::string(reinterpret_cast<const char*>(text),
                                              static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
  }
  int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
  bool IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_OK;
  int index_ = 0;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back unless committed.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) {
    begun_ = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK;
  }
  ~Transaction() {
    if (begun_ && !committed_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  absl::Status Begun() const {
    return begun_ ? absl::OkStatus()
                  : absl::UnavailableError(absl::StrCat("ledger is busy: ", sqlite3_errmsg(db_)));
  }
  absl::Status Commit() {
    if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      return absl::InternalError(absl::StrCat("ledger commit failed: ", sqlite3_errmsg(db_)));
    }
    committed_ = true;
    return absl::OkStatus();
  }

 private:
  sqlite3* db_;
  bool begun_ = false;
  bool committed_ = false;
};

constexpr char kCertColumns[] =
    "serial, kind, subject_id, subject, sha256_fingerprint, not_before, not_after, issued_at, status,"
    " revoked_at, revocation_reason, operator, csr_sha256, pem";

LedgerCertificate ReadCert(const Statement& s) {
  LedgerCertificate c;
  c.serial_hex = s.Text(0);
  c.kind = s.Text(1);
  c.subject_id = s.Text(2);
  c.subject = s.Text(3);
  c.sha256_fingerprint = s.Text(4);
  c.not_before = absl::FromUnixSeconds(s.Int(5));
  c.not_after = absl::FromUnixSeconds(s.Int(6));
  c.issued_at = absl::FromUnixSeconds(s.Int(7));
  c.status = s.Text(8);
  if (!s.IsNull(9)) c.revoked_at = absl::FromUnixSeconds(s.Int(9));
  c.revocation_reason = s.Text(10);
  c.operator_name = s.Text(11);
  c.csr_sha256 = s.Text(12);
  c.pem = s.Text(13);
  return c;
}

}  // namespace

std::string ActionHash(const std::string& prev_hash, int64_t seq, int64_t at_unix,
                       const std::string& operator_name, const std::string& action,
                       const std::string& details) {
  // Length-prefixed fields, so no choice of values can make two different
  // entries hash the same bytes.
  std::string bytes;
  for (const std::string& field :
       {prev_hash, absl::StrCat(seq), absl::StrCat(at_unix), operator_name, action, details}) {
    absl::StrAppend(&bytes, field.size(), ":", field, "\n");
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  return out;
}

absl::StatusOr<std::unique_ptr<IssuanceLedger>> IssuanceLedger::Open(const std::string& path, bool create) {
  struct stat info;
  const bool exists = stat(path.c_str(), &info) == 0;
  if (create && exists) return absl::AlreadyExistsError(absl::StrCat("ledger ", path, " already exists"));
  if (!create && !exists) {
    return absl::NotFoundError(absl::StrCat("no issuance ledger at ", path,
                                            " (is this a CA directory made by `refx-admin ca init`?)"));
  }
  sqlite3* db = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_FULLMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return absl::UnavailableError(absl::StrCat("cannot open ledger ", path, ": ", message));
  }
  std::unique_ptr<IssuanceLedger> ledger(new IssuanceLedger(db));
  sqlite3_busy_timeout(db, 5000);
  absl::Status status = ledger->Exec("PRAGMA journal_mode=WAL");
  if (status.ok()) status = ledger->Exec("PRAGMA synchronous=FULL");
  if (status.ok()) status = ledger->Exec("PRAGMA foreign_keys=ON");
  if (status.ok() && create) {
    Transaction txn(db);
    status = txn.Begun();
    for (const char* sql : kSchema) {
      if (status.ok()) status = ledger->Exec(sql);
    }
    if (status.ok()) status = txn.Commit();
    if (status.ok()) chmod(path.c_str(), 0600);
  }
  if (!status.ok()) return status;
  return ledger;
}

IssuanceLedger::~IssuanceLedger() { sqlite3_close(db_); }

absl::Status IssuanceLedger::Exec(const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error != nullptr ? error : "unknown error";
    sqlite3_free(error);
    return absl::InternalError(absl::StrCat("ledger: ", message));
  }
  return absl::OkStatus();
}

absl::Status IssuanceLedger::SetMeta(const std::string& key, const std::string& value) {
  return Statement(db_, "INSERT INTO meta (key, value) VALUES (?, ?)"
                        " ON CONFLICT (key) DO UPDATE SET value = excluded.value")
      .Bind(key)
      .Bind(value)
      .Run("set " + key);
}

absl::StatusOr<std::string> IssuanceLedger::GetMeta(const std::string& key) const {
  Statement s(db_, "SELECT value FROM meta WHERE key = ?");
  s.Bind(key);
  const int rc = s.Step();
  if (rc == SQLITE_ROW) return s.Text(0);
  if (rc == SQLITE_DONE) return absl::NotFoundError(absl::StrCat("ledger has no ", key));
  return s.Error("read " + key, rc);
}

absl::Status IssuanceLedger::AppendActionLocked(const std::string& operator_name, const std::string& action,
                                                const std::string& details, absl::Time now) {
  std::string prev_hash = kGenesisHash;
  int64_t seq = 1;
  {
    Statement last(db_, "SELECT seq, hash FROM actions ORDER BY seq DESC LIMIT 1");
    const int rc = last.Step();
    if (rc == SQLITE_ROW) {
      seq = last.Int(0) + 1;
      prev_hash = last.Text(1);
    } else if (rc != SQLITE_DONE) {
      return last.Error("read action log", rc);
    }
  }
  const int64_t at = absl::ToUnixSeconds(now);
  return Statement(db_, "INSERT INTO actions (seq, at, operator, action, details, prev_hash, hash)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)")
      .Bind(seq)
      .Bind(at)
      .Bind(operator_name)
      .Bind(action)
      .Bind(details)
      .Bind(prev_hash)
      .Bind(ActionHash(prev_hash, seq, at, operator_name, action, details))
      .Run("append action");
}

absl::Status IssuanceLedger::AppendAction(const std::string& operator_name, const std::string& action,
                                          const std::string& details, absl::Time now) {
  Transaction txn(db_);
  if (absl::Status s = txn.Begun(); !s.ok()) return s;
  if (absl::Status s = AppendActionLocked(operator_name, action, details, now); !s.ok()) return s;
  return txn.Commit();
}

absl::Status IssuanceLedger::RecordIssued(const LedgerCertificate& c, const std::string& action,
                                          const std::string& details, absl::Time now) {
  Transaction txn(db_);
  if (absl::Status s = txn.Begun(); !s.ok()) return s;
  absl::Status status =
      Statement(db_, "INSERT INTO certificates (serial, kind, subject_id, subject, sha256_fingerprint,"
                     " not_before, not_after, issued_at, status, operator, csr_sha256, pem)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'valid', ?, ?, ?)")
          .Bind(c.serial_hex)
          .Bind(c.kind)
          .Bind(c.subject_id)
          .Bind(c.subject)
          .Bind(c.sha256_fingerprint)
          .Bind(absl::ToUnixSeconds(c.not_before))
          .Bind(absl::ToUnixSeconds(c.not_after))
          .Bind(absl::ToUnixSeconds(c.issued_at))
          .Bind(c.operator_name)
          .Bind(c.csr_sha256)
          .Bind(c.pem)
          .Run("record certificate");
  if (status.ok()) status = AppendActionLocked(c.operator_name, action, details, now);
  if (status.ok()) status = txn.Commit();
  return status;
}

absl::Status IssuanceLedger::MarkRevoked(const std::vector<std::string>& serials, const std::string& reason,
                                         const std::string& operator_name, absl::Time now) {
  if (serials.empty()) return absl::InvalidArgumentError("nothing to revoke");
  Transaction txn(db_);
  if (absl::Status s = txn.Begun(); !s.ok()) return s;
  for (const std::string& serial : serials) {
    Statement find(db_, "SELECT status FROM certificates WHERE serial = ?");
    find.Bind(serial);
    const int rc = find.Step();
    if (rc == SQLITE_DONE) return absl::NotFoundError(absl::StrCat("serial ", serial, " is not in the ledger"));
    if (rc != SQLITE_ROW) return find.Error("find serial", rc);
    if (find.Text(0) == "revoked") {
      return absl::FailedPreconditionError(absl::StrCat("serial ", serial, " is already revoked"));
    }
    if (absl::Status s = Statement(db_, "UPDATE certificates SET status = 'revoked', revoked_at = ?,"
                                        " revocation_reason = ? WHERE serial = ?")
                             .Bind(absl::ToUnixSeconds(now))
                             .Bind(reason)
                             .Bind(serial)
                             .Run("revoke");
        !s.ok()) {
      return s;
    }
  }
  const std::string details = absl::StrCat("serials=", absl::StrJoin(serials, ","), " reason=", reason);
  absl::Status status = Statement(db_, "UPDATE publication SET pending = 1, pending_reason = ? WHERE id = 1")
                            .Bind("revoke " + details)
                            .Run("mark publication pending");
  if (status.ok()) status = AppendActionLocked(operator_name, "revoke", details, now);
  if (status.ok()) status = txn.Commit();
  return status;
}

absl::StatusOr<LedgerCertificate> IssuanceLedger::Find(const std::string& serial_hex) const {
  Statement s(db_, absl::StrCat("SELECT ", kCertColumns, " FROM certificates WHERE serial = ?").c_str());
  s.Bind(serial_hex);
  const int rc = s.Step();
  if (rc == SQLITE_ROW) return ReadCert(s);
  if (rc == SQLITE_DONE) return absl::NotFoundError(absl::StrCat("serial ", serial_hex, " is not in the ledger"));
  return s.Error("find", rc);
}

absl::StatusOr<std::vector<LedgerCertificate>> IssuanceLedger::List(const std::string& subject_id,
                                                                    const std::string& kind) const {
  Statement s(db_, absl::StrCat("SELECT ", kCertColumns,
                                " FROM certificates WHERE (?1 = '' OR subject_id = ?1) AND (?2 = '' OR kind = ?2)"
                                " ORDER BY issued_at DESC, serial")
                       .c_str());
  s.Bind(subject_id).Bind(kind);
  std::vector<LedgerCertificate> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) out.push_back(ReadCert(s));
  if (rc != SQLITE_DONE) return s.Error("list", rc);
  return out;
}

absl::StatusOr<std::vector<LedgerCertificate>> IssuanceLedger::Revoked() const {
  Statement s(db_, absl::StrCat("SELECT ", kCertColumns,
                                " FROM certificates WHERE status = 'revoked' ORDER BY revoked_at, serial")
                       .c_str());
  std::vector<LedgerCertificate> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) out.push_back(ReadCert(s));
  if (rc != SQLITE_DONE) return s.Error("list revoked", rc);
  return out;
}

absl::StatusOr<PublicationState> IssuanceLedger::Publication() const {
  Statement s(db_, "SELECT pending, pending_reason, next_sequence, last_published FROM publication WHERE id = 1");
  const int rc = s.Step();
  if (rc != SQLITE_ROW) return s.Error("read publication state", rc);
  PublicationState state;
  state.pending = s.Int(0) != 0;
  state.pending_reason = s.Text(1);
  state.next_sequence = s.Int(2);
  if (!s.IsNull(3)) state.last_published = absl::FromUnixSeconds(s.Int(3));
  return state;
}

absl::Status IssuanceLedger::SetPending(const std::string& reason) {
  return Statement(db_, "UPDATE publication SET pending = 1, pending_reason = ? WHERE id = 1")
      .Bind(reason)
      .Run("mark publication pending");
}

absl::Status IssuanceLedger::CompletePublication(int64_t sequence, const std::string& operator_name,
                                                 const std::string& details, absl::Time now) {
  Transaction txn(db_);
  if (absl::Status s = txn.Begun(); !s.ok()) return s;
  absl::Status status = Statement(db_, "UPDATE publication SET pending = 0, pending_reason = '',"
                                       " next_sequence = ?, last_published = ? WHERE id = 1")
                            .Bind(sequence + 1)
                            .Bind(absl::ToUnixSeconds(now))
                            .Run("complete publication");
  if (status.ok()) status = AppendActionLocked(operator_name, "publish", details, now);
  if (status.ok()) status = txn.Commit();
  return status;
}

absl::StatusOr<std::vector<ActionLogEntry>> IssuanceLedger::Actions() const {
  Statement s(db_, "SELECT seq, at, operator, action, details, prev_hash, hash FROM actions ORDER BY seq");
  std::vector<ActionLogEntry> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    out.push_back({s.Int(0), absl::FromUnixSeconds(s.Int(1)), s.Text(2), s.Text(3), s.Text(4), s.Text(5),
                   s.Text(6)});
  }
  if (rc != SQLITE_DONE) return s.Error("read action log", rc);
  return out;
}

absl::StatusOr<int64_t> IssuanceLedger::VerifyActionLog() const {
  absl::StatusOr<std::vector<ActionLogEntry>> entries = Actions();
  if (!entries.ok()) return entries.status();
  std::string prev = kGenesisHash;
  int64_t expected_seq = 1;
  for (const ActionLogEntry& e : *entries) {
    if (e.seq != expected_seq || e.prev_hash != prev ||
        e.hash != ActionHash(prev, e.seq, absl::ToUnixSeconds(e.at), e.operator_name, e.action, e.details)) {
      return absl::DataLossError(absl::StrCat("action log broken at entry ", e.seq, " (expected entry ",
                                              expected_seq, "): an entry was edited, inserted or deleted"));
    }
    prev = e.hash;
    ++expected_seq;
  }
  return static_cast<int64_t>(entries->size());
}

}  // namespace refx::pki
