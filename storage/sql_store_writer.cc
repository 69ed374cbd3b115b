// SqlStore's writer: opening and migrating, the group-commit writer thread,
// the audit chain (appended per write, its head written and signed per
// batch) and the event log (appended per write, announced per batch).
#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "storage/sql_rows.h"
#include "storage/sql_store.h"

namespace refx::storage {

absl::StatusOr<std::unique_ptr<SqlStore>> SqlStore::Open(Options options) {
  if (options.dialect == nullptr || !options.connect) {
    return absl::InvalidArgumentError("storage: a dialect and a connection factory are required");
  }
  if (options.max_batch_size < 1 || options.read_connections < 1) {
    return absl::InvalidArgumentError("storage: max_batch_size and read_connections must be >= 1");
  }
  auto store = std::unique_ptr<SqlStore>(new SqlStore(std::move(options)));
  REFX_RETURN_IF_ERROR(store->Start());
  return store;
}

absl::Status SqlStore::Start() {
  REFX_ASSIGN_OR_RETURN(writer_conn_, options_.connect(/*read_only=*/false));
  REFX_RETURN_IF_ERROR(Migrate(writer_conn_.get()));
  if (options_.schema_only) return absl::OkStatus();
  REFX_RETURN_IF_ERROR(LoadDataKeys(writer_conn_.get()));
  {
    REFX_ASSIGN_OR_RETURN(auto head, rows::ReadAuditHeadRow(writer_conn_.get(), sql_));
    audit_sequence_ = head.has_value() ? head->sequence : 0;
    audit_hash_ = head.has_value() ? head->hash : GenesisHash();
    REFX_RETURN_IF_ERROR(CheckHeadSignature(head));
  }
  REFX_RETURN_IF_ERROR(ReloadEventSequence(writer_conn_.get()));
  {
    absl::MutexLock lock(&readers_mu_);
    for (int i = 0; i < options_.read_connections; ++i) {
      REFX_ASSIGN_OR_RETURN(auto reader, options_.connect(/*read_only=*/true));
      readers_.push_back(std::move(reader));
    }
  }
  if (sql_.shared_by_replicas) REFX_RETURN_IF_ERROR(StartFollowing());
  writer_thread_ = std::thread([this] { WriterLoop(); });
  return absl::OkStatus();
}

absl::Status SqlStore::Migrate(SqlConnection* conn) {
  REFX_RETURN_IF_ERROR(conn->Exec(sql_.create_migrations_table));
  {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.select_schema_version));
    REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
    schema_version_ = row ? static_cast<int>(stmt->Int(0)) : 0;
    schema_version_at_open_ = schema_version_;
  }
  const auto& migrations = sql_.migrations;
  const int latest = migrations.empty() ? 0 : migrations.back().version;
  if (schema_version_ > latest) {
    return absl::FailedPreconditionError(absl::StrCat(
        "database ", options_.description, " has schema version ", schema_version_,
        ", newer than this binary understands (", latest, "); use a newer refx-server"));
  }
  for (const Migration& m : migrations) {
    if (m.version <= schema_version_) continue;
    REFX_ASSIGN_OR_RETURN(SqlTransaction txn, SqlTransaction::Begin(conn));
    {
      // Under the write lock: another replica may have migrated meanwhile.
      REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.select_schema_version));
      REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (row && stmt->Int(0) >= m.version) {
        schema_version_ = static_cast<int>(stmt->Int(0));
        continue;
      }
    }
    REFX_RETURN_IF_ERROR(conn->Exec(m.sql));
    {
      REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.record_migration));
      stmt->Bind(":version", int64_t{m.version})
          .Bind(":name", m.name)
          .Bind(":applied_time_us", absl::ToUnixMicros(absl::Now()));
      REFX_RETURN_IF_ERROR(stmt->Run());
    }
    REFX_RETURN_IF_ERROR(txn.Commit());
    schema_version_ = m.version;
    log::Info("storage_migrated", {{"version", m.version}, {"name", m.name}});
  }
  return absl::OkStatus();
}

