// Referral use cases: create, get and list, lifecycle transitions and case
// updates, for an authenticated caller.
//
// Enforces, with the agreement snapshot the call was admitted under
// (Caller::agreement): input validation; on writes, that the caller's role
// may set every field it set; the record gate (only the sender and
// recipients may see a referral, a Prevent-only role only Prevent-relevant
// ones, and anyone else gets exactly the NOT_FOUND of a referral that does
// not exist); and on reads, redaction to the data classes the agreement lets
// flow to the caller, then the read mask. Methods block on storage, so the server
// calls them from its worker pool, never from a gRPC reactor thread.
//
// Errors: INVALID_ARGUMENT with field violations; NOT_FOUND; UNAVAILABLE
// (storage; retry with the same request id is safe).
#ifndef REFX_CORE_REFERRAL_MANAGER_H_
#define REFX_CORE_REFERRAL_MANAGER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/optional.h"
#include "common/clock.h"
#include "common/sealed_token.h"
#include "core/auditor.h"
#include "core/caller.h"
#include "core/partnership.h"
#include "core/redaction.h"
#include "core/referral_lifecycle.h"
#include "core/render_cache.h"
#include "refx/v1/case_update.pb.h"
#include "refx/v1/referral.pb.h"
#include "refx/v1/referral_service.pb.h"
#include "storage/referral_store.h"

namespace refx::core {

// A page of ListReferrals: its referrals already rendered and serialized
// for the reader, which the page's bytes enclose as they are.
struct ReferralPage {
  std::vector<std::shared_ptr<const RenderedReferral>> referrals;
  std::string next_page_token;
  // The refx.v1.ListReferralsResponse these make, serialized.
  std::string Serialize() const;
};

// Parameters of a listing, as plain values (server/ converts the request).
struct ListReferralsParams {
  int page_size = 0;  // 0 -> default
  std::string page_token;
  std::vector<v1::Referral::State> states;
  std::vector<std::string> areas;
  std::vector<std::string> strands;
  std::vector<v1::ReportType> report_types;
  absl::optional<absl::Time> created_from;
  absl::optional<absl::Time> created_to;
  // Awaiting a response and past its deadline, by the server's clock.
  bool overdue = false;
  // Awaiting a response from the caller's agency (a current recipient).
  bool awaiting_my_response = false;
  // The filter as sent: its set fields say which fields of a referral the
  // listing tests (`filters_field`), so which classes a referral's view
  // must include for it to match.
  v1::ReferralFilter filter;
  std::vector<std::string> read_mask;  // field paths; empty = everything the caller may see
};

// One lifecycle transition as requested (server/ converts each request).
struct TransitionParams {
  LifecycleAction action = LifecycleAction::kAccept;
  std::string name;  // referrals/{id}
  std::string request_id;
  std::string etag;
  v1::DeclineReason decline_reason = v1::DECLINE_REASON_UNSPECIFIED;  // decline
  v1::Outcome outcome = v1::OUTCOME_UNSPECIFIED;                     // complete
  std::string text;           // decline reason_text, complete note, cancel/reopen reason
  std::string target_agency;  // redirect: agencies/{id}
};

// One event as one subscriber may see it, with what its audit event needs.
struct RenderedEvent {
  v1::WatchReferralsResponse message;
  std::string referral_id;
  Disclosure disclosed;    // DisclosureOf(message)
  bool to_sender = false;  // the subscriber sent the referral (consultation, not disclosure)
};

// One case update as requested (server/ converts AddCaseUpdateRequest).
struct AddCaseUpdateParams {
  std::string parent;  // referrals/{id}
  std::string request_id;
  std::string etag;
  v1::CaseUpdate update;  // output-only fields are ignored
};

// One subject notification step as requested (server/ converts
// RecordSubjectNotificationRequest).
struct RecordSubjectNotificationParams {
  std::string parent;  // referrals/{id}
  std::string request_id;
  v1::SubjectNotification notification;  // output-only fields are ignored
};

// Limits of a subject notification step.
inline constexpr size_t kMaxSubjectNotificationNoteBytes = 1024;
inline constexpr int64_t kMaxSubjectNotificationsPerReferral = 100;

// Limits of a case update's text fields, in bytes of UTF-8.
inline constexpr size_t kMaxCaseUpdateTextBytes = 4 * 1024;
inline constexpr size_t kMaxPoliceReferenceBytes = 256;

inline constexpr int kDefaultPageSize = 50;
inline constexpr int kMaxPageSize = 500;

class ReferralManager {
 public:
  struct Options {
    const PartnershipHolder* registry = nullptr;  // not owned; the registry in force
    storage::ReferralStore* store = nullptr;  // not owned
    Auditor* auditor = nullptr;               // not owned
    const Clock* clock = nullptr;             // default: SystemClock
    // HMAC key of repeat-victim tokens (core/victim_tokens.h); empty turns
    // matching off (no tokens stored, no count on new referrals).
    std::string victim_token_key;
    // The 32-byte key that seals page tokens (common/sealed_token.h).
    // Required.
    std::string page_token_key;
    // Per-request limits (server config `limits`): more is
    // RESOURCE_EXHAUSTED with ErrorInfo READ_MASK_TOO_LARGE /
    // TOO_MANY_RECIPIENTS, before anything else is looked at.
    int max_read_mask_paths = 64;
    int max_recipients = 20;
    // Referrals kept rendered for list pages (core/render_cache.h); 0
    // renders every listed referral afresh.
    size_t list_render_cache_entries = 4096;
  };
  static absl::StatusOr<std::unique_ptr<ReferralManager>> Create(Options options);

