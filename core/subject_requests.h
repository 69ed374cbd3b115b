// The register of data subject requests (refx.v1.AuditService): a person's
// request to a data protection officer (access, rectification, erasure,
// restriction, objection), recorded with its statutory clock
// (core/subject_request_clock.h) and every step of it audited. A record
// names the matter by the DPO's case reference: the person's identity stays
// in the DPO's case file and reaches refx only, in memory, when the
// referrals are searched for (core/subject_access.h).
//
// An erasure request is actioned through the same machinery as retention
// (EraseData: RetentionJob::EraseNow), recorded in the referral under the
// request's name; a rectification request by the controller's CORRECTION
// case update, recorded against the request (RecordRectification). An access request keeps the restrictions of subject
// access its exports apply (ExportBundle), so that each export answering it
// withholds the same.
//
// What is stored is the request and its steps; the clock (state, due date,
// whether overdue) is worked out from them on every read, with the calendar
// of the agreement in force and today's date, so a bank holiday added to
// the agreement moves a due date that falls on it.
#ifndef REFX_CORE_SUBJECT_REQUESTS_H_
#define REFX_CORE_SUBJECT_REQUESTS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "core/auditor.h"
#include "core/caller.h"
#include "core/retention.h"
#include "core/subject_access.h"
#include "refx/v1/audit_service.pb.h"
#include "storage/referral_store.h"

namespace refx::core {

class SubjectRequestRegister {
 public:
  struct Options {
    storage::ReferralStore* store = nullptr;  // not owned
    Auditor* auditor = nullptr;               // not owned
    const Clock* clock = nullptr;             // not owned; default: the system clock
    // Erases what an erasure request asks (EraseData); not owned.
    RetentionJob* retention = nullptr;
    // Makes the bundles ExportBundle answers with; not owned.
    SubjectAccess* subject_access = nullptr;
  };
  // INVALID_ARGUMENT without a store, an auditor, the retention job or
  // subject access.
  static absl::StatusOr<std::unique_ptr<SubjectRequestRegister>> Create(Options options);

  // Each method: the method gate checked SUBJECT_ACCESS; INVALID_ARGUMENT
  // with field violations for bad input; UNAVAILABLE from storage (nothing
  // stored). Every answer carries the clock as of today.

  // Records a new request, RECEIVED on its received date.
  absl::StatusOr<v1::SubjectRequest> Open(const Caller& caller, const v1::CreateSubjectRequestRequest& request,
                                          CallAudit* audit);
  // NOT_FOUND (SUBJECT_REQUEST_NOT_FOUND).
  absl::StatusOr<v1::SubjectRequest> Get(const Caller& caller, const v1::GetSubjectRequestRequest& request,
                                         CallAudit* audit);
  absl::StatusOr<v1::ListSubjectRequestsResponse> List(const Caller& caller,
                                                       const v1::ListSubjectRequestsRequest& request,
                                                       CallAudit* audit);
  // NOT_FOUND as Get; FAILED_PRECONDITION for a step not allowed now;
  // ABORTED (ETAG_MISMATCH) if the etag given is stale or another step
  // was recorded meanwhile.
  absl::StatusOr<v1::SubjectRequest> RecordStep(const Caller& caller,
                                                const v1::RecordSubjectRequestStepRequest& request,
                                                CallAudit* audit);
  // Erases classes of one referral for an open ERASURE request (through
  // RetentionJob::EraseNow, which names the other errors):
  // FAILED_PRECONDITION (SUBJECT_REQUEST_NOT_ERASABLE) for a request of
  // another kind or not open; NOT_FOUND as Get for the request.
  absl::StatusOr<v1::EraseSubjectDataResponse> EraseData(const Caller& caller,
                                                         const v1::EraseSubjectDataRequest& request,
                                                         CallAudit* audit);
  // Records against an open RECTIFICATION request the CORRECTION case
  // update a controller made (its referral, author and time; never its
  // content), changing the request (ALTERATION of it, audited; ABORTED
  // (ETAG_MISMATCH) if `etag` is stale or a step was recorded meanwhile).
  // The same correction again changes nothing. FAILED_PRECONDITION
  // (SUBJECT_REQUEST_NOT_RECTIFIABLE) for a request of another kind or not
  // open, (NOT_A_CORRECTION) for an update of another kind or made before
  // the request was received; NOT_FOUND (CASE_UPDATE_NOT_FOUND) for no such
  // update, and as Get for the request.
  absl::StatusOr<v1::SubjectRequest> RecordRectification(const Caller& caller,
                                                         const v1::RecordRectificationRequest& request,
                                                         CallAudit* audit);

  // The subject access bundle (SubjectAccess::Export; the method gate
  // checked SUBJECT_ACCESS). Naming an access request (`subject_request`)
  // records the restrictions given, or the lifting of them, with the
  // request (its ALTERATION, audited; ABORTED (ETAG_MISMATCH) if a step was
  // recorded meanwhile), or applies the ones recorded when none are given.
  // NOT_FOUND as Get; FAILED_PRECONDITION (SUBJECT_REQUEST_NOT_ACCESS) for
  // a request of another kind; INVALID_ARGUMENT for a malformed name, or
  // `lift_restrictions` without the request or with restrictions.
  absl::StatusOr<v1::SubjectAccessBundle> ExportBundle(const Caller& caller,
                                                       const v1::ExportSubjectAccessBundleRequest& request,
                                                       CallAudit* audit);

 private:
  explicit SubjectRequestRegister(Options options) : options_(options) {}
  // The stored request with its clock as of today under `caller`'s agreement.
  absl::StatusOr<v1::SubjectRequest> Render(const Caller& caller, const storage::StoredSubjectRequest& stored) const;
  Options options_;
};

}  // namespace refx::core

#endif  // REFX_CORE_SUBJECT_REQUESTS_H_
