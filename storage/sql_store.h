// The database-neutral store engine: ReferralStore over any SQL database a
// driver (storage/sql_driver.h) connects to.
//
// Durability and throughput come from one design: a single writer thread owns
// the only read-write connection and commits the writes waiting in its queue
// in one transaction (group commit: many calls, one sync). A write is
// acknowledged only after the COMMIT holding it has returned, so an
// acknowledged write survives a crash; the non-blocking forms are answered by
// the writer right after that COMMIT, so no caller's thread waits (ADR 0007).
// The queue is served in turn by agency and a batch is sized to about 10 ms,
// so one partner's backlog never stands between another partner's write and
// its commit. Each write runs in its own savepoint, so one bad write fails
// alone and never takes its batch-mates with it. Reads use a small pool of
// read connections and never wait for the writer.
//
// Every change to a referral (a create, a lifecycle change, a case update)
// goes through one path, ApplyChange: the idempotency key first (a retry is
// answered from the first result and writes nothing), then the etag, then
// the change's own rows, its key, its event-log entry and its audit event, in
// one savepoint. The audit chain's head is kept in memory by the writer,
// written (and signed) once per batch in the batch's transaction.
#ifndef REFX_STORAGE_SQL_STORE_H_
#define REFX_STORAGE_SQL_STORE_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "common/fair_queue.h"
#include "common/signing.h"
#include "storage/referral_store.h"
#include "storage/sql_driver.h"
#include "storage/value_cipher.h"

namespace refx::storage {

class SqlStore : public ReferralStore {
 public:
  // Under a backlog, the writes a batch takes after an agency's only queued
  // write before it commits (the writer's batches: WriterLoop).
  static constexpr size_t kAfterALoneWrite = 2;

  struct Options {
    const SqlDialect* dialect = nullptr;  // required, outlives the store
    // Opens a connection (read-only ones for the read pool). Required.
    std::function<absl::StatusOr<std::unique_ptr<SqlConnection>>(bool read_only)> connect;
    std::string description;  // names the database in messages (a file, a host)
    int max_batch_size = 256;  // writes per transaction at most
    int read_connections = 4;
    // Signs the audit chain's head at every commit, and must verify the head
    // found on open (FAILED_PRECONDITION otherwise). Unset: heads are left
    // unsigned (tests of the store alone).
    absl::optional<SigningKey> audit_head_key;
    // Whether a database from before heads were signed (schema < 9) may have
    // its head signed on open: only when the key was made by this start.
    // Otherwise an unsigned or missing head means its signature (or the
    // head) was removed, and the open fails.
    bool adopt_unsigned_head = false;
    // Told of every group commit, on the writer thread (metrics); optional.
    CommitObserver commit_observer;
    // Encryption at rest (storage/value_cipher.h); without a key documents
    // are stored as they are, and a database holding data keys is refused.
    KeyEncryptionKey key_encryption_key;
    // Only apply pending migrations: no keys, no audit head, no writer (a
    // copy's target schema, storage/store_copy.h). The store then serves
    // nothing.
    bool schema_only = false;
  };

  // Connects, applies pending migrations and starts the writer.
  // FAILED_PRECONDITION if the database's schema is newer than this binary,
  // or its audit head cannot be vouched for.
  static absl::StatusOr<std::unique_ptr<SqlStore>> Open(Options options);

  // Finishes queued writes, then stops the writer.
  ~SqlStore() override;

