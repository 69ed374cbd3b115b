// The storage interface for referrals: what core/ needs from a database, and
// nothing about how a particular database provides it.
//
// Backends (sqlite/ now, postgres/ later) implement ReferralStore and pass the
// same conformance suite (tests/storage). Contracts every backend keeps:
//   * a write returns OK only after it is durable (committed and synced);
//   * reads see every write that has returned;
//   * no call blocks forever: failures come back as Status.
// Errors: NOT_FOUND (no such referral), ALREADY_EXISTS (request id reused with
// a different payload), UNAVAILABLE (database busy or failing; retryable),
// INTERNAL (corruption or a bug).
#ifndef REFX_STORAGE_REFERRAL_STORE_H_
#define REFX_STORAGE_REFERRAL_STORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "storage/audit_record.h"
#include "storage/governance_records.h"

namespace refx::storage {

// One stored referral: the indexed columns and the full document.
struct StoredReferral {
  std::string id;                               // the referral id, no "referrals/" prefix
  std::string sender_agency;                    // agency id
  std::vector<std::string> recipient_agencies;  // agency ids, never containing the sender
  int32_t state = 0;                            // refx.v1.Referral.State value
  std::string area;
  int32_t report_type = 0;                      // refx.v1.ReportType value
  std::vector<std::string> strands;             // strand ids
  absl::Time create_time;
  absl::Time update_time;
  // By when a current recipient must respond; none for referrals stored
  // before deadlines existed (schema 7), which are then never overdue.
  absl::optional<absl::Time> response_deadline;
  // Recipients that redirected the referral: still parties, no longer
  // expected to respond. Written by UpdateReferral; not read back.
  std::vector<std::string> redirected_agencies;
  std::string etag;
  std::string document;                         // serialized refx.v1.Referral
};

// Something that happened to a referral that its parties may be watching
// for (WatchReferrals): written in the same transaction as the change, so a
// change and its event are durable together or not at all.
struct ReferralEvent {
  int64_t sequence = 0;  // assigned by the store: 1, 2, 3... in commit order
  absl::Time time;
  int32_t kind = 0;  // refx.v1.WatchReferralsResponse.Kind value
  std::string referral_id;
  // The agencies that hear about it: the referral's parties when it happened.
  std::vector<std::string> audience;
  std::string referral_document;  // serialized refx.v1.Referral as the change left it
  std::string update_document;    // serialized refx.v1.CaseUpdate, for case-update events
};

// Events addressed to one agency, oldest first.
struct EventQuery {
  std::string agency_id;
  int64_t after_sequence = 0;
  int limit = 100;
};

// Receives committed events in sequence order, once each, from the store's
// writer: must be quick and must not call back into the store's writes.
using EventListener = std::function<void(const std::vector<ReferralEvent>& events)>;

// What one group commit did, for the server's metrics: told on the writer
// thread after each transaction, committed or not, so it must be quick.
struct CommitReport {
  size_t writes = 0;          // writes in the transaction
  int64_t audit_events = 0;   // audit events it committed (0 if it failed)
  absl::Duration duration;    // from the batch's start to its commit (or failure)
  bool committed = false;
};
using CommitObserver = std::function<void(const CommitReport& report)>;

// A create with its idempotency key and the audit event that records it
// (written in the same transaction). A replay writes no event: the caller
// audits the answer it then gives.
struct CreateReferralRequest {
  std::string request_id;           // unique per sender agency
  std::string request_fingerprint;  // digest of the submitted payload
  StoredReferral referral;
  AuditRecord audit;
  // Written with the referral (not on a replay); sequence is assigned.
  absl::optional<ReferralEvent> event;
  // Repeat-victim tokens (keyed HMACs, never plaintext) stored with the
  // referral, indexed by token.
  std::vector<std::string> victim_tokens;
  // Earlier referrals sharing a token count from this time on.
  absl::Time repeat_window_start;
  // If set, called inside the create's transaction (not on a replay),
  // before anything is written, with the number of distinct earlier
  // referrals (created at or after repeat_window_start) sharing any of
  // victim_tokens (0 when there are none); it may rewrite the referral's
  // document and the audit event, which are then written as it left them.
  std::function<void(int64_t earlier, StoredReferral* referral, AuditRecord* audit)> complete;
};

// Which audit events to list, oldest first.
struct AuditQuery {
  int64_t after_sequence = 0;
  std::string agency_id;    // "" = any
  std::string referral_id;  // "" = any (matches one id in the event's list)
  std::string action;       // "" = any
  absl::optional<absl::Time> from, to;
  int limit = 100;
};

// The verdict on the audit chain.
struct AuditChainReport {
  bool intact = true;
  int64_t events_checked = 0;
  int64_t first_bad_sequence = 0;  // 0 when intact
  std::string problem;             // why, when not intact
  // The recorded head, and whether its signature was checked and holds.
  AuditHead head;
  bool head_signature_verified = false;
  // Events a checkpoint records that the log no longer holds (0 if none, or
  // no checkpoint was given).
  int64_t missing_events = 0;
};

struct CreateReferralResult {
  StoredReferral referral;  // the stored referral (the first one on a replay)
  bool replayed = false;    // true if request_id had been seen with this payload
};

// A lifecycle change to an existing referral, with its idempotency key and
// the audit event that records it (written in the same transaction; a replay
// writes neither: the caller audits the answer it gives).
struct UpdateReferralRequest {
  std::string agency_id;            // the acting agency: request ids are unique per agency
  std::string request_id;
  std::string request_fingerprint;  // digest of the submitted request
  std::string expected_etag;        // the update applies only if the stored etag is this
  // The referral as changed: id, state, update_time, response_deadline,
  // etag and document are written; recipients not yet parties become
  // parties, and redirected_agencies stop being expected to respond.
  StoredReferral referral;
  AuditRecord audit;
  // Written with the change (not on a replay); sequence is assigned.
  absl::optional<ReferralEvent> event;
};

struct UpdateReferralResult {
  StoredReferral referral;  // as changed (on a replay: id and document as first changed)
  bool replayed = false;
};

// An earlier update under the same (agency, request id).
struct UpdateReplay {
  std::string fingerprint;
  std::string referral_id;
  std::string document;  // the referral's document as that update left it
};

// One case update as stored: append-only, never changed once written.
struct StoredCaseUpdate {
  std::string referral_id;    // no "referrals/" prefix
  std::string update_id;      // no prefix
  int64_t sequence = 0;       // 1, 2, ... within the referral; assigned by the store
  int32_t kind = 0;           // refx.v1.CaseUpdate.Kind value
  std::string author_agency;  // agency id
  absl::Time create_time;
  std::string document;       // serialized refx.v1.CaseUpdate
};

// A case update with the referral change it causes (new etag, update_time
// and, for a consent change, document), its idempotency key and the audit
// event that records it: all written in one transaction.
struct AddCaseUpdateRequest {
  std::string agency_id;            // the author: request ids are unique per agency
  std::string request_id;           // shares the namespace of UpdateReferral's ids
  std::string request_fingerprint;  // digest of the submitted request
  std::string expected_etag;        // applies only if the referral's stored etag is this
  // The referral as changed: update_time, etag and document are written
  // (state and parties are not touched).
  StoredReferral referral;
  StoredCaseUpdate update;  // `sequence` is ignored: the store assigns it
  AuditRecord audit;
  // Written with the update (not on a replay); sequence is assigned.
  absl::optional<ReferralEvent> event;
};

struct AddCaseUpdateResult {
  // The update as stored. On a replay only referral_id and document (the
  // update as first added) are set.
  StoredCaseUpdate update;
  bool replayed = false;
};

// Keyset position in the (create_time DESC, id DESC) order of a listing.
struct ListCursor {
  absl::Time create_time;
  std::string id;
};

// What to list. Only referrals where `party_agency` is the sender or a
// recipient are ever returned. Empty vectors mean "no filter".
struct ListReferralsQuery {
  std::string party_agency;
  std::vector<int32_t> states;
  std::vector<std::string> areas;
  std::vector<std::string> strands;
  std::vector<int32_t> report_types;
  absl::optional<absl::Time> created_from;  // inclusive
  absl::optional<absl::Time> created_to;    // exclusive
  // Only referrals whose response deadline is strictly before this (none
  // for referrals without one).
  absl::optional<absl::Time> deadline_before;
  // Only referrals `party_agency` must respond to: it is a recipient that
  // has not redirected the referral. (States are filtered with `states`.)
  bool party_must_respond = false;
  absl::optional<ListCursor> after;         // strictly after this position
  int limit = 50;
};

// What a report counts: the referrals created in [created_from,
// created_to), oldest first, strictly after `after` in (create_time, id)
// order, at most `limit`; only those `party_agency` is a party to (sender
// or recipient, redirected or not) when it is set.
struct ScanReferralsQuery {
  absl::Time created_from;
  absl::Time created_to;
  std::string party_agency;
  absl::optional<ListCursor> after;
  int limit = 500;
};

// Events of one kind that happened in [from, to), in sequence order, for
// reports that need what happened as at a period's end; `after_sequence`
// pages on.
struct ScanEventsQuery {
  absl::Time from;
  absl::Time to;
  int32_t kind = 0;  // refx.v1.WatchReferralsResponse.Kind value
  int64_t after_sequence = 0;
  int limit = 500;
};

// Marks EraseReferralData's refusal of a referral under a legal hold.
inline constexpr char kLegalHoldRefusal[] = "type.refx.llr.example/refx.storage.LegalHoldRefusal";
inline bool IsLegalHoldRefusal(const absl::Status& status) {
  return absl::IsFailedPrecondition(status) && status.GetPayload(kLegalHoldRefusal).has_value();
}

// Which stored copy of a referral's data EraseReferralData hands over to be
// rewritten: an event-log copy of the referral or of a case update, a case
// update of the case record, or a stored retry response (the referral as a
// lifecycle change left it, or a case update as first added).
enum class StoredDocumentKind { kReferral, kCaseUpdate, kReplay };

// Data classes erased from one referral, everywhere the store holds them,
// in one transaction with its audit event (ERASURE) and event-log entry.
struct EraseReferralDataRequest {
  // ABORTED unless the referral's stored etag is still this (a change made
  // since the caller read it is erased on the next run).
  std::string expected_etag;
  // The referral as erased: its etag and document are written and its
  // strands replace the stored ones; state, parties and times stay.
  StoredReferral referral;
  // Returns `document` (a stored copy, opened) with the classes erased.
  // Called in the writer's transaction for every copy: quick and pure.
  std::function<absl::StatusOr<std::string>(StoredDocumentKind kind, const std::string& document)> erase;
  // The repeat-victim tokens of what remains; they replace the stored ones.
  std::vector<std::string> victim_tokens;
  // Deletes the referral's subject notifications too (the subject
  // compartment, DATA_CLASS_NCHI_SUBJECT, is erased).
  bool delete_subject_notifications = false;
  // The routing record's own period ended: the referral is deleted. Its
  // row stays as a tombstone holding `referral.document` (its name and
  // erasures) and its creation time, found by no read, because the event
  // log's rows point at it and its sequence stays gapless; each event-log
  // copy becomes `referral.document` and no party hears of those events
  // again. Its parties, strands, tokens, case updates, subject notifications
  // and idempotency rows are deleted (`erase` is not called; the tokens and
  // subject notifications above are ignored). `event`, the parties' notice
  // of the deletion, is the one event of it they still receive.
  bool delete_referral = false;
  AuditRecord audit;
  absl::optional<ReferralEvent> event;
};

struct EraseReferralDataResult {
  int64_t copies_rewritten = 0;  // event-log copies, retry responses, case updates
};

class ReferralStore {
 public:
  virtual ~ReferralStore() = default;

