#include "storage/sqlite/sqlite_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <filesystem>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/json_text.h"
#include "common/log.h"
#include "common/signing.h"
#include "common/status_macros.h"
#include "storage/sqlite/sqlite_statements.h"

namespace refx::storage::sqlite {
namespace {

// A JSON array of strings for json_each(); values are escaped, and the text
// is bound as a parameter, never spliced into SQL.
std::string JsonArray(const std::vector<std::string>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) absl::StrAppend(&out, i > 0 ? "," : "", JsonQuote(values[i]));
  return out + "]";
}

std::string JsonArray(const std::vector<int32_t>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) absl::StrAppend(&out, i > 0 ? "," : "", values[i]);
  return out + "]";
}

// Runs a statement that returns no rows through the connection's cache of
// prepared statements: the writer runs SAVEPOINT/RELEASE around every write,
// and sqlite3_exec would parse and compile them each time on the one
// writer thread.
absl::Status RunPrepared(Connection* conn, const char* sql) {
  REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql));
  return stmt->Run();
}

// Reads the referral columns in kSelectReferral / kListReferrals order.
StoredReferral ReadReferralRow(const Statement& row) {
  StoredReferral r;
  r.id = row.Text(0);
  r.sender_agency = row.Text(1);
  r.state = static_cast<int32_t>(row.Int(2));
  r.area = row.Text(3);
  r.report_type = static_cast<int32_t>(row.Int(4));
  r.create_time = absl::FromUnixMicros(row.Int(5));
  r.update_time = absl::FromUnixMicros(row.Int(6));
  r.etag = row.Text(7);
  r.document = row.Text(8);
  if (!row.IsNull(9)) r.response_deadline = absl::FromUnixMicros(row.Int(9));
  return r;
}

// Fills the recipients and strands of `r` from their tables.
absl::Status ReadChildren(Connection* conn, StoredReferral* r) {
  {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql::kSelectRecipients));
    stmt->Bind(":referral_id", r->id);
    while (true) {
      REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      r->recipient_agencies.push_back(stmt->Text(0));
    }
  }
  REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql::kSelectStrands));
  stmt->Bind(":referral_id", r->id);
  while (true) {
    REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    r->strands.push_back(stmt->Text(0));
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::optional<StoredReferral>> SelectReferral(Connection* conn, absl::string_view id) {
  StoredReferral r;
  {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql::kSelectReferral));
    stmt->Bind(":id", id);
    REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) return absl::optional<StoredReferral>();
    r = ReadReferralRow(*stmt);
  }
  REFX_RETURN_IF_ERROR(ReadChildren(conn, &r));
  return absl::optional<StoredReferral>(std::move(r));
}

AuditRecord ReadAuditRow(const Statement& row) {
  AuditRecord r;
  r.sequence = row.Int(0);
  r.time = absl::FromUnixMicros(row.Int(1));
  r.action = row.Text(2);
  r.method = row.Text(3);
  r.agency_id = row.Text(4);
  r.certificate_serial = row.Text(5);
  r.acting_user_hmac = row.Text(6);
  r.purpose = row.Text(7);
  r.referral_ids = row.Text(8);
  r.data_classes = row.Text(9);
  r.outcome = row.Text(10);
  r.agreement = row.Text(11);
  r.previous_hash = row.Text(12);
  r.hash = row.Text(13);
  r.derived = row.Text(14);
  r.reason = row.Text(15);
  r.count = row.Int(16);
  return r;
}

absl::optional<int64_t> DeadlineMicros(const StoredReferral& r) {
  if (!r.response_deadline.has_value()) return absl::nullopt;
  return absl::ToUnixMicros(*r.response_deadline);
}

absl::Status InsertReferral(Connection* conn, const StoredReferral& r) {
  const int64_t create_us = absl::ToUnixMicros(r.create_time);
  {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql::kInsertReferral));
    stmt->Bind(":id", r.id)
        .Bind(":sender_agency", r.sender_agency)
        .Bind(":state", int64_t{r.state})
        .Bind(":area", r.area)
        .Bind(":report_type", int64_t{r.report_type})
        .Bind(":create_time_us", create_us)
        .Bind(":update_time_us", absl::ToUnixMicros(r.update_time))
        .Bind(":response_deadline_us", DeadlineMicros(r))
        .Bind(":etag", r.etag)
        .BindBlob(":document", r.document);
    REFX_RETURN_IF_ERROR(stmt->Run());
  }
  auto add_party = [&](const std::string& agency, const char* role) -> absl::Status {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql::kInsertParty));
    stmt->Bind(":agency_id", agency)
        .Bind(":referral_id", r.id)
        .Bind(":party_role", role)
        .Bind(":create_time_us", create_us);
    return stmt->Run();
  };
  REFX_RETURN_IF_ERROR(add_party(r.sender_agency, "sender"));
  for (const std::string& recipient : r.recipient_agencies) {
    REFX_RETURN_IF_ERROR(add_party(recipient, "recipient"));
  }
  for (const std::string& strand : r.strands) {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql::kInsertStrand));
    stmt->Bind(":referral_id", r.id).Bind(":strand", strand);
    REFX_RETURN_IF_ERROR(stmt->Run());
  }
  return absl::OkStatus();
}

// The head row as stored, if there is one.
absl::StatusOr<absl::optional<AuditHead>> ReadAuditHeadRow(Connection* conn) {
  REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql::kSelectAuditHead));
  REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (!row) return absl::optional<AuditHead>();
  AuditHead head;
  head.sequence = stmt->Int(0);
  head.hash = stmt->Text(1);
  if (!stmt->IsNull(2)) head.signature = stmt->Text(2);
  return absl::optional<AuditHead>(std::move(head));
}

