// The agreement's retention periods, applied: when each data class of a
// referral has outlived its period, and the job that then erases it from
// everywhere the store holds it (storage::ReferralStore::EraseReferralData),
// records the erasure in the referral itself, audits it (s62 ERASURE) and
// tells the parties on the watch stream.
//
// A period runs from the referral's closure (completed, cancelled or
// declined: Referral.close_time), or from its creation once it is abandoned
// (open and unchanged for the agreement's `abandoned_after_days`). When the
// routing record's own period (DATA_CLASS_REFERRAL_CORE, the longest: the
// agreement refuses a class that outlives it) ends, the referral is deleted
// with everything left of it, operational data included: only a tombstone
// (its name and erasures) remains, which no read finds, and the parties are
// told (REFERRAL_DELETED). A legal hold (data protection officer only)
// pauses every erasure of its referral.
#ifndef REFX_CORE_RETENTION_H_
#define REFX_CORE_RETENTION_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "common/clock.h"
#include "core/agreement.h"
#include "core/auditor.h"
#include "core/caller.h"
#include "core/redaction.h"
#include "core/referral_scan.h"
#include "google/protobuf/message.h"
#include "refx/v1/audit_service.pb.h"
#include "refx/v1/referral.pb.h"
#include "refx/v1/referral_service.pb.h"
#include "storage/referral_store.h"

namespace refx::core {

// Whether `state` closes a referral (no transition leads on, bar a reopen).
bool IsClosedState(v1::Referral::State state);

// The classes `referral` records as erased (Referral.erasures).
DataClassSet ErasedClasses(const v1::Referral& referral);

// Whether `message`, or a message inside it, holds fields this build of
// refx does not know (written by a newer version).
bool HoldsUnknownFields(const google::protobuf::Message& message);

// `document` (a stored copy, opened: a referral, or a case update, told
// apart by its name when `kind` is a retry response) with every field of
// `classes` cleared. FAILED_PRECONDITION, marked so IsLeftForNewerVersion
// tells it, if it holds fields this build does not know: their class is
// unknown, and clearing them would lose them.
absl::StatusOr<std::string> EraseFromDocument(const DataClassSet& classes, storage::StoredDocumentKind kind,
                                              const std::string& document);

// Whether `status` is EraseFromDocument's refusal of a copy a newer version
// wrote (the retention job leaves that referral for such a replica).
bool IsLeftForNewerVersion(const absl::Status& status);

// A stored referral rewritten in place through
// ReferralStore::EraseReferralData: what retention, a data subject's
// erasure and a change of recording regime share.
struct ReferralRewrite {
  // The referral as it becomes (erasure records and regime included), before
  // `classes` are cleared from it; its etag is set here.
  v1::Referral changed;
  // Erased from it and from every stored copy (DATA_CLASS_NCHI_SUBJECT
  // takes the subject's notification steps with it); none: the copies stay
  // as they are.
  DataClassSet classes;
  // The event: its action, method, agency, purpose, reason, agreement and
  // data classes; its time, referral and outcome are filled in here.
  storage::AuditRecord audit;
  // What the parties are told on the watch stream.
  v1::WatchReferralsResponse::Kind event_kind = v1::WatchReferralsResponse::REFERRAL_ERASED;
};

// Writes `rewrite` over `stored` (if its etag is still the stored one) at
// `now`, recomputing the repeat-victim tokens of what is left with
// `victim_token_key`, and returns how many stored copies were rewritten.
// Errors as EraseReferralData's, and EraseFromDocument's refusal of a copy
// a newer version wrote.
absl::StatusOr<int64_t> RewriteReferral(storage::ReferralStore& store, const std::string& victim_token_key,
                                        const storage::StoredReferral& stored, ReferralRewrite rewrite,
                                        absl::Time now);

// Why a RewriteReferral that failed leaves its referral for a later run
// instead of ending the run: a legal hold placed meanwhile (refused in the
// write's own transaction), a change or deletion meanwhile (the etag
// check), or a stored copy that only a newer version of refx can rewrite.
// kNo for success and for any other error.
enum class LeftForLater { kNo, kLegalHold, kChangedMeanwhile, kNewerVersion };
LeftForLater WhyLeftForLater(const absl::Status& status);

// One class of one referral that is, or will be, due for erasure.
struct PlannedErasure {
  std::string referral_id;
  v1::DataClass data_class = v1::DATA_CLASS_UNSPECIFIED;
  absl::Time due;
  std::string rule;  // as Erasure.rule will say
  bool held = false;  // under a legal hold: waits until it is released
};

// When each retained class of `referral` becomes due (`update_time` is the
// stored referral's), given the agreement: classes already erased, classes
// without a retention entry and operational data (which goes with the
// routing record, DATA_CLASS_REFERRAL_CORE: its entry deletes the referral)
// are not listed. Empty
// while the referral is open and not abandoned at `now`.
std::vector<PlannedErasure> RetentionSchedule(const Agreement& agreement, const v1::Referral& referral,
                                              const std::string& referral_id, absl::Time update_time,
                                              absl::Time now);

// `planned` as the API states it (refx.v1.PlannedErasure).
v1::PlannedErasure ToProto(const PlannedErasure& planned);

class RetentionJob {
 public:
  struct Options {
    storage::ReferralStore* store = nullptr;     // not owned
    const AgreementHolder* agreements = nullptr;  // not owned; the agreement in force
    const Clock* clock = nullptr;                 // default: the system clock
    // The repeat-victim token key (core/victim_tokens.h): the tokens of what
    // an erasure leaves are recomputed with it ("" = matching off: none).
    std::string victim_token_key;
    int scan_page = 500;  // referrals read per page
    // Audits the data protection officer's requests (below); not owned.
    // Required for them, not for the job.
    Auditor* auditor = nullptr;
  };
  static absl::StatusOr<std::unique_ptr<RetentionJob>> Create(Options options);