  // Stores a new referral, or returns the one first stored under the same
  // (sender_agency, request_id) as it is now, with `replayed`, if the
  // fingerprint matches (writing nothing, no audit event either).
  // ALREADY_EXISTS if the request id was used with a different fingerprint.
  // Durable on OK.
  virtual absl::StatusOr<CreateReferralResult> CreateReferral(
      const CreateReferralRequest& request) = 0;

  // Applies a lifecycle change in one transaction: if (agency_id,
  // request_id) was seen, returns it as first made (same fingerprint,
  // `replayed`, nothing written) or fails with ALREADY_EXISTS; otherwise
  // ABORTED unless the stored etag equals `expected_etag`, NOT_FOUND if the
  // referral does not exist. The audit event is written in the same
  // transaction. Durable on OK.
  virtual absl::StatusOr<UpdateReferralResult> UpdateReferral(const UpdateReferralRequest& request) = 0;

  // The update first made under (agency_id, request_id), if any.
  virtual absl::StatusOr<absl::optional<UpdateReplay>> FindUpdate(absl::string_view agency_id,
                                                                  absl::string_view request_id) = 0;

  // Appends a case update in one transaction: if (agency_id, request_id)
  // was seen (by this method or UpdateReferral), returns it (same
  // fingerprint: the update's document as first stored, `replayed`, nothing
  // written) or fails with ALREADY_EXISTS; otherwise ABORTED unless the referral's stored etag
  // equals `expected_etag`, NOT_FOUND if the referral does not exist. Writes
  // the update with the next sequence of its referral, the referral's new
  // etag/update_time/document, the idempotency key and the audit event.
  // Durable on OK. There is no way to change or delete an update.
  virtual absl::StatusOr<AddCaseUpdateResult> AddCaseUpdate(const AddCaseUpdateRequest& request) = 0;