  // Creates a referral from the caller's agency; output-only fields of
  // `input` are ignored. A retry with the same request id and referral returns
  // the first result; a different referral under a used id is
  // INVALID_ARGUMENT (field `request_id`).
  //
  // Every successful method writes the call's audit event itself (with the
  // data, or before returning any) and marks `audit->recorded`; on an error
  // it writes none and the caller records the refusal.
  absl::StatusOr<v1::Referral> CreateReferral(const Caller& caller, const v1::Referral& input,
                                              const std::string& request_id, CallAudit* audit);

  // The writes (CreateReferral, Transition, AddCaseUpdate) without holding
  // the calling thread while the store commits: the checks and the change
  // are made on the calling thread, then `done` runs once with what the
  // blocking form returns, from the store's thread after the commit (or at
  // once, on the calling thread, for a refusal or a retry answered without a
  // write). `audit` must live until then. The server answers its write
  // calls from `done`, so writes in flight share group commits instead of
  // each keeping a worker thread waiting for its own.
  template <typename T>
  using Done = std::function<void(absl::StatusOr<T>)>;
  void CreateReferralAsync(const Caller& caller, const v1::Referral& input, const std::string& request_id,
                           CallAudit* audit, Done<v1::Referral> done);
  void TransitionAsync(const Caller& caller, const TransitionParams& params, CallAudit* audit,
                       Done<v1::Referral> done);
  void AddCaseUpdateAsync(const Caller& caller, const AddCaseUpdateParams& params, CallAudit* audit,
                          Done<v1::CaseUpdate> done);

  // `name` is `referrals/{id}`; `read_mask` as in ListReferralsParams.
  absl::StatusOr<v1::Referral> GetReferral(const Caller& caller, const std::string& name,
                                           const std::vector<std::string>& read_mask, CallAudit* audit);

  // Referrals awaiting a response (REQUESTED or REDIRECTED) past their
  // deadline now, counted per recipient agency that must still respond: the
  // operator's overdue gauge. Counts of routing facts only, for the
  // platform, not for any agency: no caller, no audit event.
  absl::StatusOr<std::map<std::string, int64_t>> CountOverdueByRecipient();