// The head as stored; the genesis (sequence 0) when no row records one.
absl::StatusOr<AuditHead> ReadAuditHead(Connection* conn) {
  REFX_ASSIGN_OR_RETURN(auto row, ReadAuditHeadRow(conn));
  if (row.has_value()) return *std::move(row);
  AuditHead genesis;
  genesis.hash = GenesisHash();
  return genesis;
}

absl::StatusOr<AuditChainReport> VerifyAuditChainOn(Connection* conn, const VerifyingKey* key,
                                                    const AuditHead* checkpoint) {
  auto run = [&]() -> absl::StatusOr<AuditChainReport> {
    // One read transaction: every page and the head from one snapshot.
    REFX_RETURN_IF_ERROR(conn->Exec("BEGIN"));
    AuditChainReport report;
    std::string previous = GenesisHash();
    int64_t expected = 1;
    auto fail = [&](int64_t sequence, std::string problem) {
      report.intact = false;
      report.first_bad_sequence = sequence;
      report.problem = std::move(problem);
    };
    if (checkpoint != nullptr && key != nullptr &&
        !key->Verify(AuditHeadMessage(checkpoint->sequence, checkpoint->hash), checkpoint->signature)) {
      fail(checkpoint->sequence, "the checkpoint is not signed by this audit signing key (forged, or another key)");
      return report;
    }
    AuditQuery page;
    page.limit = 1000;
    while (report.intact) {
      std::vector<AuditRecord> events;
      {
        REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql::kListAudit));
        stmt->Bind(":after", page.after_sequence).Bind(":agency_id", "").Bind(":action", "")
            .Bind(":referral_id", "").Bind(":has_from", int64_t{0}).Bind(":from_us", int64_t{0})
            .Bind(":has_to", int64_t{0}).Bind(":to_us", int64_t{0}).Bind(":limit", int64_t{page.limit});
        while (true) {
          REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
          if (!row) break;
          events.push_back(ReadAuditRow(*stmt));
        }
      }
      if (events.empty()) break;
      for (const AuditRecord& e : events) {
        if (e.sequence != expected) {
          fail(expected, absl::StrCat("event ", expected, " is missing (next is ", e.sequence, ")"));
          break;
        }
        if (e.previous_hash != previous) {
          fail(e.sequence, "does not link to the event before it (deleted, inserted or reordered)");
          break;
        }
        if (AuditHash(e, previous) != e.hash) {
          fail(e.sequence, "its contents do not match its hash (altered)");
          break;
        }
        if (checkpoint != nullptr && e.sequence == checkpoint->sequence && e.hash != checkpoint->hash) {
          fail(e.sequence, "differs from the checkpoint (the log was rewritten from here on)");
          break;
        }
        previous = e.hash;
        ++expected;
        ++report.events_checked;
      }
      page.after_sequence = events.back().sequence;
    }
    REFX_ASSIGN_OR_RETURN(auto head_row, ReadAuditHeadRow(conn));
    report.head = head_row.has_value() ? *head_row : AuditHead{0, GenesisHash(), ""};
    if (report.intact && (report.head.sequence != report.events_checked || report.head.hash != previous)) {
      fail(report.events_checked + 1,
           absl::StrCat("the chain ends at event ", report.events_checked, " but its recorded head is event ",
                        report.head.sequence, " (events removed from the end, or the head altered)"));
    }
    if (key != nullptr) {
      // Every head is signed, the empty log's (sequence 0) too: a log wiped
      // whole, head and all, is not an empty log.
      report.head_signature_verified =
          head_row.has_value() &&
          key->Verify(AuditHeadMessage(report.head.sequence, report.head.hash), report.head.signature);
      if (report.intact && !report.head_signature_verified) {
        fail(report.head.sequence,
             !head_row.has_value()      ? "no signed head is recorded (deleted with the log, or never signed)"
             : report.head.signature.empty()
                 ? "the recorded head is not signed (written without the audit signing key)"
                 : "the recorded head's signature does not verify with the audit signing key (the head was "
                   "rewritten, e.g. over a cut tail, or this is another server's key)");
      }
    }
    if (report.intact && checkpoint != nullptr && report.events_checked < checkpoint->sequence) {
      report.missing_events = checkpoint->sequence - report.events_checked;
      fail(report.events_checked + 1,
           absl::StrCat("the log ends at event ", report.events_checked, " but the checkpoint records event ",
                        checkpoint->sequence, ": ", report.missing_events,
                        " events are missing (the log was truncated, or an older copy of the database restored)"));
    }
    return report;
  };
  auto result = run();
  conn->Exec("COMMIT").IgnoreError();
  return result;
}

}  // namespace

namespace {

// An earlier change under (agency, request id), for a replay: ALREADY_EXISTS
// if it was a different request. Shared by every change keyed that way.
absl::StatusOr<absl::optional<UpdateReplay>> FindReplay(Connection* conn, const std::string& agency_id,
                                                        const std::string& request_id,
                                                        const std::string& fingerprint) {
  REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql::kSelectUpdateRequest));
  stmt->Bind(":agency_id", agency_id).Bind(":request_id", request_id);
  REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (!row) return absl::optional<UpdateReplay>();
  if (stmt->Text(0) != fingerprint) {
    return absl::AlreadyExistsError("request_id was already used with a different request");
  }
  return absl::optional<UpdateReplay>(UpdateReplay{stmt->Text(0), stmt->Text(1), stmt->Text(2)});
}

// Compared inside the writer's transaction: of two changes made from the
// same etag exactly one applies.
absl::Status CheckEtag(Connection* conn, const std::string& id, const std::string& expected) {
  REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql::kSelectReferralEtag));
  stmt->Bind(":id", id);
  REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (!row) return absl::NotFoundError("referral not found");
  if (stmt->Text(0) != expected) {
    return absl::AbortedError("the referral changed since it was read; re-read it and try again");
  }
  return absl::OkStatus();
}