  // CreateReferral, UpdateReferral and AddCaseUpdate without blocking the
  // calling thread: `done` runs once, with what the blocking form would
  // return, after the write is durable or has failed (on a thread of the
  // store's: keep it quick, and never call a blocking write from it). The
  // server completes its write calls from here, so concurrent writes share
  // a group commit instead of each holding a worker thread until its own.
  template <typename T>
  using Done = std::function<void(absl::StatusOr<T>)>;
  virtual void CreateReferralAsync(CreateReferralRequest request, Done<CreateReferralResult> done) {
    done(CreateReferral(request));
  }
  virtual void UpdateReferralAsync(UpdateReferralRequest request, Done<UpdateReferralResult> done) {
    done(UpdateReferral(request));
  }
  virtual void AddCaseUpdateAsync(AddCaseUpdateRequest request, Done<AddCaseUpdateResult> done) {
    done(AddCaseUpdate(request));
  }

  // The updates of a referral with sequence > `after_sequence`, oldest
  // first, at most `limit`. Empty (not NOT_FOUND) for an unknown referral:
  // the record gate is core's.
  virtual absl::StatusOr<std::vector<StoredCaseUpdate>> ListCaseUpdates(absl::string_view referral_id,
                                                                        int64_t after_sequence, int limit) = 0;