  // A page of the referrals the caller is a party to, newest first. A
  // referral is on it only if the caller may see it at all (the record
  // gate) and its view of the referral includes every field the filter
  // tests; the page, its size, its token and whether there is a next page
  // depend on nothing else. The page token is sealed (opaque, authenticated)
  // and bound to the caller's agency and filters: any other token is
  // INVALID_ARGUMENT. Each referral comes rendered for the caller's view
  // (from the render cache when it was rendered so before), and the audit
  // event records what the page's bytes disclose.
  absl::StatusOr<ReferralPage> ListReferrals(const Caller& caller, const ListReferralsParams& params, CallAudit* audit);

  // Makes one lifecycle transition (core/referral_lifecycle.h) and returns
  // the referral as changed, trimmed for the caller. Errors: INVALID_ARGUMENT
  // (fields; request_id reused with a different request), NOT_FOUND (not a
  // party), PERMISSION_DENIED NOT_ACTING_PARTY, FAILED_PRECONDITION with
  // PreconditionFailure (state), ABORTED (etag), UNAVAILABLE.
  // Defined in referral_transitions.cc.
  absl::StatusOr<v1::Referral> Transition(const Caller& caller, const TransitionParams& params, CallAudit* audit);

  // An event of the log as `caller` may see it (WatchReferrals): nullopt if
  // the caller is not in its audience or its role may not see the referral
  // (the record gate); otherwise the referral trimmed as GetReferral would
  // trim it. Writes no audit event: the watch session audits each batch.
  // `current_document` is the referral as it is now: an event older than
  // the referral's latest change discloses no more than a read now would
  // (consent withdrawn since then applies to it too).
  absl::StatusOr<absl::optional<RenderedEvent>> RenderEvent(const Caller& caller, const storage::ReferralEvent& event,
                                                            const std::string& current_document,
                                                            const std::vector<std::string>& read_mask) const;
  // Referrals kept rendered for list pages (for metrics).
  const RenderCache& list_render_cache() const { return list_renders_; }

  // The read mask check of GetReferral, for a watch's mask.
  absl::Status CheckWatchReadMask(const Caller& caller, const std::vector<std::string>& read_mask) const;
  // Appends a case update (append-only: nothing is changed or deleted) and
  // returns it trimmed for the caller. Any current party may add one, in any
  // state: the sender or a recipient that has not redirected it away. The
  // referral's etag and update_time change; a CONSENT_CHANGE replaces its
  // victim.consent, so every later read is decided under the new consent.
  // Errors: INVALID_ARGUMENT (fields; request_id reused with a different
  // request; a `supersedes` naming no update of this referral), NOT_FOUND
  // (not a party), PERMISSION_DENIED NOT_ACTING_PARTY (redirected away) or
  // FIELD_NOT_WRITABLE (naming fields), ABORTED (etag), UNAVAILABLE.
  // Defined in case_updates.cc.
  absl::StatusOr<v1::CaseUpdate> AddCaseUpdate(const Caller& caller, const AddCaseUpdateParams& params,
                                               CallAudit* audit);

  // A page of a referral's updates, oldest first, each trimmed to what the
  // caller may read under the referral's current consent; the disclosure is
  // audited before it is returned. Errors: INVALID_ARGUMENT (`parent`,
  // `page_size`, `page_token`), NOT_FOUND (not a party), UNAVAILABLE.
  absl::StatusOr<v1::ListCaseUpdatesResponse> ListCaseUpdates(const Caller& caller, const std::string& parent,
                                                              int page_size, const std::string& page_token,
                                                              CallAudit* audit);