// Writes a changed referral's row and the redirect marks on its parties:
// every path that changes a referral goes through here, so no column is
// forgotten on one of them.
absl::Status WriteReferralChange(Connection* conn, const StoredReferral& r) {
  REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql::kUpdateReferral));
  stmt->Bind(":id", r.id)
      .Bind(":state", int64_t{r.state})
      .Bind(":update_time_us", absl::ToUnixMicros(r.update_time))
      .Bind(":response_deadline_us", DeadlineMicros(r))
      .Bind(":etag", r.etag)
      .BindBlob(":document", r.document);
  REFX_RETURN_IF_ERROR(stmt->Run());
  if (r.redirected_agencies.empty()) return absl::OkStatus();
  // Parties that passed it on stay parties (they may read it) but owe no
  // response any more.
  REFX_ASSIGN_OR_RETURN(auto marked, conn->Prepare(sql::kMarkRedirected));
  marked->Bind(":referral_id", r.id).Bind(":agencies", JsonArray(r.redirected_agencies));
  return marked->Run();
}

// The idempotency row of a change keyed by (agency, request id), with the
// document a retry gets back.
absl::Status RecordRequestKey(Connection* conn, const std::string& agency_id, const std::string& request_id,
                              const std::string& fingerprint, const std::string& referral_id,
                              const std::string& document) {
  REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql::kInsertUpdateRequest));
  stmt->Bind(":agency_id", agency_id)
      .Bind(":request_id", request_id)
      .BindBlob(":fingerprint", fingerprint)
      .Bind(":referral_id", referral_id)
      .BindBlob(":document", document);
  return stmt->Run();
}

// Past the idempotency and etag checks, those codes would mean a bug.
absl::Status Internal(absl::Status s) {
  return absl::IsAlreadyExists(s) || absl::IsNotFound(s) || absl::IsAborted(s) ? absl::InternalError(s.message()) : s;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Create(const Options& options) {
  if (options.path.empty()) return absl::InvalidArgumentError("storage: sqlite_path is empty");
  if (options.max_batch_size < 1 || options.read_connections < 1) {
    return absl::InvalidArgumentError("storage: max_batch_size and read_connections must be >= 1");
  }
  auto store = std::unique_ptr<SqliteStore>(new SqliteStore(options));
  REFX_RETURN_IF_ERROR(store->Open());
  return store;
}

absl::Status SqliteStore::Open() {
  // Create the database's directory (owner-only: it will hold personal data).
  const std::filesystem::path parent = std::filesystem::path(options_.path).parent_path();
  if (!parent.empty() && !std::filesystem::exists(parent)) {
    std::error_code error;
    std::filesystem::create_directories(parent, error);
    if (!error) std::filesystem::permissions(parent, std::filesystem::perms::owner_all, error);
    if (error) {
      return absl::UnavailableError(
          absl::StrCat("cannot create database directory ", parent.string(), ": ", error.message()));
    }
  }
  REFX_RETURN_IF_ERROR(RestrictDatabaseFiles());
  REFX_ASSIGN_OR_RETURN(writer_conn_, Connection::Open(options_.path, /*read_only=*/false));
  REFX_RETURN_IF_ERROR(Migrate(writer_conn_.get()));
  {
    REFX_ASSIGN_OR_RETURN(auto head, ReadAuditHeadRow(writer_conn_.get()));
    audit_sequence_ = head.has_value() ? head->sequence : 0;
    audit_hash_ = head.has_value() ? head->hash : GenesisHash();
    REFX_RETURN_IF_ERROR(CheckHeadSignature(head));
  }
  REFX_RETURN_IF_ERROR(ReloadEventSequence(writer_conn_.get()));
  {
    absl::MutexLock lock(&readers_mu_);
    for (int i = 0; i < options_.read_connections; ++i) {
      REFX_ASSIGN_OR_RETURN(auto reader, Connection::Open(options_.path, /*read_only=*/true));
      readers_.push_back(std::move(reader));
    }
  }
  writer_thread_ = std::thread([this] { WriterLoop(); });
  return absl::OkStatus();
}

absl::Status SqliteStore::RestrictDatabaseFiles() {
  // The database holds victims' data: owner-only, whatever the umask. SQLite
  // gives its -wal and -shm files the database file's mode, so creating the
  // file 0600 before SQLite does covers all three; files found wider (an
  // earlier version, a copy) are narrowed.
  if (::access(options_.path.c_str(), F_OK) != 0) {
    const int fd = ::open(options_.path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST) {
      return absl::UnavailableError(absl::StrCat("cannot create database ", options_.path, ": ", std::strerror(errno)));
    }
    if (fd >= 0) {
      const int changed = ::fchmod(fd, 0600);  // open() applied the umask; 0600 is narrower than any
      ::close(fd);
      if (changed != 0) return absl::UnavailableError(absl::StrCat("cannot restrict database ", options_.path));
    }
  }
  for (const char* suffix : {"", "-wal", "-shm"}) {
    const std::string file = options_.path + suffix;
    struct stat info;
    if (::stat(file.c_str(), &info) != 0 || (info.st_mode & 077) == 0) continue;
    if (::chmod(file.c_str(), 0600) != 0) {
      return absl::UnavailableError(absl::StrCat("cannot restrict ", file, " to its owner: ", std::strerror(errno)));
    }
    log::Warning("database_file_restricted", {{"file", file}});
  }
  return absl::OkStatus();
}

void SqliteStore::BindHeadSignature(Statement* statement) const {
  if (options_.audit_head_key.has_value()) {
    statement->BindBlob(":signature", options_.audit_head_key->Sign(AuditHeadMessage(audit_sequence_, audit_hash_)));
  } else {
    statement->Bind(":signature", absl::optional<int64_t>());
  }
}

absl::Status SqliteStore::CheckHeadSignature(const absl::optional<AuditHead>& head) {
  if (!options_.audit_head_key.has_value()) return absl::OkStatus();
  const VerifyingKey key = options_.audit_head_key->Public();
  auto sign_now = [&](const char* event) -> absl::Status {
    REFX_ASSIGN_OR_RETURN(auto stmt, writer_conn_->Prepare(sql::kUpsertAuditHead));
    stmt->Bind(":sequence", audit_sequence_).BindBlob(":hash", audit_hash_);
    BindHeadSignature(stmt.get());
    REFX_RETURN_IF_ERROR(stmt->Run());
    log::Info(event, {{"sequence", absl::StrCat(audit_sequence_)}, {"key_id", key.KeyId()}});
    return absl::OkStatus();
  };
  // A database that had no signed heads before this open: created now, or
  // from before heads were signed (schema 9), met by a key made for it.
  const bool before_signing = schema_version_at_open_ == 0 ||
                              (schema_version_at_open_ < 9 && options_.adopt_unsigned_head);
  if (head.has_value() && !head->signature.empty()) {
    if (key.Verify(AuditHeadMessage(head->sequence, head->hash), head->signature)) return absl::OkStatus();
    // Audit state that cannot be vouched for is not carried on (fail closed).
    return absl::FailedPreconditionError(absl::StrCat(
        "database ", options_.path, ": the audit chain's head is not signed by the configured audit signing key "
        "(the head was rewritten, or the key is not this database's); run `refx-admin audit verify` and restore "
        "the right key or database"));
  }
  if (before_signing) return sign_now(head.has_value() ? "audit_head_signed" : "audit_head_created");
  return absl::FailedPreconditionError(absl::StrCat(
      "database ", options_.path, ": the audit chain's head is ",
      head.has_value() ? "not signed" : "missing",
      ", though heads are signed since schema 9 (removed with the log's tail?); run `refx-admin audit verify` "
      "against a checkpoint"));
}

absl::Status SqliteStore::Migrate(Connection* conn) {
  REFX_RETURN_IF_ERROR(conn->Exec(sql::kCreateMigrationsTable));
  {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql::kSelectSchemaVersion));
    REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
    schema_version_ = row ? static_cast<int>(stmt->Int(0)) : 0;
    schema_version_at_open_ = schema_version_;
  }
  const auto& migrations = Migrations();
  const int latest = migrations.empty() ? 0 : migrations.back().version;
  if (schema_version_ > latest) {
    return absl::FailedPreconditionError(absl::StrCat(
        "database ", options_.path, " has schema version ", schema_version_,
        ", newer than this binary understands (", latest, "); use a newer refx-server"));
  }
  for (const Migration& m : migrations) {
    if (m.version <= schema_version_) continue;
    REFX_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn));
    REFX_RETURN_IF_ERROR(conn->Exec(m.sql));
    {
      REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql::kRecordMigration));
      stmt->Bind(":version", int64_t{m.version}).Bind(":name", m.name).Bind(":applied_time_us", absl::ToUnixMicros(absl::Now()));
      REFX_RETURN_IF_ERROR(stmt->Run());
    }
    REFX_RETURN_IF_ERROR(txn.Commit());
    schema_version_ = m.version;
    log::Info("storage_migrated", {{"version", absl::StrCat(m.version)}, {"name", m.name}});
  }
  return absl::OkStatus();
}

