// What the database-neutral store engine (storage/sql_store.h) needs from a
// SQL database, and nothing more: a connection that prepares named-parameter
// statements and runs transactions and savepoints, and a dialect that spells
// every statement the engine runs. A backend adds SQL (one dialect file) and a
// connection, never logic: group commit, idempotency, the etag check, the
// audit chain and the event log are the engine's, once (the PowerDNS lesson,
// notes/aesthetics.md).
#ifndef REFX_STORAGE_SQL_DRIVER_H_
#define REFX_STORAGE_SQL_DRIVER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"

namespace refx::storage {

// A prepared statement with its parameters bound by name (":name"); reset and
// unbound when it goes out of scope. Values are always bound, never spliced.
// An unknown parameter name is a programming error, reported as INTERNAL by
// Step().
class SqlStatement {
 public:
  virtual ~SqlStatement() = default;
  virtual SqlStatement& Bind(const char* name, absl::string_view text) = 0;
  virtual SqlStatement& BindBlob(const char* name, absl::string_view bytes) = 0;
  virtual SqlStatement& Bind(const char* name, int64_t value) = 0;
  // NULL when `value` is empty.
  virtual SqlStatement& Bind(const char* name, absl::optional<int64_t> value) = 0;
  SqlStatement& Bind(const char* name, const char* text) { return Bind(name, absl::string_view(text)); }

  // One step: true if a row is available, false when done. Errors map the
  // database's codes: busy/locked/I/O -> UNAVAILABLE, a constraint ->
  // ALREADY_EXISTS, anything else INTERNAL.
  virtual absl::StatusOr<bool> Step() = 0;
  // Runs to completion, expecting no rows.
  virtual absl::Status Run() = 0;

  virtual int64_t Int(int column) const = 0;
  virtual bool IsNull(int column) const = 0;
  // Text or blob bytes.
  virtual std::string Text(int column) const = 0;

  // The current row's shape, for copying whole tables between databases
  // (storage/store_copy.h): how many columns, each one's name and the kind
  // of its value in this row.
  enum class ValueKind { kNull, kInteger, kText, kBlob };
  virtual int ColumnCount() const = 0;
  virtual std::string ColumnName(int column) const = 0;
  virtual ValueKind Kind(int column) const = 0;
};

// One connection. Not thread-safe: the engine gives each to one thread at a
// time.
class SqlConnection {
 public:
  virtual ~SqlConnection() = default;
  // A statement of the dialect (the pointer is the cache key: pass the
  // dialect's own strings), prepared once per connection.
  virtual absl::StatusOr<std::unique_ptr<SqlStatement>> Prepare(const char* sql) = 0;
  // SQL text without parameters, any number of statements (migrations).
  virtual absl::Status Exec(const char* sql) = 0;

  // A transaction that will write (taking the write lock at once where the
  // database has one), one that reads a single consistent snapshot, and
  // their end.
  virtual absl::Status BeginWrite() = 0;
  virtual absl::Status BeginRead() = 0;
  virtual absl::Status Commit() = 0;
  virtual absl::Status Rollback() = 0;

  // One savepoint inside a write transaction (each write of a group commit
  // runs in one, so a failed write is undone alone).
  virtual absl::Status Savepoint() = 0;
  virtual absl::Status ReleaseSavepoint() = 0;
  virtual absl::Status RollbackToSavepoint() = 0;

  // Waits until every statement sent so far is answered; the first failure
  // among them. Drivers that send statements without waiting (PostgreSQL's
  // pipeline) report a statement's failure late; this makes it now.
  virtual absl::Status Flush() { return absl::OkStatus(); }
  // After a failed Commit: whether it failed because a statement sent
  // earlier without waiting had failed (the COMMIT itself was never run).
  virtual bool CommitFailedOnAStatement() const { return false; }
  // Whether later write transactions may send statements without waiting
  // (on by default where the driver can). Off, every statement's failure is
  // reported by that statement.
  virtual void SetPipelining(bool on) {}

  // Notifications between replicas of a shared database (dialects with
  // listen_events): subscribe this connection to `channel`, then wait up to
  // `timeout` for a notification (true if one came). UNIMPLEMENTED where the
  // database has none.
  virtual absl::Status Listen(absl::string_view channel) {
    return absl::UnimplementedError("this database has no notifications");
  }
  virtual absl::StatusOr<bool> WaitForNotification(absl::Duration timeout) {
    return absl::UnimplementedError("this database has no notifications");
  }
};

// A write transaction that rolls back in its destructor unless committed.
class SqlTransaction {
 public:
  static absl::StatusOr<SqlTransaction> Begin(SqlConnection* conn);
  SqlTransaction(SqlTransaction&& other) noexcept : conn_(other.conn_) { other.conn_ = nullptr; }
  SqlTransaction(const SqlTransaction&) = delete;
  ~SqlTransaction();
  absl::Status Commit();

