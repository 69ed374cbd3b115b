#include "auth/pki/issuance_ledger.h"

#include <openssl/evp.h>
#include <sys/stat.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "storage/sqlite/sqlite_connection.h"

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

#define REFX_LEDGER_CERT_COLUMNS                                                                \
  "SELECT serial, kind, subject_id, subject, sha256_fingerprint, not_before, not_after, issued_at, status," \
  " revoked_at, revocation_reason, operator, csr_sha256, pem FROM certificates "

// Every statement the ledger runs: constants, so the connection's cache keys
// on them, and every value bound by name.
constexpr char kSetMeta[] =
    "INSERT INTO meta (key, value) VALUES (:key, :value) ON CONFLICT (key) DO UPDATE SET value = excluded.value";
constexpr char kGetMeta[] = "SELECT value FROM meta WHERE key = :key";
constexpr char kLastAction[] = "SELECT seq, hash FROM actions ORDER BY seq DESC LIMIT 1";
constexpr char kInsertAction[] =
    "INSERT INTO actions (seq, at, operator, action, details, prev_hash, hash)"
    " VALUES (:seq, :at, :operator, :action, :details, :prev_hash, :hash)";
constexpr char kInsertCertificate[] =
    "INSERT INTO certificates (serial, kind, subject_id, subject, sha256_fingerprint,"
    " not_before, not_after, issued_at, status, operator, csr_sha256, pem)"
    " VALUES (:serial, :kind, :subject_id, :subject, :fingerprint, :not_before, :not_after, :issued_at,"
    " 'valid', :operator, :csr_sha256, :pem)";
constexpr char kCertificateStatus[] = "SELECT status FROM certificates WHERE serial = :serial";
constexpr char kRevoke[] =
    "UPDATE certificates SET status = 'revoked', revoked_at = :at, revocation_reason = :reason"
    " WHERE serial = :serial";
constexpr char kSetPending[] = "UPDATE publication SET pending = 1, pending_reason = :reason WHERE id = 1";
constexpr char kFindCertificate[] = REFX_LEDGER_CERT_COLUMNS "WHERE serial = :serial";
constexpr char kListCertificates[] = REFX_LEDGER_CERT_COLUMNS
    "WHERE (:subject_id = '' OR subject_id = :subject_id) AND (:kind = '' OR kind = :kind)"
    " ORDER BY issued_at DESC, serial";
constexpr char kRevokedCertificates[] = REFX_LEDGER_CERT_COLUMNS "WHERE status = 'revoked' ORDER BY revoked_at, serial";
constexpr char kPublication[] =
    "SELECT pending, pending_reason, next_sequence, last_published FROM publication WHERE id = 1";
constexpr char kCompletePublication[] =
    "UPDATE publication SET pending = 0, pending_reason = '', next_sequence = :next, last_published = :at"
    " WHERE id = 1";
constexpr char kActions[] = "SELECT seq, at, operator, action, details, prev_hash, hash FROM actions ORDER BY seq";
#undef REFX_LEDGER_CERT_COLUMNS

// Adds what the ledger was doing to a driver error; a constraint stays
// ALREADY_EXISTS, the rest keep their code.
absl::Status LedgerError(const absl::Status& status, absl::string_view what) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat("ledger: ", what, ": ", status.message()));
}

// Runs `body` in a write transaction (BEGIN IMMEDIATE), committed if it
// succeeds and rolled back otherwise.
template <typename Body>
absl::Status InTransaction(storage::SqlConnection* conn, Body body) {
  absl::StatusOr<storage::SqlTransaction> txn = storage::SqlTransaction::Begin(conn);
  if (!txn.ok()) return absl::UnavailableError(absl::StrCat("ledger is busy: ", txn.status().message()));
  if (absl::Status s = body(); !s.ok()) return s;
  return LedgerError(txn->Commit(), "commit");
}

LedgerCertificate ReadCert(const storage::SqlStatement& s) {
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

absl::StatusOr<std::vector<LedgerCertificate>> ReadCerts(storage::SqlStatement& s, absl::string_view what) {
  std::vector<LedgerCertificate> out;
  while (true) {
    absl::StatusOr<bool> row = s.Step();
    if (!row.ok()) return LedgerError(row.status(), what);
    if (!*row) return out;
    out.push_back(ReadCert(s));
  }
}

}  // namespace