SqliteStore::~SqliteStore() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (writer_thread_.joinable()) writer_thread_.join();
}

absl::Status SqliteStore::Submit(std::function<absl::Status(Connection*)> apply) {
  Write write;
  write.apply = std::move(apply);
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::UnavailableError("storage is shutting down");
  queue_.push_back(&write);
  mu_.Await(absl::Condition(+[](Write* w) { return w->done; }, &write));
  return write.result;
}

void SqliteStore::SubmitAsync(std::function<absl::Status(Connection*)> apply,
                              std::function<void(absl::Status)> done) {
  auto* write = new Write;
  write->apply = std::move(apply);
  write->on_done = std::move(done);
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      queue_.push_back(write);
      return;
    }
  }
  write->on_done(absl::UnavailableError("storage is shutting down"));
  delete write;
}

absl::Status SqliteStore::ReloadEventSequence(Connection* conn) {
  REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql::kSelectLatestEvent));
  REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
  event_sequence_ = row ? stmt->Int(0) : 0;
  return absl::OkStatus();
}

void SqliteStore::WriterLoop() {
  Connection* conn = writer_conn_.get();
  while (true) {
    std::vector<Write*> batch;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](SqliteStore* s) ABSL_NO_THREAD_SAFETY_ANALYSIS { return s->stopping_ || !s->queue_.empty(); },
          this));
      if (queue_.empty()) return;  // stopping, and every queued write is answered
      while (!queue_.empty() && static_cast<int>(batch.size()) < options_.max_batch_size) {
        batch.push_back(queue_.front());
        queue_.pop_front();
      }
    }
    absl::Status txn_status;
    const int64_t event_sequence_at_start = event_sequence_;
    auto txn = Transaction::Begin(conn);
    if (!txn.ok()) {
      txn_status = txn.status();
    } else {
      const int64_t batch_audit_start = audit_sequence_;
      for (Write* w : batch) {
        // A savepoint per write: a failed write is undone alone, audit
        // chain position included.
        const int64_t sequence_before = audit_sequence_;
        const std::string hash_before = audit_hash_;
        const int64_t event_sequence_before = event_sequence_;
        const size_t events_before = batch_events_.size();
        w->result = RunPrepared(conn, "SAVEPOINT write");
        if (w->result.ok()) w->result = w->apply(conn);
        if (w->result.ok()) {
          w->result = RunPrepared(conn, "RELEASE write");
        } else {
          RunPrepared(conn, "ROLLBACK TO write").IgnoreError();
          RunPrepared(conn, "RELEASE write").IgnoreError();
          audit_sequence_ = sequence_before;
          audit_hash_ = hash_before;
          event_sequence_ = event_sequence_before;
          batch_events_.resize(events_before);
        }
      }
      // The chain's head, once per batch, in the batch's transaction: a
      // deleted tail still no longer matches it.
      if (audit_sequence_ != batch_audit_start) {
        auto head = conn->Prepare(sql::kUpsertAuditHead);
        txn_status = head.status();
        if (head.ok()) {
          (*head)->Bind(":sequence", audit_sequence_).BindBlob(":hash", audit_hash_);
          BindHeadSignature(head->get());
          txn_status = (*head)->Run();
        }
      }
      if (txn_status.ok()) txn_status = txn->Commit();
    }
    if (!txn_status.ok()) {
      // Nothing of the batch is on disk: the chain continues from its
      // committed head, re-read so memory and disk cannot disagree.
      audit_sequence_ = 0;
      audit_hash_ = GenesisHash();
      auto head = ReadAuditHead(conn);
      if (head.ok()) {
        audit_sequence_ = head->sequence;
        audit_hash_ = head->hash;
      }
      batch_events_.clear();
      // Nothing of the batch is on disk, so the log's head is where the
      // batch found it (re-read when possible, so memory follows disk).
      event_sequence_ = event_sequence_at_start;
      ReloadEventSequence(conn).IgnoreError();
    }
    if (!txn_status.ok()) {
      log::Error("storage_commit_failed", {{"code", absl::StatusCodeToString(txn_status.code())},
                                           {"writes", absl::StrCat(batch.size())}});
    }
    // Watchers hear of committed events before any writer is answered, so
    // a change acknowledged to its maker is already on its way to them.
    if (!batch_events_.empty()) {
      absl::MutexLock lock(&listener_mu_);
      if (listener_) listener_(batch_events_);
      batch_events_.clear();
    }
    std::vector<Write*> detached;
    {
      absl::MutexLock lock(&mu_);
      if (txn_status.ok()) ++commits_;
      for (Write* w : batch) {
        // Nothing in a batch is acknowledged unless the COMMIT itself succeeded.
        if (!txn_status.ok()) w->result = absl::UnavailableError("storage commit failed; nothing was written");
        if (w->on_done) {
          detached.push_back(w);
        } else {
          w->done = true;  // the waiting caller owns `w`: not touched after this
        }
      }
    }
    for (Write* w : detached) {
      w->on_done(w->result);
      delete w;
    }
  }
}