 private:
  explicit SqlTransaction(SqlConnection* conn) : conn_(conn) {}
  SqlConnection* conn_;
};

// A numbered schema migration. Applied in order, each in its own
// transaction, recorded in schema_migrations; never edited once released.
struct Migration {
  int version;
  const char* name;
  const char* sql;
};

// Every statement the engine runs, as one dialect writes it. Lists are bound
// as one JSON array each (the statement text never changes with the number
// of values). Each dialect defines one of these, with its migrations, in one
// file, with designated initialisers (a statement cannot land in the wrong
// field), listing the statements it spells its own way; the portable ones
// are filled in by portable_sql::WithPortableStatements
// (storage/sql_portable_statements.h). Every statement is required: the
// store contract suite runs each on both backends.
struct SqlDialect {
  const char* name = nullptr;  // e.g. "sqlite"
  std::vector<Migration> migrations;
  const char* create_migrations_table = nullptr;
  const char* select_schema_version = nullptr;
  const char* record_migration = nullptr;
  const char* health_check = nullptr;
  // Referrals and their parties. A referral's recipients and strands are
  // columns of its row (migration 19), each rows::JoinedIds.
  const char* insert_referral = nullptr;
  const char* insert_party = nullptr;
  const char* insert_party_if_absent = nullptr;
  // select_referral and list_referrals return the referral's columns in
  // rows::ReadReferral's order, its recipients and its strands last.
  const char* select_referral = nullptr;
  const char* list_referrals = nullptr;
  // Referrals created in a period, oldest first (reports).
  const char* scan_referrals = nullptr;
  const char* scan_events = nullptr;
  const char* select_referral_etag = nullptr;
  // Referrals past their deadline (:now_us) in one of :states (a JSON
  // array), counted per recipient that must still respond: agency_id, count.
  const char* count_overdue_by_recipient = nullptr;
  const char* update_referral = nullptr;
  const char* mark_redirected = nullptr;
  // Idempotency keys.
  const char* select_create_request = nullptr;
  const char* insert_create_request = nullptr;
  const char* select_update_request = nullptr;
  const char* insert_update_request = nullptr;
  // The audit chain.
  const char* insert_audit = nullptr;
  const char* upsert_audit_head = nullptr;
  const char* select_audit_head = nullptr;
  // The hash of the audit event at :sequence: whether a batch whose COMMIT
  // went unanswered was committed (its last event is there, with its hash).
  const char* select_audit_hash = nullptr;
  const char* list_audit = nullptr;
  // The release ledger (migration 18): the sequence, agency and release
  // text of every aggregate release whose text matches :pattern, unordered.
  const char* list_ledger_releases = nullptr;
  // The event log.
  const char* insert_event = nullptr;
  const char* insert_event_audience = nullptr;
  const char* select_latest_event = nullptr;
  const char* list_events = nullptr;
  // Case updates.
  const char* next_case_update_sequence = nullptr;
  const char* insert_case_update = nullptr;
  const char* list_case_updates = nullptr;
  const char* select_case_update = nullptr;
  // Repeat-victim tokens.
  const char* count_repeat_victims = nullptr;
  const char* insert_victim_token = nullptr;
  const char* any_victim_token = nullptr;
  const char* referrals_by_victim_token = nullptr;  // subject access
  // Tension alert acknowledgements (migration 13).
  const char* insert_tension_acknowledgement = nullptr;
  const char* select_tension_acknowledgement = nullptr;
  const char* list_tension_acknowledgements = nullptr;
  // Data keys of encryption at rest (migration 14): all of them (key_id,
  // kek_id, wrapped), and a new one, ignored if its id was taken meanwhile
  // (another replica's first start).
  const char* select_data_keys = nullptr;
  const char* insert_data_key = nullptr;
  // A data key re-wrapped under a new key-encryption key (rotation), if it
  // is still wrapped by :old_kek_id.
  const char* rewrap_data_key = nullptr;
  // Retention (migration 15): every stored copy of one referral's data,
  // read and rewritten by an erasure; its tokens and strands replaced.
  const char* list_event_documents_of_referral = nullptr;  // sequence, referral_document, update_document
  const char* update_event_documents = nullptr;
  const char* list_replays_of_referral = nullptr;  // agency_id, request_id, document
  const char* update_replay_document = nullptr;
  const char* update_case_update_document = nullptr;
  const char* delete_victim_tokens_of_referral = nullptr;
  const char* update_referral_document = nullptr;  // etag, document and strands
  // The routing record's own period ended (EraseReferralDataRequest::
  // delete_referral): its row becomes a tombstone that only the event log's
  // rows point at, and every other row of it goes.
  const char* tombstone_referral = nullptr;  // id, update_time_us, etag, document
  const char* list_event_sequences_of_referral = nullptr;  // sequence (the covering index, no documents)
  const char* delete_parties_of_referral = nullptr;
  const char* delete_case_updates_of_referral = nullptr;
  const char* delete_create_requests_of_referral = nullptr;
  const char* delete_update_requests_of_referral = nullptr;
  const char* delete_event_audience_of_referral = nullptr;
  // Re-encryption (`refx-admin keys reencrypt`): each table's sealed
  // values a page at a time in key order, after the last row's key, at most
  // :limit; rewritten by the update statements above and
  // update_referral_sealed_document (the document alone).
  const char* page_referral_documents = nullptr;     // id, document; after :after_id
  const char* page_event_documents = nullptr;        // sequence, referral_id, referral_document, update_document
  const char* page_replay_documents = nullptr;       // agency_id, request_id, referral_id, document
  const char* page_case_update_documents = nullptr;  // referral_id, sequence, document
  const char* update_referral_sealed_document = nullptr;
  // Legal holds: referral_id, agency_id, reason, time_us.
  const char* insert_legal_hold = nullptr;
  const char* select_legal_hold = nullptr;
  const char* delete_legal_hold = nullptr;
  const char* list_legal_holds = nullptr;
  // Data subject requests (migration 16): id, agency_id, request_id,
  // document, version, create_time_us, update_time_us.
  const char* insert_subject_request = nullptr;
  const char* select_subject_request = nullptr;
  const char* select_subject_request_by_request_id = nullptr;
  const char* update_subject_request = nullptr;  // if version = :expected_version
  const char* list_subject_requests = nullptr;   // after (:after_time_us, :after_id), at most :limit
  // Subject notifications (migration 17): referral_id, sequence, agency_id,
  // request_id, create_time_us, document; deleted with the compartment, and
  // paged through by re-encryption (referral_id, sequence, document).
  const char* insert_subject_notification = nullptr;
  const char* select_subject_notification_by_request_id = nullptr;
  const char* count_subject_notifications = nullptr;  // count, and the next sequence
  const char* list_subject_notifications = nullptr;
  const char* delete_subject_notifications_of_referral = nullptr;
  const char* page_subject_notification_documents = nullptr;
  const char* update_subject_notification_document = nullptr;