  // One update of one referral; NOT_FOUND if that referral has no such
  // update (including one that belongs to another referral).
  virtual absl::StatusOr<StoredCaseUpdate> GetCaseUpdate(absl::string_view referral_id,
                                                         absl::string_view update_id) = 0;

  // NOT_FOUND if there is no referral with this id.
  virtual absl::StatusOr<StoredReferral> GetReferral(absl::string_view id) = 0;

  // Referrals matching `query`, newest first, at most `query.limit`.
  virtual absl::StatusOr<std::vector<StoredReferral>> ListReferrals(
      const ListReferralsQuery& query) = 0;

  // Referrals matching `query`, oldest first, at most `query.limit`.
  virtual absl::StatusOr<std::vector<StoredReferral>> ScanReferrals(const ScanReferralsQuery& query) = 0;
  // The events `query` selects, without their audience or update document.
  virtual absl::StatusOr<std::vector<ReferralEvent>> ScanEvents(const ScanEventsQuery& query) = 0;

  // Appends one audit event (durable on OK). UNAVAILABLE if it cannot be
  // written: the caller must then fail its call and return no data.
  virtual absl::Status RecordAudit(const AuditRecord& record) = 0;

  // Appends an aggregate release's audit event `record` (its `release` the
  // ledger entry) only if `check` allows it, given the ledger's earlier
  // entries whose text contains `marker` (a period's:
  // core::reporting::PeriodMarker), oldest first: read and appended in one
  // write, so two releases racing (on two replicas) are checked one after
  // the other. `check`'s error is returned and nothing written; UNAVAILABLE
  // if the event cannot be written.
  virtual absl::Status RecordRelease(const AuditRecord& record, absl::string_view marker,
                                     const std::function<absl::Status(const std::vector<LedgerRow>&)>& check) = 0;