  // The notification of an NCHI subject (the Code's notified, reply
  // received, withheld with a reason), kept apart from the referral so that
  // recording a step changes nothing any party reads of it (ADR 9). Only
  // the sender records steps, and only while the referral holds a subject
  // record; a reader needs DATA_CLASS_NCHI_SUBJECT in its view. Errors as
  // the RPCs document (referral_service.proto). Defined in
  // subject_notifications.cc.
  absl::StatusOr<v1::SubjectNotification> RecordSubjectNotification(const Caller& caller,
                                                                    const RecordSubjectNotificationParams& params,
                                                                    CallAudit* audit);
  absl::StatusOr<v1::ListSubjectNotificationsResponse> ListSubjectNotifications(const Caller& caller,
                                                                                const std::string& parent,
                                                                                CallAudit* audit);

 private:
  ReferralManager(Options options, TokenSealer page_tokens)
      : options_(std::move(options)),
        page_tokens_(std::move(page_tokens)),
        list_renders_(options_.list_render_cache_entries) {}
  // A referral as stored and as parsed, once the record gate let it through.
  struct VisibleReferral {
    storage::StoredReferral stored;
    v1::Referral referral;  // not yet redacted
  };
  // The record gate, for every path that reads one referral by name: loads
  // `referrals/{id}` and returns it only if the caller is its sender or a
  // recipient and its role may see it; otherwise exactly the NOT_FOUND of a
  // referral that does not exist, so existence never leaks.
  absl::StatusOr<VisibleReferral> LoadVisible(const Caller& caller, const std::string& name,
                                              const std::string& id) const;
  // Parses a stored document; NOT_FOUND if the caller's role may not see
  // this record at all.
  absl::StatusOr<v1::Referral> Parse(const Caller& caller, const storage::StoredReferral& stored,
                                     bool record_gate = true) const;
  // Redacts `referral` to what the caller may read and trims it to `mask`.
  void Trim(const Caller& caller, const std::vector<std::string>& mask, v1::Referral* referral) const;
  // The view of a replayed change: the stricter of the referral as the
  // change left it (`then`) and as it is now, so a retry after a consent
  // withdrawal discloses no more than a fresh read would; nullopt if the
  // caller may no longer see the referral at all.
  absl::optional<ReadView> ReplayView(const Caller& caller, const v1::Referral& then, const v1::Referral& now) const;
  // The audit action of handing `referral_sender`'s data to `caller`.
  static AuditAction ReadAction(const Caller& caller, const std::string& referral_sender_agency);
  // What the caller hears when the store refuses a change to `name`: the
  // request id reused, the etag stale, the referral gone; anything else as is.
  static absl::Status ChangeRefused(const absl::Status& store_status, const std::string& name,
                                    const absl::Status& request_id_reused, const absl::Status& stale);
  // The writes' two halves: checked and built on the calling thread
  // (Prepare*), answered from the store's completion.
  struct PreparedCreate;
  struct PreparedTransition;
  struct PreparedCaseUpdate;
  absl::StatusOr<PreparedCreate> PrepareCreate(const Caller& caller, const v1::Referral& input,
                                               const std::string& request_id, CallAudit* audit);
  absl::StatusOr<v1::Referral> FinishCreate(const Caller& caller, CallAudit* audit, const v1::Referral& answer,
                                            const absl::StatusOr<storage::CreateReferralResult>& result);
  absl::StatusOr<PreparedTransition> PrepareTransition(const Caller& caller, const TransitionParams& params,
                                                       CallAudit* audit);
  absl::StatusOr<PreparedCaseUpdate> PrepareCaseUpdate(const Caller& caller, const AddCaseUpdateParams& params,
                                                       CallAudit* audit);
  // The second half of a change to an existing referral: answers at once if
  // `prepared` already holds the answer (or a refusal), else hands its store
  // request to `submit` and answers from the commit (`replay` makes the
  // answer when a racing retry committed first).
  template <typename Answer, typename Prepared, typename Result>
  static void SubmitPrepared(absl::StatusOr<Prepared> prepared, const std::string& name, CallAudit* audit,
                             std::function<void(decltype(Prepared::request), Done<Result>)> submit,
                             std::function<absl::StatusOr<Answer>(const Prepared&, const Result&)> replay,
                             Done<Answer> done);
  // The answer to a retried change (its first result under today's
  // agreement and consent), with its audit event to write before answering.
  absl::StatusOr<v1::Referral> ReplayTransition(const Caller& caller, const std::string& name,
                                                const VisibleReferral& visible, const std::string& referral_id,
                                                const std::string& document, CallAudit* audit) const;
  absl::StatusOr<v1::CaseUpdate> ReplayCaseUpdate(const Caller& caller, const VisibleReferral& visible,
                                                  const std::string& referral_id, const std::string& document,
                                                  CallAudit* audit) const;
  // Keeps only the fields in `mask` (and the name); nothing if it is empty.
  static void TrimToMask(const std::vector<std::string>& mask, v1::Referral* referral);
  // PERMISSION_DENIED (FIELD_NOT_SHARED) if `mask` asks for a class the
  // caller can never read; INVALID_ARGUMENT if it names no field.
  absl::Status CheckReadMask(const Caller& caller, const std::vector<std::string>& mask,
                             const std::string& field) const;