// Prepares `sql` on the ledger's connection as `name`, or returns the error.
#define REFX_LEDGER_PREPARE(name, sql, what)                                          \
  absl::StatusOr<std::unique_ptr<storage::SqlStatement>> name##_prepared = conn_->Prepare(sql); \
  if (!name##_prepared.ok()) return LedgerError(name##_prepared.status(), what);      \
  storage::SqlStatement* name = name##_prepared->get()

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
  absl::StatusOr<std::unique_ptr<storage::sqlite::Connection>> conn =
      storage::sqlite::Connection::Open(path, /*read_only=*/false);
  if (!conn.ok()) return LedgerError(conn.status(), "open");
  std::unique_ptr<IssuanceLedger> ledger(new IssuanceLedger(*std::move(conn)));
  if (create) {
    storage::SqlConnection* c = ledger->conn_.get();
    absl::Status status = InTransaction(c, [&]() -> absl::Status {
      for (const char* sql : kSchema) {
        if (absl::Status s = c->Exec(sql); !s.ok()) return LedgerError(s, "create schema");
      }
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    chmod(path.c_str(), 0600);
  }
  return ledger;
}

IssuanceLedger::IssuanceLedger(std::unique_ptr<storage::SqlConnection> conn) : conn_(std::move(conn)) {}
IssuanceLedger::~IssuanceLedger() = default;

absl::Status IssuanceLedger::SetMeta(const std::string& key, const std::string& value) {
  REFX_LEDGER_PREPARE(set, kSetMeta, "set " + key);
  return LedgerError(set->Bind(":key", key).Bind(":value", value).Run(), "set " + key);
}

absl::StatusOr<std::string> IssuanceLedger::GetMeta(const std::string& key) const {
  REFX_LEDGER_PREPARE(get, kGetMeta, "read " + key);
  absl::StatusOr<bool> row = get->Bind(":key", key).Step();
  if (!row.ok()) return LedgerError(row.status(), "read " + key);
  if (!*row) return absl::NotFoundError(absl::StrCat("ledger has no ", key));
  return get->Text(0);
}

absl::Status IssuanceLedger::AppendActionLocked(const std::string& operator_name, const std::string& action,
                                                const std::string& details, absl::Time now) {
  std::string prev_hash = kGenesisHash;
  int64_t seq = 1;
  {
    REFX_LEDGER_PREPARE(last, kLastAction, "read action log");
    absl::StatusOr<bool> row = last->Step();
    if (!row.ok()) return LedgerError(row.status(), "read action log");
    if (*row) {
      seq = last->Int(0) + 1;
      prev_hash = last->Text(1);
    }
  }
  const int64_t at = absl::ToUnixSeconds(now);
  REFX_LEDGER_PREPARE(insert, kInsertAction, "append action");
  return LedgerError(insert->Bind(":seq", seq)
                         .Bind(":at", at)
                         .Bind(":operator", operator_name)
                         .Bind(":action", action)
                         .Bind(":details", details)
                         .Bind(":prev_hash", prev_hash)
                         .Bind(":hash", ActionHash(prev_hash, seq, at, operator_name, action, details))
                         .Run(),
                     "append action");
}

absl::Status IssuanceLedger::AppendAction(const std::string& operator_name, const std::string& action,
                                          const std::string& details, absl::Time now) {
  return InTransaction(conn_.get(), [&] { return AppendActionLocked(operator_name, action, details, now); });
}

absl::Status IssuanceLedger::RecordIssued(const LedgerCertificate& c, const std::string& action,
                                          const std::string& details, absl::Time now) {
  return InTransaction(conn_.get(), [&]() -> absl::Status {
    REFX_LEDGER_PREPARE(insert, kInsertCertificate, "record certificate");
    absl::Status status = insert->Bind(":serial", c.serial_hex)
                              .Bind(":kind", c.kind)
                              .Bind(":subject_id", c.subject_id)
                              .Bind(":subject", c.subject)
                              .Bind(":fingerprint", c.sha256_fingerprint)
                              .Bind(":not_before", absl::ToUnixSeconds(c.not_before))
                              .Bind(":not_after", absl::ToUnixSeconds(c.not_after))
                              .Bind(":issued_at", absl::ToUnixSeconds(c.issued_at))
                              .Bind(":operator", c.operator_name)
                              .Bind(":csr_sha256", c.csr_sha256)
                              .Bind(":pem", c.pem)
                              .Run();
    if (!status.ok()) return LedgerError(status, "record certificate");
    return AppendActionLocked(c.operator_name, action, details, now);
  });
}

absl::Status IssuanceLedger::MarkRevoked(const std::vector<std::string>& serials, const std::string& reason,
                                         const std::string& operator_name, absl::Time now) {
  if (serials.empty()) return absl::InvalidArgumentError("nothing to revoke");
  return InTransaction(conn_.get(), [&]() -> absl::Status {
    for (const std::string& serial : serials) {
      {
        REFX_LEDGER_PREPARE(find, kCertificateStatus, "find serial");
        absl::StatusOr<bool> row = find->Bind(":serial", serial).Step();
        if (!row.ok()) return LedgerError(row.status(), "find serial");
        if (!*row) return absl::NotFoundError(absl::StrCat("serial ", serial, " is not in the ledger"));
        if (find->Text(0) == "revoked") {
          return absl::FailedPreconditionError(absl::StrCat("serial ", serial, " is already revoked"));
        }
      }
      REFX_LEDGER_PREPARE(revoke, kRevoke, "revoke");
      absl::Status s =
          revoke->Bind(":at", absl::ToUnixSeconds(now)).Bind(":reason", reason).Bind(":serial", serial).Run();
      if (!s.ok()) return LedgerError(s, "revoke");
    }
    const std::string details = absl::StrCat("serials=", absl::StrJoin(serials, ","), " reason=", reason);
    if (absl::Status s = SetPendingLocked("revoke " + details); !s.ok()) return s;
    return AppendActionLocked(operator_name, "revoke", details, now);
  });
}

absl::StatusOr<LedgerCertificate> IssuanceLedger::Find(const std::string& serial_hex) const {
  REFX_LEDGER_PREPARE(find, kFindCertificate, "find");
  absl::StatusOr<bool> row = find->Bind(":serial", serial_hex).Step();
  if (!row.ok()) return LedgerError(row.status(), "find");
  if (!*row) return absl::NotFoundError(absl::StrCat("serial ", serial_hex, " is not in the ledger"));
  return ReadCert(*find);
}

absl::StatusOr<std::vector<LedgerCertificate>> IssuanceLedger::List(const std::string& subject_id,
                                                                    const std::string& kind) const {
  REFX_LEDGER_PREPARE(list, kListCertificates, "list");
  list->Bind(":subject_id", subject_id).Bind(":kind", kind);
  return ReadCerts(*list, "list");
}

absl::StatusOr<std::vector<LedgerCertificate>> IssuanceLedger::Revoked() const {
  REFX_LEDGER_PREPARE(list, kRevokedCertificates, "list revoked");
  return ReadCerts(*list, "list revoked");
}

absl::StatusOr<PublicationState> IssuanceLedger::Publication() const {
  REFX_LEDGER_PREPARE(read, kPublication, "read publication state");
  absl::StatusOr<bool> row = read->Step();
  if (!row.ok()) return LedgerError(row.status(), "read publication state");
  if (!*row) return absl::InternalError("ledger: publication state is missing");
  PublicationState state;
  state.pending = read->Int(0) != 0;
  state.pending_reason = read->Text(1);
  state.next_sequence = read->Int(2);
  if (!read->IsNull(3)) state.last_published = absl::FromUnixSeconds(read->Int(3));
  return state;
}

absl::Status IssuanceLedger::SetPendingLocked(const std::string& reason) {
  REFX_LEDGER_PREPARE(pending, kSetPending, "mark publication pending");
  return LedgerError(pending->Bind(":reason", reason).Run(), "mark publication pending");
}

absl::Status IssuanceLedger::SetPending(const std::string& reason) { return SetPendingLocked(reason); }

absl::Status IssuanceLedger::CompletePublication(int64_t sequence, const std::string& operator_name,
                                                 const std::string& details, absl::Time now) {
  return InTransaction(conn_.get(), [&]() -> absl::Status {
    REFX_LEDGER_PREPARE(complete, kCompletePublication, "complete publication");
    absl::Status s = complete->Bind(":next", sequence + 1).Bind(":at", absl::ToUnixSeconds(now)).Run();
    if (!s.ok()) return LedgerError(s, "complete publication");
    return AppendActionLocked(operator_name, "publish", details, now);
  });
}

absl::StatusOr<std::vector<ActionLogEntry>> IssuanceLedger::Actions() const {
  REFX_LEDGER_PREPARE(read, kActions, "read action log");
  std::vector<ActionLogEntry> out;
  while (true) {
    absl::StatusOr<bool> row = read->Step();
    if (!row.ok()) return LedgerError(row.status(), "read action log");
    if (!*row) break;
    out.push_back({read->Int(0), absl::FromUnixSeconds(read->Int(1)), read->Text(2), read->Text(3),
                   read->Text(4), read->Text(5), read->Text(6)});
  }
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