  // As RecordAudit, without blocking the calling thread: `done` runs once,
  // with the outcome, after the event is durable or has failed (on a thread
  // of the store's; keep it quick). Watch streams use it so that thousands
  // of subscribers never each hold a thread while their events commit.
  virtual void RecordAuditAsync(const AuditRecord& record, std::function<void(absl::Status)> done) {
    done(RecordAudit(record));
  }

  // Events addressed to `query.agency_id` after `query.after_sequence`,
  // oldest first, at most `query.limit`.
  virtual absl::StatusOr<std::vector<ReferralEvent>> ListEvents(const EventQuery& query) = 0;

  // The sequence of the newest committed event (0 if none).
  virtual absl::StatusOr<int64_t> LatestEventSequence() = 0;

  // Sets the one listener told about committed events (before any write;
  // nullptr to clear). Events committed while none is set are only in the
  // log, which ListEvents reads.
  virtual void SetEventListener(EventListener listener) = 0;

  // Audit events matching `query`, oldest first.
  virtual absl::StatusOr<std::vector<AuditRecord>> ListAuditEvents(const AuditQuery& query) = 0;

  // Recomputes every hash of the audit chain and checks sequence, links,
  // the recorded head (which catches a truncated tail) and the head's
  // signature (which catches a head rewritten over a cut tail). With a
  // checkpoint (an earlier signed head), also that the log still holds that
  // event with that hash (which catches an older copy restored).
  virtual absl::StatusOr<AuditChainReport> VerifyAuditChain(const AuditHead* checkpoint = nullptr) = 0;

  // The audit chain's head as recorded (sequence 0 for an empty log).
  virtual absl::StatusOr<AuditHead> AuditChainHead() = 0;

  // Whether any repeat-victim token is stored (a key made afresh would
  // silently stop them matching, so the server refuses to make one then).
  virtual absl::StatusOr<bool> HasVictimTokens() = 0;
  // The ids of the referrals whose victim has `token` (subject access).
  virtual absl::StatusOr<std::vector<std::string>> FindReferralsByVictimToken(absl::string_view token) = 0;

  // Erases data classes of one referral everywhere it is stored (see
  // EraseReferralDataRequest): NOT_FOUND without the referral, ABORTED on a
  // stale etag, FAILED_PRECONDITION marked IsLegalHoldRefusal if the
  // referral is under a legal hold (checked in the erasure's transaction,
  // so a hold placed after the caller looked still stops it), UNAVAILABLE
  // if the audit event cannot be written. Durable on OK.
  virtual absl::StatusOr<EraseReferralDataResult> EraseReferralData(const EraseReferralDataRequest& request) = 0;

  // Stores one subject notification step with its audit event in one
  // transaction, numbered after the referral's last; touches nothing else.
  // If one with the same request id is stored for this referral: that one,
  // with `replayed` (nothing written, no audit event). NOT_FOUND without the
  // referral; RESOURCE_EXHAUSTED if it holds `max_per_referral` already;
  // UNAVAILABLE if the audit event cannot be written.
  virtual absl::StatusOr<RecordSubjectNotificationResult> RecordSubjectNotification(
      const StoredSubjectNotification& notification, int64_t max_per_referral, const AuditRecord& audit) = 0;
  // The subject notification steps of a referral, oldest first; empty for
  // an unknown referral (the record gate is core's).
  virtual absl::StatusOr<std::vector<StoredSubjectNotification>> ListSubjectNotifications(
      absl::string_view referral_id) = 0;