  // The rendered form of a listed row for `caller` and `mask`: from the
  // cache when the row's document is the one it was rendered from.
  // `view` is ListView(caller, mask).
  absl::StatusOr<std::shared_ptr<const RenderedReferral>> RenderListed(const Caller& caller,
                                                                       const std::vector<std::string>& mask,
                                                                       const std::string& view,
                                                                       storage::StoredReferral* row);

  Options options_;
  TokenSealer page_tokens_;
  RenderCache list_renders_;
};

template <typename Answer, typename Prepared, typename Result>
void ReferralManager::SubmitPrepared(absl::StatusOr<Prepared> prepared, const std::string& name, CallAudit* audit,
                                     std::function<void(decltype(Prepared::request), Done<Result>)> submit,
                                     std::function<absl::StatusOr<Answer>(const Prepared&, const Result&)> replay,
                                     Done<Answer> done) {
  if (!prepared.ok()) return done(prepared.status());
  if (prepared->answered.has_value()) return done(*std::move(prepared->answered));
  auto request = std::move(prepared->request);
  auto waiting = std::make_shared<Prepared>(*std::move(prepared));
  submit(std::move(request), [name, audit, waiting, replay = std::move(replay),
                              done = std::move(done)](absl::StatusOr<Result> result) {
    if (!result.ok()) return done(ChangeRefused(result.status(), name, waiting->request_id_reused, waiting->stale));
    // A retry of the same request that committed between our look-up and
    // this write is answered as any retry is.
    if (result->replayed) return done(replay(*waiting, *result));
    audit->recorded = true;  // in the transaction that made the change
    done(std::move(waiting->answer));
  });
}

// The event a change to `stored` (as changed) puts in the event log: its
// audience is the referral's parties after the change.
storage::ReferralEvent MakeEvent(const storage::StoredReferral& stored, v1::WatchReferralsResponse::Kind kind);
// Case update names: `referrals/{id}/updates/{update_id}`, both 32 hex digits.
std::string CaseUpdateName(const std::string& referral_id, const std::string& update_id);

// `m`'s bytes, the same every time for the same message (map order fixed):
// stored documents and fingerprints are compared as bytes.
std::string SerializeDeterministic(const google::protobuf::Message& m);

// A fresh etag: a random version id (20 hex digits). It says only that the
// referral changed, so it cannot be computed from (or test guesses of) any
// field, visible or withheld.
std::string NewEtag();

// Referral names: `referrals/{id}` with a 32-hex-digit id.
std::string ReferralName(const std::string& id);
// The id in `name`, or "" if it is not a well-formed referral name.
std::string ReferralIdFromName(const std::string& name);

}  // namespace refx::core

#endif  // REFX_CORE_REFERRAL_MANAGER_H_