  absl::StatusOr<CreateReferralResult> CreateReferral(const CreateReferralRequest& request) override;
  absl::StatusOr<UpdateReferralResult> UpdateReferral(const UpdateReferralRequest& request) override;
  absl::StatusOr<absl::optional<UpdateReplay>> FindUpdate(absl::string_view agency_id,
                                                          absl::string_view request_id) override;
  absl::StatusOr<AddCaseUpdateResult> AddCaseUpdate(const AddCaseUpdateRequest& request) override;
  void CreateReferralAsync(CreateReferralRequest request, Done<CreateReferralResult> done) override;
  void UpdateReferralAsync(UpdateReferralRequest request, Done<UpdateReferralResult> done) override;
  void AddCaseUpdateAsync(AddCaseUpdateRequest request, Done<AddCaseUpdateResult> done) override;
  absl::StatusOr<std::vector<StoredCaseUpdate>> ListCaseUpdates(absl::string_view referral_id,
                                                                int64_t after_sequence, int limit) override;
  absl::StatusOr<StoredCaseUpdate> GetCaseUpdate(absl::string_view referral_id,
                                                 absl::string_view update_id) override;
  absl::StatusOr<StoredReferral> GetReferral(absl::string_view id) override;
  absl::StatusOr<std::vector<StoredReferral>> ListReferrals(const ListReferralsQuery& query) override;
  absl::StatusOr<std::vector<StoredReferral>> ScanReferrals(const ScanReferralsQuery& query) override;
  absl::StatusOr<std::vector<ReferralEvent>> ScanEvents(const ScanEventsQuery& query) override;
  absl::Status RecordRelease(const AuditRecord& record, absl::string_view marker,
                             const std::function<absl::Status(const std::vector<LedgerRow>&)>& check) override;
  absl::Status RecordAudit(const AuditRecord& record) override;
  void RecordAuditAsync(const AuditRecord& record, std::function<void(absl::Status)> done) override;
  absl::StatusOr<std::vector<ReferralEvent>> ListEvents(const EventQuery& query) override;
  absl::StatusOr<int64_t> LatestEventSequence() override;
  void SetEventListener(EventListener listener) override;
  absl::StatusOr<std::vector<AuditRecord>> ListAuditEvents(const AuditQuery& query) override;
  absl::StatusOr<AuditChainReport> VerifyAuditChain(const AuditHead* checkpoint = nullptr) override;
  absl::StatusOr<AuditHead> AuditChainHead() override;
  absl::StatusOr<bool> HasVictimTokens() override;
  absl::StatusOr<std::vector<std::string>> FindReferralsByVictimToken(absl::string_view token) override;
  absl::StatusOr<CreateSubjectRequestResult> CreateSubjectRequest(const StoredSubjectRequest& request,
                                                                  const AuditRecord& audit) override;
  absl::Status UpdateSubjectRequest(const StoredSubjectRequest& request, int64_t expected_version,
                                    const AuditRecord& audit) override;
  absl::StatusOr<absl::optional<StoredSubjectRequest>> GetSubjectRequest(absl::string_view id) override;
  absl::StatusOr<std::vector<StoredSubjectRequest>> ListSubjectRequests(absl::Time after_time,
                                                                        absl::string_view after_id,
                                                                        int limit) override;
  absl::StatusOr<AcknowledgeTensionAlertResult> AcknowledgeTensionAlert(
      const TensionAcknowledgement& acknowledgement, const AuditRecord& audit) override;
  absl::StatusOr<std::vector<TensionAcknowledgement>> ListTensionAcknowledgements(
      absl::string_view first_week, absl::string_view last_week) override;
  absl::StatusOr<EraseReferralDataResult> EraseReferralData(const EraseReferralDataRequest& request) override;
  absl::StatusOr<RecordSubjectNotificationResult> RecordSubjectNotification(
      const StoredSubjectNotification& notification, int64_t max_per_referral, const AuditRecord& audit) override;
  absl::StatusOr<std::vector<StoredSubjectNotification>> ListSubjectNotifications(
      absl::string_view referral_id) override;
  absl::Status PlaceLegalHold(const LegalHold& hold, const AuditRecord& audit) override;
  absl::Status ReleaseLegalHold(absl::string_view referral_id, const AuditRecord& audit) override;
  absl::StatusOr<std::vector<LegalHold>> ListLegalHolds() override;
  absl::StatusOr<DataKeyRotation> RotateDataKey(const AuditRecord& audit) override;
  absl::StatusOr<ReencryptReport> ReencryptStoredValues(
      int page_size, const std::function<void(const ReencryptProgress&)>& progress) override;
  absl::Status CheckHealth() override;
  absl::StatusOr<std::map<std::string, int64_t>> CountOverdueByRecipient(
      absl::Time now, const std::vector<int32_t>& awaiting_states) override;
  int SchemaVersion() const override { return schema_version_; }

  // Transactions committed by the writer so far (for group-commit tests).
  int64_t commits() const;
  // The schema version on disk.
  int schema_version() const { return schema_version_; }

 protected:
  explicit SqlStore(Options options) : options_(std::move(options)), sql_(*options_.dialect) {}
  // Connects and migrates, checks the audit head, starts the writer.
  absl::Status Start();