void SqlStore::BindHeadSignature(SqlStatement* statement) const {
  if (options_.audit_head_key.has_value()) {
    statement->BindBlob(":signature", options_.audit_head_key->Sign(AuditHeadMessage(audit_sequence_, audit_hash_)));
  } else {
    statement->Bind(":signature", absl::optional<int64_t>());
  }
}

absl::Status SqlStore::CheckHeadSignature(const absl::optional<AuditHead>& head) {
  if (!options_.audit_head_key.has_value()) return absl::OkStatus();
  const VerifyingKey key = options_.audit_head_key->Public();
  auto sign_now = [&](const char* event) -> absl::Status {
    REFX_ASSIGN_OR_RETURN(auto stmt, writer_conn_->Prepare(sql_.upsert_audit_head));
    stmt->Bind(":sequence", audit_sequence_).BindBlob(":hash", audit_hash_);
    BindHeadSignature(stmt.get());
    REFX_RETURN_IF_ERROR(stmt->Run());
    log::Info(event, {{"sequence", audit_sequence_}, {"key_id", key.KeyId()}});
    return absl::OkStatus();
  };
  // A database that had no signed heads before this open: created now, or
  // from before heads were signed (schema 9), met by a key made for it.
  const bool before_signing =
      schema_version_at_open_ == 0 || (schema_version_at_open_ < 9 && options_.adopt_unsigned_head);
  if (head.has_value() && !head->signature.empty()) {
    if (key.Verify(AuditHeadMessage(head->sequence, head->hash), head->signature)) return absl::OkStatus();
    // Audit state that cannot be vouched for is not carried on (fail closed).
    return absl::FailedPreconditionError(absl::StrCat(
        "database ", options_.description,
        ": the audit chain's head is not signed by the configured audit signing key (the head was rewritten, or "
        "the key is not this database's); run `refx-admin audit verify` and restore the right key or database"));
  }
  if (before_signing) return sign_now(head.has_value() ? "audit_head_signed" : "audit_head_created");
  return absl::FailedPreconditionError(absl::StrCat(
      "database ", options_.description, ": the audit chain's head is ", head.has_value() ? "not signed" : "missing",
      ", though heads are signed since schema 9 (removed with the log's tail?); run `refx-admin audit verify` "
      "against a checkpoint"));
}

SqlStore::~SqlStore() {
  StopFollowing();
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (writer_thread_.joinable()) writer_thread_.join();
}

absl::Status SqlStore::Submit(absl::string_view key, std::function<absl::Status(SqlConnection*)> apply) {
  Write write;
  write.apply = std::move(apply);
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::UnavailableError("storage is shutting down");
  queue_.Push(key, &write);
  mu_.Await(absl::Condition(+[](Write* w) { return w->done; }, &write));
  return write.result;
}

void SqlStore::SubmitAsync(absl::string_view key, std::function<absl::Status(SqlConnection*)> apply,
                           std::function<void(absl::Status)> done) {
  auto* write = new Write;
  write->apply = std::move(apply);
  write->on_done = std::move(done);
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      queue_.Push(key, write);
      return;
    }
  }
  write->on_done(absl::UnavailableError("storage is shutting down"));
  delete write;
}

absl::Status SqlStore::ReloadEventSequence(SqlConnection* conn) {
  REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.select_latest_event));
  REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
  event_sequence_ = row ? stmt->Int(0) : 0;
  return absl::OkStatus();
}