  // Places a legal hold with its audit event in one transaction:
  // ALREADY_EXISTS if the referral is held already, NOT_FOUND without it.
  virtual absl::Status PlaceLegalHold(const LegalHold& hold, const AuditRecord& audit) = 0;
  // Releases the hold on `referral_id` with its audit event: NOT_FOUND if
  // it is not held.
  virtual absl::Status ReleaseLegalHold(absl::string_view referral_id, const AuditRecord& audit) = 0;
  // Every hold, by referral id.
  virtual absl::StatusOr<std::vector<LegalHold>> ListLegalHolds() = 0;

  // Stores a new data subject request with its audit event in one
  // transaction. If this agency stored one under the same request id
  // already: that one, with `replayed` (nothing written, no audit event).
  virtual absl::StatusOr<CreateSubjectRequestResult> CreateSubjectRequest(const StoredSubjectRequest& request,
                                                                          const AuditRecord& audit) = 0;
  // Replaces a data subject request's document and version with its audit
  // event in one transaction, if its stored version is still
  // `expected_version`: ABORTED otherwise, NOT_FOUND without it.
  virtual absl::Status UpdateSubjectRequest(const StoredSubjectRequest& request, int64_t expected_version,
                                            const AuditRecord& audit) = 0;
  // The data subject request `id`, or nullopt.
  virtual absl::StatusOr<absl::optional<StoredSubjectRequest>> GetSubjectRequest(absl::string_view id) = 0;
  // Up to `limit` data subject requests in the order they were recorded,
  // from the one after (`after_time`, `after_id`) (both empty: the first).
  virtual absl::StatusOr<std::vector<StoredSubjectRequest>> ListSubjectRequests(absl::Time after_time,
                                                                                absl::string_view after_id,
                                                                                int limit) = 0;

  // Stores `acknowledgement` with its audit event in one transaction. If
  // the alert is acknowledged already: the stored acknowledgement, with
  // `replayed`, when it came from the same agency under the same request
  // id (nothing written, no audit event either); ALREADY_EXISTS otherwise.
  virtual absl::StatusOr<AcknowledgeTensionAlertResult> AcknowledgeTensionAlert(
      const TensionAcknowledgement& acknowledgement, const AuditRecord& audit) = 0;
  // The acknowledgements of alerts of weeks `first_week`..`last_week`
  // (labels, inclusive), by alert name.
  virtual absl::StatusOr<std::vector<TensionAcknowledgement>> ListTensionAcknowledgements(
      absl::string_view first_week, absl::string_view last_week) = 0;

  // Makes a new data key, wrapped by the key-encryption key, with its audit
  // event in one transaction, and seals with it from then on. Other
  // replicas pick it up at their next health check (every 2 s in the
  // server) or on the first value they read under it.
  // FAILED_PRECONDITION without encryption at rest.
  virtual absl::StatusOr<DataKeyRotation> RotateDataKey(const AuditRecord& audit) = 0;
  // Rewrites every stored value not sealed with the newest data key (older
  // keys, and values stored before encryption at rest) under it, a page of
  // `page_size` rows per transaction beside the live writes, without
  // changing any document, etag or event. Repeats the scan (at most three
  // passes) until a pass finds nothing left to move. FAILED_PRECONDITION
  // without encryption at rest.
  virtual absl::StatusOr<ReencryptReport> ReencryptStoredValues(
      int page_size, const std::function<void(const ReencryptProgress&)>& progress) = 0;

  // Whether the store can serve (for health checks). Also picks up data
  // keys another replica made.
  virtual absl::Status CheckHealth() = 0;

  // Referrals in one of `awaiting_states` whose response deadline is before
  // `now`, counted per recipient that must still respond (has not
  // redirected): the operator's overdue gauge. Agencies with none are absent.
  virtual absl::StatusOr<std::map<std::string, int64_t>> CountOverdueByRecipient(
      absl::Time now, const std::vector<int32_t>& awaiting_states) = 0;

  // The schema version of the database (logged at start).
  virtual int SchemaVersion() const = 0;
};

}  // namespace refx::storage

#endif  // REFX_STORAGE_REFERRAL_STORE_H_