void SqliteStore::SetEventListener(EventListener listener) {
  absl::MutexLock lock(&listener_mu_);
  listener_ = std::move(listener);
}

absl::Status SqliteStore::AppendEvent(Connection* conn, ReferralEvent event) {
  event.sequence = event_sequence_ + 1;
  {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql::kInsertEvent));
    stmt->Bind(":sequence", event.sequence)
        .Bind(":time_us", absl::ToUnixMicros(event.time))
        .Bind(":kind", int64_t{event.kind})
        .Bind(":referral_id", event.referral_id)
        .BindBlob(":referral_document", event.referral_document)
        .BindBlob(":update_document", event.update_document);
    REFX_RETURN_IF_ERROR(stmt->Run());
  }
  for (const std::string& agency : event.audience) {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql::kInsertEventAudience));
    stmt->Bind(":agency_id", agency).Bind(":sequence", event.sequence);
    REFX_RETURN_IF_ERROR(stmt->Run());
  }
  event_sequence_ = event.sequence;
  batch_events_.push_back(std::move(event));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ReferralEvent>> SqliteStore::ListEvents(const EventQuery& query) {
  auto conn = AcquireReader();
  auto run = [&]() -> absl::StatusOr<std::vector<ReferralEvent>> {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql::kListEvents));
    stmt->Bind(":agency_id", query.agency_id).Bind(":after", query.after_sequence).Bind(":limit", int64_t{query.limit});
    std::vector<ReferralEvent> out;
    while (true) {
      REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      ReferralEvent e;
      e.sequence = stmt->Int(0);
      e.time = absl::FromUnixMicros(stmt->Int(1));
      e.kind = static_cast<int32_t>(stmt->Int(2));
      e.referral_id = stmt->Text(3);
      e.referral_document = stmt->Text(4);
      e.update_document = stmt->Text(5);
      e.audience = {query.agency_id};
      out.push_back(std::move(e));
    }
    return out;
  };
  auto result = run();
  ReleaseReader(std::move(conn));
  return result;
}

absl::StatusOr<bool> SqliteStore::HasVictimTokens() {
  auto conn = AcquireReader();
  auto run = [&]() -> absl::StatusOr<bool> {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql::kAnyVictimToken));
    REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
    return row && stmt->Int(0) != 0;
  };
  auto result = run();
  ReleaseReader(std::move(conn));
  return result;
}

absl::StatusOr<AuditHead> SqliteStore::AuditChainHead() {
  auto conn = AcquireReader();
  auto head = ReadAuditHead(conn.get());
  ReleaseReader(std::move(conn));
  return head;
}

absl::StatusOr<int64_t> SqliteStore::LatestEventSequence() {
  auto conn = AcquireReader();
  auto run = [&]() -> absl::StatusOr<int64_t> {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql::kSelectLatestEvent));
    REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
    return row ? stmt->Int(0) : int64_t{0};
  };
  auto result = run();
  ReleaseReader(std::move(conn));
  return result;
}