absl::Status SqlStore::CommitBatch(SqlConnection* conn, const std::vector<Write*>& batch, bool savepoints,
                                   bool* write_failed) {
  *write_failed = false;
  // Nothing of this batch is in the chain until its writes append to it (a
  // failure before then must not be mistaken for the previous batch's).
  batch_audit_start_ = audit_sequence_;
  // Without savepoints, statements whose rows are not needed go out without
  // waiting (where the driver can); any failure sends the batch to the run
  // with savepoints, where each statement waits, so each failure is reported
  // by its own statement and mapped as that statement's.
  conn->SetPipelining(!savepoints);
  first_run_ = !savepoints;
  REFX_ASSIGN_OR_RETURN(SqlTransaction txn, SqlTransaction::Begin(conn));
  // Under the write lock, before any write: another replica may have moved
  // the heads. If they cannot be read the batch fails whole.
  if (sql_.shared_by_replicas) REFX_RETURN_IF_ERROR(ReloadHeads(conn));
  const int64_t batch_audit_start = audit_sequence_;
  batch_audit_start_ = batch_audit_start;
  for (Write* w : batch) {
    if (!savepoints) {
      w->result = w->apply(conn);
      if (!w->result.ok()) {
        *write_failed = true;
        return w->result;  // `txn` rolls back; the caller runs the batch again
      }
      continue;
    }
    // A savepoint per write: a failed write is undone alone, audit chain
    // position included.
    const int64_t sequence_before = audit_sequence_;
    const std::string hash_before = audit_hash_;
    const int64_t event_sequence_before = event_sequence_;
    const size_t events_before = batch_events_.size();
    w->result = conn->Savepoint();
    if (w->result.ok()) w->result = w->apply(conn);
    // Releasing is also where a driver reports a statement it sent without
    // waiting; a write that fails there is undone like any other.
    if (w->result.ok()) w->result = conn->ReleaseSavepoint();
    if (!w->result.ok()) {
      conn->RollbackToSavepoint().IgnoreError();
      audit_sequence_ = sequence_before;
      audit_hash_ = hash_before;
      event_sequence_ = event_sequence_before;
      batch_events_.resize(events_before);
    }
  }
  absl::Status finished = [&]() -> absl::Status {
    // The chain's head, once per batch, in the batch's transaction: a
    // deleted tail still no longer matches it, and its signature is made
    // with a key outside the database.
    if (audit_sequence_ != batch_audit_start) {
      REFX_ASSIGN_OR_RETURN(auto head, conn->Prepare(sql_.upsert_audit_head));
      head->Bind(":sequence", audit_sequence_).BindBlob(":hash", audit_hash_);
      BindHeadSignature(head.get());
      REFX_RETURN_IF_ERROR(head->Run());
    }
    if (sql_.notify_events != nullptr && !batch_events_.empty()) {
      REFX_ASSIGN_OR_RETURN(auto notify, conn->Prepare(sql_.notify_events));
      REFX_RETURN_IF_ERROR(notify->Run());
    }
    return txn.Commit();
  }();
  // A statement the driver sent without waiting may have failed, reported
  // by a later one or by the commit: that is a failed write too (which one
  // is found by the run with savepoints). So is any failure that is not
  // transient, which left nothing committed. A transient one may have
  // followed the COMMIT itself: RunBatch finds out whether it committed.
  if (!finished.ok() && !savepoints && (conn->CommitFailedOnAStatement() || !absl::IsUnavailable(finished))) {
    *write_failed = true;
  }
  return finished;
}

void SqlStore::RestoreCommittedHeads(SqlConnection* conn, int64_t event_sequence_at_start) {
  // Nothing of the batch is on disk: the chain continues from its committed
  // head, re-read so memory and disk cannot disagree.
  audit_sequence_ = 0;
  audit_hash_ = GenesisHash();
  auto head = rows::ReadAuditHead(conn, sql_);
  if (head.ok()) {
    audit_sequence_ = head->sequence;
    audit_hash_ = head->hash;
  }
  batch_events_.clear();
  // The log's head is where the batch found it (re-read when possible).
  event_sequence_ = event_sequence_at_start;
  ReloadEventSequence(conn).IgnoreError();
}