 private:
  // One queued write: runs inside the writer's transaction and a savepoint.
  struct Write {
    std::string key;  // the agency it is for: batches are filled in turn by key
    std::function<absl::Status(SqlConnection*)> apply;
    absl::Status result;
    bool done = false;
    // Set for writes nobody waits on: called with the result, then the
    // Write is deleted by the writer.
    std::function<void(absl::Status)> on_done;
  };

  // One change to a referral as the writer applies it (see the file
  // comment); built by CreateReferral, UpdateReferral and AddCaseUpdate.
  struct Change {
    bool create = false;  // keyed by (sender, request id) in its own table
    std::string agency_id;
    std::string request_id;
    std::string fingerprint;
    absl::optional<std::string> expected_etag;  // a change to an existing referral
    StoredReferral referral;                    // as the change leaves it
    std::string replay_document;                // what a retry gets back (non-creates)
    AuditRecord audit;
    absl::optional<ReferralEvent> event;
    // The change's own rows; may rewrite `referral`'s document and the audit
    // event (a create's repeat count).
    std::function<absl::Status(SqlConnection*, Change*)> write_rows;
    // A change the server makes by itself (a retention erasure) has no
    // request id: no idempotency key is looked up or stored.
    bool keyed() const { return !request_id.empty(); }
  };
  // What ApplyChange did: on a replay, the first result.
  struct ChangeOutcome {
    bool replayed = false;
    StoredReferral referral;  // a create's stored referral (as it is now on a replay)
    std::string referral_id;  // a non-create replay
    std::string document;     // a non-create replay: the document first returned
  };
  // The one path of every change (writer thread, inside the write's
  // savepoint). ALREADY_EXISTS if the request id was used for a different
  // request; ABORTED on a stale etag; NOT_FOUND without the referral;
  // UNAVAILABLE if the audit event cannot be written.
  absl::Status ApplyChange(SqlConnection* conn, Change* change, ChangeOutcome* outcome);
  // A change queued for the writer with what it needs until it is answered
  // (sql_store_changes.cc); `result` makes the answer from it once committed.
  template <typename Request>
  struct PendingChange;
  // The change of an update or a case update to an existing referral, as
  // their requests carry the same fields; `replay_document` is what a retry
  // gets back.
  template <typename Request>
  static void FillExistingReferralChange(const Request& request, std::string replay_document, Change* change);
  template <typename Request, typename Result>
  void SubmitChange(std::shared_ptr<PendingChange<Request>> pending,
                    std::function<Result(PendingChange<Request>*)> result, Done<Result> done);

  absl::Status Migrate(SqlConnection* conn);
  // The fair queue's key for key maintenance writes (rotation and
  // re-encryption: no agency asked for them).
  static constexpr char kKeysQueueKey[] = "refx-keys";
  // Queues `apply` for agency `key` and waits until the transaction holding
  // it committed.
  absl::Status Submit(absl::string_view key, std::function<absl::Status(SqlConnection*)> apply);
  // Queues `apply` for agency `key`; `done` gets the result after the commit
  // (or failure).
  void SubmitAsync(absl::string_view key, std::function<absl::Status(SqlConnection*)> apply,
                   std::function<void(absl::Status)> done);
  // Writes the next batch may take (writer thread): as many as the recent
  // cost per write says fit in kBatchTimeTarget, within [kMinBatch,
  // max_batch_size]. A write queued now waits for at most the batch being
  // written and then its own, so bounding a batch's time bounds every
  // write's wait, whatever the queue holds; and batches still grow as large
  // as that time allows, so throughput rises with the writes in flight.
  int NextBatchLimit() const;
  static constexpr absl::Duration kBatchTimeTarget = absl::Milliseconds(10);
  static constexpr int kMinBatch = 16;
  void WriterLoop();
  // One transaction over `batch` (writer thread only): with `savepoints`, a
  // failed write is undone alone; without, the first failed write sets
  // `write_failed` and ends the transaction uncommitted. Returns the
  // transaction's status (a write's own failure is in its `result`).
  absl::Status CommitBatch(SqlConnection* conn, const std::vector<Write*>& batch, bool savepoints,
                           bool* write_failed);
  // The batch's transaction, run again after a write fails (with
  // savepoints) and, where the dialect retries failed commits, after a
  // transient failure that did not commit; the transaction's status.
  absl::Status RunBatch(SqlConnection* conn, const std::vector<Write*>& batch, int64_t event_sequence_at_start);
  // Whether the audit event `sequence` is stored with `hash`.
  absl::StatusOr<bool> AuditEventIsStored(SqlConnection* conn, int64_t sequence, const std::string& hash);
  static constexpr int kCommitAttempts = 3;
  static constexpr absl::Duration kCommitRetryBackoff = absl::Milliseconds(100);
  // After a transaction that did not commit: the audit and event heads in
  // memory are set back to what the database holds.
  void RestoreCommittedHeads(SqlConnection* conn, int64_t event_sequence_at_start);
  // Appends `record` to the audit chain inside the writer's transaction
  // (writer thread only).
  absl::Status AppendAudit(SqlConnection* conn, AuditRecord record);
  // Appends `event` to the event log inside the writer's transaction
  // (writer thread only); it is announced once the transaction commits.
  absl::Status AppendEvent(SqlConnection* conn, ReferralEvent event);
  // The newest event's sequence as committed (writer thread).
  absl::Status ReloadEventSequence(SqlConnection* conn);
  // Binds :signature of the head upsert for the head in memory.
  void BindHeadSignature(SqlStatement* statement) const;
  // On open: the head found must carry this key's signature. A database
  // with no signed head is signed now only if it had none to have: created
  // by this open, or from before schema 9 met by a key made for it; any
  // other unsigned or missing head fails the open.
  absl::Status CheckHeadSignature(const absl::optional<AuditHead>& head);