  struct RunReport {
    int64_t referrals_examined = 0;
    int64_t referrals_erased = 0;     // referrals with at least one class erased
    int64_t referrals_deleted = 0;    // of those, deleted: the routing record's period ended
    int64_t classes_erased = 0;       // (referral, class) pairs
    int64_t copies_rewritten = 0;     // event-log copies, retry responses, case updates
    int64_t held = 0;                 // referrals with a due class under a legal hold
    int64_t changed_meanwhile = 0;    // changed between read and erasure: next run
    // Holding fields a newer version of refx wrote (during a rolling
    // upgrade): left for a replica of that version, which knows their class.
    int64_t left_for_newer_version = 0;
  };
  // Erases every class due now, one write per referral. A referral changed
  // while the job ran is left for the next run, one with a stored copy
  // written by a newer version of refx for a replica of that version; any
  // other store failure ends the run with it.
  absl::StatusOr<RunReport> RunOnce();

  // What is due now or falls due within `within` of now, soonest first,
  // with held referrals marked; erases nothing.
  absl::StatusOr<std::vector<PlannedErasure>> Preview(absl::Duration within);

  // The data protection officer's requests (refx.v1.AuditService; the
  // method gate checked RETENTION_MANAGE), each audited
  // (retention_requests.cc). INVALID_ARGUMENT names the field; a referral
  // that does not exist is REFERRAL_NOT_FOUND.
  absl::StatusOr<v1::PreviewRetentionResponse> PreviewFor(const Caller& caller,
                                                          const v1::PreviewRetentionRequest& request,
                                                          CallAudit* audit);
  absl::StatusOr<v1::LegalHold> PlaceHold(const Caller& caller, const v1::PlaceLegalHoldRequest& request,
                                          CallAudit* audit);
  absl::Status ReleaseHold(const Caller& caller, const v1::ReleaseLegalHoldRequest& request, CallAudit* audit);
  absl::StatusOr<v1::ListLegalHoldsResponse> ListHolds(const Caller& caller, CallAudit* audit);

  // Erases `classes` of referral `referral_id` now, on the authority `rule`
  // records in the referral's erasures (e.g. a data subject's erasure
  // request), audited as an ERASURE by `caller` with `reason`. Classes
  // erased before are skipped. REFERRAL_NOT_FOUND without the referral;
  // FAILED_PRECONDITION (LEGAL_HOLD_IN_PLACE) under a legal hold, and for a
  // stored copy a newer version wrote; ABORTED if the referral changed
  // while it was erased (nothing erased: try again).
  absl::StatusOr<v1::EraseSubjectDataResponse> EraseNow(const Caller& caller, const std::string& referral_id,
                                                        const DataClassSet& classes, const std::string& rule,
                                                        const std::string& reason, CallAudit* audit);

 private:
  explicit RetentionJob(Options options) : options_(std::move(options)) {}
  // Every stored referral, oldest first, a page of `scan_page` at a time.
  ReferralScan EveryReferral() const;
  // Erases `due` (all due now) from one referral, audited as `audit` (its
  // action, classes and outcome filled in here).
  absl::StatusOr<int64_t> Erase(const storage::StoredReferral& stored, const v1::Referral& referral,
                                const std::vector<PlannedErasure>& due, absl::Time now, storage::AuditRecord audit);
  // Deletes the referral instead, `due` holding DATA_CLASS_REFERRAL_CORE
  // (storage::EraseReferralDataRequest::delete_referral).
  absl::StatusOr<int64_t> Delete(const storage::StoredReferral& stored, const v1::Referral& referral,
                                 const std::vector<PlannedErasure>& due, absl::Time now, storage::AuditRecord audit);

  Options options_;
};

}  // namespace refx::core

#endif  // REFX_CORE_RETENTION_H_