int64_t SqliteStore::commits() const {
  absl::MutexLock lock(&mu_);
  return commits_;
}

absl::Status SqliteStore::AppendAudit(Connection* conn, AuditRecord record) {
  record.sequence = audit_sequence_ + 1;
  record.previous_hash = audit_hash_;
  record.hash = AuditHash(record, record.previous_hash);
  {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql::kInsertAudit));
    stmt->Bind(":sequence", record.sequence)
        .Bind(":time_us", absl::ToUnixMicros(record.time))
        .Bind(":action", record.action)
        .Bind(":method", record.method)
        .Bind(":agency_id", record.agency_id)
        .Bind(":certificate_serial", record.certificate_serial)
        .Bind(":acting_user_hmac", record.acting_user_hmac)
        .Bind(":purpose", record.purpose)
        .Bind(":referral_ids", record.referral_ids)
        .Bind(":data_classes", record.data_classes)
        .Bind(":outcome", record.outcome)
        .Bind(":agreement", record.agreement)
        .BindBlob(":previous_hash", record.previous_hash)
        .BindBlob(":hash", record.hash)
        .Bind(":derived", record.derived)
        .Bind(":reason", record.reason)
        .Bind(":event_count", record.count);
    REFX_RETURN_IF_ERROR(stmt->Run());
  }
  audit_sequence_ = record.sequence;
  audit_hash_ = record.hash;
  return absl::OkStatus();
}

absl::Status SqliteStore::RecordAudit(const AuditRecord& record) {
  return Submit([&](Connection* conn) { return AppendAudit(conn, record); });
}

void SqliteStore::RecordAuditAsync(const AuditRecord& record, std::function<void(absl::Status)> done) {
  SubmitAsync([this, record](Connection* conn) { return AppendAudit(conn, record); }, std::move(done));
}

absl::StatusOr<std::vector<AuditRecord>> SqliteStore::ListAuditEvents(const AuditQuery& query) {
  auto conn = AcquireReader();
  auto run = [&]() -> absl::StatusOr<std::vector<AuditRecord>> {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql::kListAudit));
    stmt->Bind(":after", query.after_sequence)
        .Bind(":agency_id", query.agency_id)
        .Bind(":action", query.action)
        .Bind(":referral_id", query.referral_id)
        .Bind(":has_from", int64_t{query.from.has_value()})
        .Bind(":from_us", query.from ? absl::ToUnixMicros(*query.from) : 0)
        .Bind(":has_to", int64_t{query.to.has_value()})
        .Bind(":to_us", query.to ? absl::ToUnixMicros(*query.to) : 0)
        .Bind(":limit", int64_t{query.limit});
    std::vector<AuditRecord> out;
    while (true) {
      REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      out.push_back(ReadAuditRow(*stmt));
    }
    return out;
  };
  auto result = run();
  ReleaseReader(std::move(conn));
  return result;
}

absl::StatusOr<AuditChainReport> SqliteStore::VerifyAuditChain(const AuditHead* checkpoint) {
  auto conn = AcquireReader();
  absl::optional<VerifyingKey> key;
  if (options_.audit_head_key.has_value()) key = options_.audit_head_key->Public();
  auto result = VerifyAuditChainOn(conn.get(), key.has_value() ? &*key : nullptr, checkpoint);
  ReleaseReader(std::move(conn));
  return result;
}

absl::StatusOr<AuditChainReport> VerifyAuditChainInFile(const std::string& path, const VerifyingKey* key,
                                                        const AuditHead* checkpoint) {
  if (::access(path.c_str(), R_OK) != 0) return absl::NotFoundError(absl::StrCat("cannot read database ", path));
  REFX_ASSIGN_OR_RETURN(auto conn, Connection::Open(path, /*read_only=*/true));
  return VerifyAuditChainOn(conn.get(), key, checkpoint);
}

absl::StatusOr<CreateReferralResult> SqliteStore::CreateReferral(const CreateReferralRequest& request) {
  CreateReferralResult result;
  absl::Status status = Submit([&](Connection* conn) -> absl::Status {
    {
      REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql::kSelectCreateRequest));
      stmt->Bind(":sender_agency", request.referral.sender_agency).Bind(":request_id", request.request_id);
      REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (row) {
        if (stmt->Text(0) != request.request_fingerprint) {
          return absl::AlreadyExistsError("request_id was already used with a different referral");
        }
        const std::string existing_id = stmt->Text(1);
        stmt.reset();
        REFX_ASSIGN_OR_RETURN(auto existing, SelectReferral(conn, existing_id));
        if (!existing.has_value()) return absl::InternalError("idempotency key names a missing referral");
        result.referral = std::move(*existing);
        result.replayed = true;
        return absl::OkStatus();
      }
    }
    // Past the explicit fingerprint check, ALREADY_EXISTS means only "request
    // id reused": any other constraint failure is an internal error, and a
    // failed audit append is the audit log being unwritable (retryable).
    auto internal = [](absl::Status s) {
      return absl::IsAlreadyExists(s) ? absl::InternalError(s.message()) : s;
    };
    StoredReferral referral = request.referral;
    AuditRecord audit = request.audit;
    if (request.complete) {
      int64_t earlier = 0;
      if (!request.victim_tokens.empty()) {
        REFX_ASSIGN_OR_RETURN(auto count, conn->Prepare(sql::kCountRepeatVictims));
        count->Bind(":tokens", JsonArray(request.victim_tokens))
            .Bind(":since_us", absl::ToUnixMicros(request.repeat_window_start))
            .Bind(":now_us", absl::ToUnixMicros(referral.create_time))
            .Bind(":referral_id", referral.id);
        REFX_ASSIGN_OR_RETURN(bool row, count->Step());
        if (row) earlier = count->Int(0);
      }
      request.complete(earlier, &referral, &audit);
    }
    absl::Status inserted = InsertReferral(conn, referral);
    if (!inserted.ok()) return internal(inserted);
    for (const std::string& token : request.victim_tokens) {
      REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql::kInsertVictimToken));
      stmt->Bind(":token", token)
          .Bind(":referral_id", referral.id)
          .Bind(":create_time_us", absl::ToUnixMicros(referral.create_time));
      absl::Status stored = stmt->Run();
      if (!stored.ok()) return internal(stored);
    }
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql::kInsertCreateRequest));
    stmt->Bind(":sender_agency", request.referral.sender_agency)
        .Bind(":request_id", request.request_id)
        .BindBlob(":fingerprint", request.request_fingerprint)
        .Bind(":referral_id", request.referral.id);
    absl::Status recorded = stmt->Run();
    if (!recorded.ok()) return internal(recorded);
    if (request.event.has_value()) {
      // The event carries the referral as stored: with its repeat count and
      // the etag that goes with it.
      ReferralEvent event = *request.event;
      event.referral_document = referral.document;
      absl::Status logged = AppendEvent(conn, event);
      if (!logged.ok()) return internal(logged);
    }
    result.referral = std::move(referral);
    result.replayed = false;
    audit.referral_ids = request.referral.id;
    absl::Status audited = AppendAudit(conn, std::move(audit));
    if (!audited.ok()) return absl::UnavailableError("the audit log cannot be written; nothing was stored");
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return result;
}