  // Encryption at rest (sql_store_keys.cc). On open: unwraps the data
  // keys (making the first, for a database without any), or refuses a
  // missing or wrong key-encryption key (FAILED_PRECONDITION).
  absl::Status LoadDataKeys(SqlConnection* conn);
  // Adds the data keys the database holds and this store does not (made by
  // a rotation, perhaps on another replica), read through `conn`; the
  // newest becomes the one values are sealed with. FAILED_PRECONDITION if
  // one does not unwrap with the configured key-encryption keys.
  absl::Status RefreshDataKeys(SqlConnection* conn);
  // The same through the store's own key connection (opened on first use),
  // for a read that met a value sealed with a key it does not hold yet:
  // never waits for a read connection, as the read holds one.
  absl::Status RefreshDataKeys();
  // The cipher in use (null without encryption at rest).
  std::shared_ptr<const ValueCipher> Cipher() const;
  // A document sealed for its column before it is bound, and opened after
  // it is read; as it is without encryption. Never personal data in errors.
  // `row` is the row's identity (storage/value_cipher.h, SealedRow).
  absl::StatusOr<std::string> SealValue(absl::string_view column, absl::string_view row,
                                        absl::string_view plaintext) const;
  absl::Status OpenValue(absl::string_view column, absl::string_view row, std::string* value);
  absl::Status OpenReferral(StoredReferral* referral);
  absl::Status OpenEvent(ReferralEvent* event);
  absl::Status OpenCaseUpdate(StoredCaseUpdate* update);

  // Re-encryption (sql_store_reencrypt.cc): one page of one table's rows
  // after `cursor`, each value not sealed with the newest key opened and
  // sealed again (writer thread, in the writer's transaction).
  struct ReencryptCursor;
  struct ReencryptTally;
  absl::Status ReencryptPage(SqlConnection* conn, int table, int limit, ReencryptCursor* cursor,
                             ReencryptTally* tally);
  // `stored` sealed again with the newest key unless it is already (or is
  // empty); whether it changed.
  absl::StatusOr<bool> Reseal(absl::string_view column, absl::string_view row, std::string* stored,
                              ReencryptTally* tally);

  // Retention (sql_store_retention.cc): every stored copy of one
  // referral's data passed through `erase` and sealed again (writer thread).
  absl::StatusOr<int64_t> EraseStoredCopies(SqlConnection* conn, const EraseReferralDataRequest& request);
  // The referral deleted instead (request.delete_referral): the tombstone
  // written, every other row of it deleted; how many event-log copies were
  // replaced by the tombstone.
  absl::StatusOr<int64_t> DeleteStoredReferral(SqlConnection* conn, const EraseReferralDataRequest& request);

