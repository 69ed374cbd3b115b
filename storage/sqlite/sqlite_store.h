// The embedded SQLite backend of ReferralStore.
//
// Durability and throughput come from one design: a single writer thread owns
// the only read-write connection and commits every write waiting in its queue
// in one transaction (group commit: many calls, one fsync). A caller's write
// returns only after the COMMIT holding it has returned, with WAL and
// synchronous=FULL, so an acknowledged write survives a crash. Each write runs
// in its own SAVEPOINT, so one bad write fails alone and never takes its
// batch-mates with it. Reads use a small pool of read-only connections and
// never wait for the writer (WAL).
#ifndef REFX_STORAGE_SQLITE_SQLITE_STORE_H_
#define REFX_STORAGE_SQLITE_SQLITE_STORE_H_

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/types/optional.h"
#include "common/signing.h"
#include "storage/referral_store.h"
#include "storage/sqlite/sqlite_connection.h"

namespace refx::storage::sqlite {

class SqliteStore final : public ReferralStore {
 public:
  struct Options {
    std::string path;            // database file; created with its schema if absent
    int max_batch_size = 256;    // writes per transaction at most
    int read_connections = 4;
    // Signs the audit chain's head at every commit, and must verify the head
    // found on open (FAILED_PRECONDITION otherwise; a head from before
    // signing is signed then). Unset: heads are left unsigned (tests of the
    // store alone, and offline tools that only read).
    absl::optional<SigningKey> audit_head_key;
    // Whether a database from before heads were signed (schema < 9) may
    // have its head signed on open: only when the key was made by this start.
    // Otherwise an unsigned or missing head means its signature (or the
    // head) was removed, and the open fails.
    bool adopt_unsigned_head = false;
  };

  // Opens the database, applies pending migrations and starts the writer.
  // FAILED_PRECONDITION if the file's schema is newer than this binary.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Create(const Options& options);

  // Finishes queued writes, then stops the writer.
  ~SqliteStore() override;

  absl::StatusOr<CreateReferralResult> CreateReferral(const CreateReferralRequest& request) override;
  absl::StatusOr<UpdateReferralResult> UpdateReferral(const UpdateReferralRequest& request) override;
  absl::StatusOr<absl::optional<UpdateReplay>> FindUpdate(absl::string_view agency_id,
                                                          absl::string_view request_id) override;
  absl::StatusOr<AddCaseUpdateResult> AddCaseUpdate(const AddCaseUpdateRequest& request) override;
  absl::StatusOr<std::vector<StoredCaseUpdate>> ListCaseUpdates(absl::string_view referral_id,
                                                                int64_t after_sequence, int limit) override;
  absl::StatusOr<StoredCaseUpdate> GetCaseUpdate(absl::string_view referral_id,
                                                 absl::string_view update_id) override;
  absl::StatusOr<StoredReferral> GetReferral(absl::string_view id) override;
  absl::StatusOr<std::vector<StoredReferral>> ListReferrals(const ListReferralsQuery& query) override;
  absl::Status RecordAudit(const AuditRecord& record) override;
  void RecordAuditAsync(const AuditRecord& record, std::function<void(absl::Status)> done) override;
  absl::StatusOr<std::vector<ReferralEvent>> ListEvents(const EventQuery& query) override;
  absl::StatusOr<int64_t> LatestEventSequence() override;
  void SetEventListener(EventListener listener) override;
  absl::StatusOr<std::vector<AuditRecord>> ListAuditEvents(const AuditQuery& query) override;
  absl::StatusOr<AuditChainReport> VerifyAuditChain(const AuditHead* checkpoint = nullptr) override;
  absl::StatusOr<bool> HasVictimTokens() override;
  absl::StatusOr<AuditHead> AuditChainHead() override;
  absl::Status CheckHealth() override;

  // The schema version on disk (for tests and `refx-server --version`).
  int schema_version() const { return schema_version_; }
  // Transactions committed by the writer so far (for group-commit tests).
  int64_t commits() const;

 private:
  // One queued write: runs inside the writer's transaction and a savepoint.
  struct Write {
    std::function<absl::Status(Connection*)> apply;
    absl::Status result;
    bool done = false;
    // Set for writes nobody waits on: called with the result, then the
    // Write is deleted by the writer.
    std::function<void(absl::Status)> on_done;
  };

  explicit SqliteStore(const Options& options) : options_(options) {}
  absl::Status Open();
  // Creates the database file 0600 if absent and narrows it and its -wal
  // and -shm files to their owner if wider.
  absl::Status RestrictDatabaseFiles();
  absl::Status Migrate(Connection* conn);
  // Queues `apply` and waits until the transaction holding it committed.
  absl::Status Submit(std::function<absl::Status(Connection*)> apply);
  // Queues `apply`; `done` gets the result after the commit (or failure).
  void SubmitAsync(std::function<absl::Status(Connection*)> apply, std::function<void(absl::Status)> done);
  void WriterLoop();
  // Appends `record` to the audit chain inside the writer's transaction
  // (writer thread only).
  absl::Status AppendAudit(Connection* conn, AuditRecord record);
  // Appends `event` to the event log inside the writer's transaction
  // (writer thread only); it is announced once the transaction commits.
  absl::Status AppendEvent(Connection* conn, ReferralEvent event);
  // The newest event's sequence as committed (writer thread).
  absl::Status ReloadEventSequence(Connection* conn);
  // Binds :signature of kUpsertAuditHead for the head in memory.
  void BindHeadSignature(Statement* statement) const;
  // On open: the head found must carry this key's signature. A database
  // with no signed head is signed now only if it had none to have: created
  // by this open, or from before schema 9 met by a key made for it; any
  // other unsigned or missing head fails the open.
  absl::Status CheckHeadSignature(const absl::optional<AuditHead>& head);

  std::unique_ptr<Connection> AcquireReader();
  void ReleaseReader(std::unique_ptr<Connection> conn);

  const Options options_;
  int schema_version_ = 0;
  int schema_version_at_open_ = 0;  // before this open's migrations
  std::unique_ptr<Connection> writer_conn_;  // used only by writer_thread_
  // The audit chain's head as committed (plus, during a batch, as written so
  // far); touched only by Open() and the writer thread.
  int64_t audit_sequence_ = 0;
  std::string audit_hash_;
  // The event log's head and the events of the batch being written; writer
  // thread (and Open) only.
  int64_t event_sequence_ = 0;
  std::vector<ReferralEvent> batch_events_;
  std::thread writer_thread_;

  absl::Mutex listener_mu_;
  EventListener listener_ ABSL_GUARDED_BY(listener_mu_);

  mutable absl::Mutex mu_;
  std::deque<Write*> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t commits_ ABSL_GUARDED_BY(mu_) = 0;

  absl::Mutex readers_mu_;
  std::vector<std::unique_ptr<Connection>> readers_ ABSL_GUARDED_BY(readers_mu_);
};

// Verifies the audit chain of a database file without a server: opens it
// read-only and changes nothing (refx-admin audit verify). With `key`, the
// head's signature is checked too; with `checkpoint` (a signed head exported
// earlier, checked against `key`), the log must still hold its event.
absl::StatusOr<AuditChainReport> VerifyAuditChainInFile(const std::string& path, const VerifyingKey* key = nullptr,
                                                        const AuditHead* checkpoint = nullptr);

}  // namespace refx::storage::sqlite

#endif  // REFX_STORAGE_SQLITE_SQLITE_STORE_H_