  // Several replicas write to one database (PostgreSQL): the writer re-reads
  // the audit chain's and the event log's heads in every write transaction
  // (BeginWrite holds the database's write lock, so the chain stays linear
  // and the sequence gapless across replicas), and events reach listeners
  // from the log itself (list_all_events, after the batch's own commit and on
  // notifications from other replicas), never from memory. False (SQLite):
  // this process is the only writer; heads live in memory.
  bool shared_by_replicas = false;
  // Both heads in one row, read at the start of every write transaction of
  // a shared database: the audit head's sequence and hash (NULL, NULL before
  // the first event) and the event log's latest sequence (0 when empty).
  const char* select_heads = nullptr;
  // Every event after :after (all audiences, comma-joined as column 6),
  // oldest first, at most :limit. Shared databases only.
  const char* list_all_events = nullptr;
  // The notification channel replicas LISTEN on, and the statement (no
  // parameters, no rows read) a batch that wrote events runs to notify it,
  // delivered at commit. Optional.
  const char* listen_events = nullptr;
  const char* notify_events = nullptr;
  // A database reached over a network: a batch whose transaction failed
  // with UNAVAILABLE (a dropped connection, a restart) is looked for in the
  // database (select_audit_hash) and, if it is not there, run again, a few
  // times, so each write is applied exactly once. Locally (SQLite) such a
  // failure is not transient and is reported at once. Reads that fail
  // UNAVAILABLE (a pooled connection cut while idle) are run once more.
  bool retry_failed_commits = false;
};

}  // namespace refx::storage

#endif  // REFX_STORAGE_SQL_DRIVER_H_