absl::Status SqlStore::RunBatch(SqlConnection* conn, const std::vector<Write*>& batch,
                                int64_t event_sequence_at_start) {
  const int attempts = sql_.retry_failed_commits ? kCommitAttempts : 1;
  absl::Status status;
  for (int attempt = 1;; ++attempt) {
    // First without a savepoint per write: each costs two round trips on a
    // networked database, and writes almost never fail. If one does, the
    // whole transaction is rolled back and the batch runs again with a
    // savepoint per write, so the failed write is undone alone. Every apply
    // is a function of the database and its request, so running a write's
    // apply twice writes what running it once would.
    bool write_failed = false;
    status = CommitBatch(conn, batch, /*savepoints=*/false, &write_failed);
    if (write_failed) {
      RestoreCommittedHeads(conn, event_sequence_at_start);
      status = CommitBatch(conn, batch, /*savepoints=*/true, &write_failed);
    }
    if (status.ok() || !absl::IsUnavailable(status) || attempts == 1) return status;
    // The transaction failed on the way (a dropped connection, a restart):
    // perhaps after COMMIT was applied and before its answer came back. The
    // batch's last audit event says which: there, with this batch's hash,
    // it committed; absent, nothing of it did and it may run again. Unknown
    // (the database is still unreachable): reported, never run twice.
    if (audit_sequence_ > batch_audit_start_) {
      auto committed = AuditEventIsStored(conn, audit_sequence_, audit_hash_);
      if (!committed.ok()) return status;
      if (*committed) {
        log::Warning("storage_commit_confirmed", {{"writes", batch.size()},
                                                   {"attempt", attempt}});
        return absl::OkStatus();
      }
    }
    if (attempt >= attempts) return status;
    log::Warning("storage_commit_retried", {{"code", absl::StatusCodeToString(status.code())},
                                            {"writes", batch.size()},
                                            {"attempt", attempt}});
    RestoreCommittedHeads(conn, event_sequence_at_start);
    absl::SleepFor(kCommitRetryBackoff * attempt);
  }
}

absl::StatusOr<bool> SqlStore::AuditEventIsStored(SqlConnection* conn, int64_t sequence, const std::string& hash) {
  REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.select_audit_hash));
  stmt->Bind(":sequence", sequence);
  REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
  return row && stmt->Text(0) == hash;
}

void SqlStore::WriterLoop() {
  SqlConnection* conn = writer_conn_.get();
  while (true) {
    std::vector<Write*> batch;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](SqlStore* s) ABSL_NO_THREAD_SAFETY_ANALYSIS { return s->stopping_ || !s->queue_.empty(); }, this));
      if (queue_.empty()) return;  // stopping, and every queued write is answered
      // Under a backlog, a batch that takes the only queued write of an
      // agency closes a few writes after it: that agency, within its share
      // while another floods, is answered after the batch in progress and a
      // short one, rather than a full one (issue 17).
      size_t limit = static_cast<size_t>(NextBatchLimit());
      const bool backlog = queue_.size() > limit;
      std::string key;
      while (!queue_.empty() && batch.size() < limit) {
        batch.push_back(*queue_.Pop(nullptr, &key));
        if (backlog && queue_.size(key) == 0) limit = std::min(limit, batch.size() + kAfterALoneWrite);
      }
    }
    const int64_t event_sequence_at_start = event_sequence_;
    const int64_t audit_sequence_at_start = audit_sequence_;
    const absl::Time batch_start = absl::Now();
    const absl::Status txn_status = RunBatch(conn, batch, event_sequence_at_start);
    if (options_.commit_observer) {
      CommitReport report;
      report.writes = batch.size();
      report.committed = txn_status.ok();
      report.audit_events = txn_status.ok() ? audit_sequence_ - audit_sequence_at_start : 0;
      report.duration = absl::Now() - batch_start;
      options_.commit_observer(report);
    }
    if (!txn_status.ok()) {
      RestoreCommittedHeads(conn, event_sequence_at_start);
      log::Error("storage_commit_failed", {{"code", absl::StatusCodeToString(txn_status.code())},
                                           {"writes", batch.size()}});
    }
    // Watchers hear of committed events before any writer is answered, so
    // a change acknowledged to its maker is already on its way to them.
    if (sql_.shared_by_replicas) {
      // Other replicas' events may come first: announce from the log.
      const bool wrote_events = !batch_events_.empty();
      batch_events_.clear();
      if (wrote_events) AnnounceFromLog();
    } else if (!batch_events_.empty()) {
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
    // Answered here, in commit order, before the next batch starts: the
    // writer cannot run ahead of its answers, so under overload the answer
    // of a partner's write (early in its batch, by turn) never queues behind
    // batches of another partner's answers.
    for (Write* w : detached) {
      w->on_done(w->result);
      delete w;
    }
    if (txn_status.ok()) {
      const double per_write = absl::ToDoubleMicroseconds(absl::Now() - batch_start) / batch.size();
      batch_micros_per_write_ =
          batch_micros_per_write_ == 0 ? per_write : 0.7 * batch_micros_per_write_ + 0.3 * per_write;
    }
  }
}