std::unique_ptr<Connection> SqliteStore::AcquireReader() {
  absl::MutexLock lock(&readers_mu_);
  readers_mu_.Await(absl::Condition(
      +[](std::vector<std::unique_ptr<Connection>>* v) { return !v->empty(); }, &readers_));
  auto conn = std::move(readers_.back());
  readers_.pop_back();
  return conn;
}

void SqliteStore::ReleaseReader(std::unique_ptr<Connection> conn) {
  absl::MutexLock lock(&readers_mu_);
  readers_.push_back(std::move(conn));
}

absl::StatusOr<StoredReferral> SqliteStore::GetReferral(absl::string_view id) {
  auto conn = AcquireReader();
  auto found = SelectReferral(conn.get(), id);
  ReleaseReader(std::move(conn));
  if (!found.ok()) return found.status();
  if (!found->has_value()) return absl::NotFoundError("referral not found");
  return std::move(**found);
}

absl::StatusOr<std::vector<StoredReferral>> SqliteStore::ListReferrals(const ListReferralsQuery& query) {
  auto conn = AcquireReader();
  auto run = [&]() -> absl::StatusOr<std::vector<StoredReferral>> {
    std::vector<StoredReferral> out;
    {
      REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql::kListReferrals));
      stmt->Bind(":agency_id", query.party_agency)
          .Bind(":cursor_time_us",
                query.after ? absl::ToUnixMicros(query.after->create_time) : std::numeric_limits<int64_t>::max())
          .Bind(":cursor_id", query.after ? query.after->id : std::string())
          .Bind(":has_from", int64_t{query.created_from.has_value()})
          .Bind(":from_us", query.created_from ? absl::ToUnixMicros(*query.created_from) : 0)
          .Bind(":has_to", int64_t{query.created_to.has_value()})
          .Bind(":to_us", query.created_to ? absl::ToUnixMicros(*query.created_to) : 0)
          .Bind(":has_deadline_before", int64_t{query.deadline_before.has_value()})
          .Bind(":deadline_before_us", query.deadline_before ? absl::ToUnixMicros(*query.deadline_before) : 0)
          .Bind(":must_respond", int64_t{query.party_must_respond})
          .Bind(":states", JsonArray(query.states))
          .Bind(":areas", JsonArray(query.areas))
          .Bind(":report_types", JsonArray(query.report_types))
          .Bind(":strands", JsonArray(query.strands))
          .Bind(":limit", int64_t{query.limit});
      while (true) {
        REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
        if (!row) break;
        out.push_back(ReadReferralRow(*stmt));
      }
    }
    for (StoredReferral& r : out) REFX_RETURN_IF_ERROR(ReadChildren(conn.get(), &r));
    return out;
  };
  auto result = run();
  ReleaseReader(std::move(conn));
  return result;
}

absl::Status SqliteStore::CheckHealth() {
  auto conn = AcquireReader();
  absl::Status s = conn->Exec("SELECT 1 FROM referrals LIMIT 1");
  ReleaseReader(std::move(conn));
  return s;
}

absl::StatusOr<absl::optional<UpdateReplay>> SqliteStore::FindUpdate(absl::string_view agency_id,
                                                                     absl::string_view request_id) {
  auto conn = AcquireReader();
  auto run = [&]() -> absl::StatusOr<absl::optional<UpdateReplay>> {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql::kSelectUpdateRequest));
    stmt->Bind(":agency_id", agency_id).Bind(":request_id", request_id);
    REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) return absl::optional<UpdateReplay>();
    return absl::optional<UpdateReplay>(UpdateReplay{stmt->Text(0), stmt->Text(1), stmt->Text(2)});
  };
  auto result = run();
  ReleaseReader(std::move(conn));
  return result;
}