  // Shared databases (sql_store_replicas.cc). Re-reads the audit chain's
  // and the event log's heads inside the writer's transaction, under the
  // write lock (writer thread).
  absl::Status ReloadHeads(SqlConnection* conn);
  // Opens the announcing connection and starts the thread that follows
  // other replicas' commits; stops it.
  absl::Status StartFollowing();
  void StopFollowing();
  // Announces every committed event after the last one announced, read from
  // the log, in sequence order (from the writer after a commit, and from the
  // follower on a notification or its poll).
  void AnnounceFromLog();

  // A read connection for the duration of `read` (waits for a free one).
  template <typename T>
  absl::StatusOr<T> WithReader(const std::function<absl::StatusOr<T>(SqlConnection*)>& read);

  const Options options_;
  const SqlDialect& sql_;
  // Seals documents at rest; null without a key-encryption key. Set by
  // Start, replaced (never shrunk) when a rotation adds a data key.
  mutable absl::Mutex cipher_mu_;
  std::shared_ptr<const ValueCipher> cipher_ ABSL_GUARDED_BY(cipher_mu_);
  // Reads the data keys when a value under an unknown key is met.
  absl::Mutex key_conn_mu_;
  std::unique_ptr<SqlConnection> key_conn_ ABSL_GUARDED_BY(key_conn_mu_);
  int schema_version_ = 0;
  int schema_version_at_open_ = 0;  // before this open's migrations
  std::unique_ptr<SqlConnection> writer_conn_;  // used only by writer_thread_
  // The audit chain's head as committed (plus, during a batch, as written so
  // far); touched only by Start() and the writer thread.
  int64_t audit_sequence_ = 0;
  std::string audit_hash_;
  // The event log's head and the events of the batch being written; writer
  // thread (and Start) only.
  int64_t event_sequence_ = 0;
  std::vector<ReferralEvent> batch_events_;
  // The batch's first run, without savepoints (writer thread only): a
  // create then skips its idempotency lookup, and a retried request id
  // meets the key's unique constraint instead, which sends the batch to the
  // run with savepoints, where it is looked up and replayed.
  bool first_run_ = false;
  // The audit chain's head when the batch's transaction began (under the
  // write lock): events past it are the batch's.
  int64_t batch_audit_start_ = 0;
  // Recent time per write of a whole batch, commit and answers included
  // (writer thread only); zero until a batch has run.
  double batch_micros_per_write_ = 0;
  std::thread writer_thread_;

  absl::Mutex listener_mu_;
  EventListener listener_ ABSL_GUARDED_BY(listener_mu_);

  mutable absl::Mutex mu_;
  // Served in turn by agency (common/fair_queue.h): a batch holds as many
  // writes of each agency with writes queued as of any other, so a partner's
  // write is in the next batch however many another partner has queued.
  FairQueue<Write*> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t commits_ ABSL_GUARDED_BY(mu_) = 0;

  // Shared databases: what has been announced, and the follower.
  absl::Mutex announce_mu_;
  int64_t announced_sequence_ ABSL_GUARDED_BY(announce_mu_) = 0;
  std::unique_ptr<SqlConnection> announce_conn_ ABSL_GUARDED_BY(announce_mu_);
  std::thread follower_thread_;
  std::atomic<bool> follower_stop_{false};

  absl::Mutex readers_mu_;
  std::vector<std::unique_ptr<SqlConnection>> readers_ ABSL_GUARDED_BY(readers_mu_);
};

// Verifies the audit chain read through `conn` (one snapshot; changes
// nothing): every hash and link, the recorded head and, with `key`, its
// signature; with `checkpoint` (an earlier signed head, checked against
// `key`), that the log still holds its event.
absl::StatusOr<AuditChainReport> VerifyAuditChainOn(SqlConnection* conn, const SqlDialect& sql,
                                                    const VerifyingKey* key, const AuditHead* checkpoint);
// The same, inside a transaction the caller holds (and ends).
absl::StatusOr<AuditChainReport> VerifyAuditChainWithin(SqlConnection* conn, const SqlDialect& sql,
                                                        const VerifyingKey* key, const AuditHead* checkpoint);

}  // namespace refx::storage

#endif  // REFX_STORAGE_SQL_STORE_H_