int SqlStore::NextBatchLimit() const {
  const int most = options_.max_batch_size;
  if (batch_micros_per_write_ <= 0) return most;
  const double fits = absl::ToDoubleMicroseconds(kBatchTimeTarget) / batch_micros_per_write_;
  return static_cast<int>(std::clamp<double>(fits, std::min(kMinBatch, most), most));
}

void SqlStore::SetEventListener(EventListener listener) {
  absl::MutexLock lock(&listener_mu_);
  listener_ = std::move(listener);
}

absl::Status SqlStore::AppendEvent(SqlConnection* conn, ReferralEvent event) {
  event.sequence = event_sequence_ + 1;
  {
    const std::string row = SealedRow(event.referral_id, event.sequence);
    REFX_ASSIGN_OR_RETURN(std::string referral_document,
                          SealValue(sealed_column::kEventReferral, row, event.referral_document));
    REFX_ASSIGN_OR_RETURN(std::string update_document,
                          SealValue(sealed_column::kEventUpdate, row, event.update_document));
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.insert_event));
    stmt->Bind(":sequence", event.sequence)
        .Bind(":time_us", absl::ToUnixMicros(event.time))
        .Bind(":kind", int64_t{event.kind})
        .Bind(":referral_id", event.referral_id)
        .BindBlob(":referral_document", referral_document)
        .BindBlob(":update_document", update_document);
    REFX_RETURN_IF_ERROR(stmt->Run());
  }
  for (const std::string& agency : event.audience) {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.insert_event_audience));
    stmt->Bind(":agency_id", agency).Bind(":sequence", event.sequence);
    REFX_RETURN_IF_ERROR(stmt->Run());
  }
  event_sequence_ = event.sequence;
  batch_events_.push_back(std::move(event));
  return absl::OkStatus();
}

int64_t SqlStore::commits() const {
  absl::MutexLock lock(&mu_);
  return commits_;
}

absl::Status SqlStore::AppendAudit(SqlConnection* conn, AuditRecord record) {
  record.sequence = audit_sequence_ + 1;
  record.previous_hash = audit_hash_;
  record.hash = AuditHash(record, record.previous_hash);
  {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.insert_audit));
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
        .Bind(":event_count", record.count)
        .Bind(":release", record.release);
    REFX_RETURN_IF_ERROR(stmt->Run());
  }
  audit_sequence_ = record.sequence;
  audit_hash_ = record.hash;
  return absl::OkStatus();
}

absl::Status SqlStore::RecordAudit(const AuditRecord& record) {
  return Submit(record.agency_id, [&](SqlConnection* conn) { return AppendAudit(conn, record); });
}

absl::Status SqlStore::RecordRelease(const AuditRecord& record, absl::string_view marker,
                                     const std::function<absl::Status(const std::vector<LedgerRow>&)>& check) {
  return Submit(record.agency_id, [&](SqlConnection* conn) -> absl::Status {
    std::vector<std::pair<int64_t, LedgerRow>> found;
    {
      REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.list_ledger_releases));
      // The marker is made of a period label (digits, '-', 'Q'): no LIKE
      // wildcard in it.
      stmt->Bind(":pattern", absl::StrCat("%", marker, "%"));
      while (true) {
        REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
        if (!row) break;
        found.push_back({stmt->Int(0), LedgerRow{stmt->Text(1), stmt->Text(2)}});
      }
    }
    std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<LedgerRow> earlier;
    earlier.reserve(found.size());
    for (auto& [sequence, row] : found) earlier.push_back(std::move(row));
    REFX_RETURN_IF_ERROR(check(earlier));
    if (!AppendAudit(conn, record).ok()) {
      return absl::UnavailableError("the audit log cannot be written; nothing was released");
    }
    return absl::OkStatus();
  });
}

void SqlStore::RecordAuditAsync(const AuditRecord& record, std::function<void(absl::Status)> done) {
  SubmitAsync(record.agency_id, [this, record](SqlConnection* conn) { return AppendAudit(conn, record); },
              std::move(done));
}

}  // namespace refx::storage