absl::StatusOr<UpdateReferralResult> SqliteStore::UpdateReferral(const UpdateReferralRequest& request) {
  UpdateReferralResult result;
  absl::Status status = Submit([&](Connection* conn) -> absl::Status {
    // The idempotency key first: a retry's etag is stale by design.
    REFX_ASSIGN_OR_RETURN(auto replay, FindReplay(conn, request.agency_id, request.request_id,
                                                  request.request_fingerprint));
    if (replay.has_value()) {
      result.referral.id = replay->referral_id;
      result.referral.document = replay->document;
      result.replayed = true;
      return absl::OkStatus();
    }
    REFX_RETURN_IF_ERROR(CheckEtag(conn, request.referral.id, request.expected_etag));
    const StoredReferral& r = request.referral;
    if (absl::Status updated = WriteReferralChange(conn, r); !updated.ok()) return Internal(updated);
    for (const std::string& recipient : r.recipient_agencies) {
      REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql::kInsertPartyIfAbsent));
      stmt->Bind(":agency_id", recipient)
          .Bind(":referral_id", r.id)
          .Bind(":create_time_us", absl::ToUnixMicros(r.create_time));
      absl::Status added = stmt->Run();
      if (!added.ok()) return Internal(added);
    }
    if (absl::Status recorded = RecordRequestKey(conn, request.agency_id, request.request_id,
                                                 request.request_fingerprint, r.id, r.document);
        !recorded.ok()) {
      return Internal(recorded);
    }
    if (request.event.has_value()) {
      absl::Status logged = AppendEvent(conn, *request.event);
      if (!logged.ok()) return Internal(logged);
    }
    result.referral = r;
    AuditRecord audit = request.audit;
    audit.referral_ids = r.id;
    if (!AppendAudit(conn, std::move(audit)).ok()) {
      return absl::UnavailableError("the audit log cannot be written; nothing was changed");
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return result;
}

}  // namespace refx::storage::sqlite

namespace refx::storage::sqlite {
namespace {

// Reads the columns of kListCaseUpdates / kSelectCaseUpdate.
StoredCaseUpdate ReadCaseUpdateRow(const Statement& row) {
  StoredCaseUpdate u;
  u.referral_id = row.Text(0);
  u.sequence = row.Int(1);
  u.update_id = row.Text(2);
  u.kind = static_cast<int32_t>(row.Int(3));
  u.author_agency = row.Text(4);
  u.create_time = absl::FromUnixMicros(row.Int(5));
  u.document = row.Text(6);
  return u;
}

}  // namespace

absl::StatusOr<AddCaseUpdateResult> SqliteStore::AddCaseUpdate(const AddCaseUpdateRequest& request) {
  AddCaseUpdateResult result;
  absl::Status status = Submit([&](Connection* conn) -> absl::Status {
    // The idempotency key first, as in UpdateReferral: a retry's etag is stale.
    REFX_ASSIGN_OR_RETURN(auto replay, FindReplay(conn, request.agency_id, request.request_id,
                                                  request.request_fingerprint));
    if (replay.has_value()) {
      result.update.referral_id = replay->referral_id;
      result.update.document = replay->document;
      result.replayed = true;
      return absl::OkStatus();
    }
    REFX_RETURN_IF_ERROR(CheckEtag(conn, request.referral.id, request.expected_etag));
    const StoredReferral& r = request.referral;
    StoredCaseUpdate update = request.update;
    update.referral_id = r.id;
    {
      REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql::kNextCaseUpdateSequence));
      stmt->Bind(":referral_id", r.id);
      REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) return absl::InternalError("no next case update sequence");
      update.sequence = stmt->Int(0);
    }
    {
      REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql::kInsertCaseUpdate));
      stmt->Bind(":referral_id", update.referral_id)
          .Bind(":sequence", update.sequence)
          .Bind(":update_id", update.update_id)
          .Bind(":kind", int64_t{update.kind})
          .Bind(":author_agency", update.author_agency)
          .Bind(":create_time_us", absl::ToUnixMicros(update.create_time))
          .BindBlob(":document", update.document);
      absl::Status inserted = stmt->Run();
      if (!inserted.ok()) return Internal(inserted);
    }
    if (absl::Status updated = WriteReferralChange(conn, r); !updated.ok()) return Internal(updated);
    if (absl::Status recorded = RecordRequestKey(conn, request.agency_id, request.request_id,
                                                 request.request_fingerprint, r.id, update.document);
        !recorded.ok()) {
      return Internal(recorded);
    }
    if (request.event.has_value()) {
      absl::Status logged = AppendEvent(conn, *request.event);
      if (!logged.ok()) return Internal(logged);
    }
    result.update = std::move(update);
    AuditRecord audit = request.audit;
    audit.referral_ids = r.id;
    if (!AppendAudit(conn, std::move(audit)).ok()) {
      return absl::UnavailableError("the audit log cannot be written; nothing was changed");
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<std::vector<StoredCaseUpdate>> SqliteStore::ListCaseUpdates(absl::string_view referral_id,
                                                                           int64_t after_sequence, int limit) {
  auto conn = AcquireReader();
  auto run = [&]() -> absl::StatusOr<std::vector<StoredCaseUpdate>> {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql::kListCaseUpdates));
    stmt->Bind(":referral_id", referral_id).Bind(":after", after_sequence).Bind(":limit", int64_t{limit});
    std::vector<StoredCaseUpdate> out;
    while (true) {
      REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      out.push_back(ReadCaseUpdateRow(*stmt));
    }
    return out;
  };
  auto result = run();
  ReleaseReader(std::move(conn));
  return result;
}

absl::StatusOr<StoredCaseUpdate> SqliteStore::GetCaseUpdate(absl::string_view referral_id,
                                                            absl::string_view update_id) {
  auto conn = AcquireReader();
  auto run = [&]() -> absl::StatusOr<StoredCaseUpdate> {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql::kSelectCaseUpdate));
    stmt->Bind(":referral_id", referral_id).Bind(":update_id", update_id);
    REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) return absl::NotFoundError("case update not found");
    return ReadCaseUpdateRow(*stmt);
  };
  auto result = run();
  ReleaseReader(std::move(conn));
  return result;
}

}  // namespace refx::storage::sqlite
