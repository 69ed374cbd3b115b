// Subject access across partners (refx.v1.AuditService): the referrals of
// the whole partnership whose victim is the person a data protection officer
// names, found by the keyed repeat-victim tokens (core/victim_tokens.h) and
// never by a plaintext search. FindSubjectReferrals answers with routing
// facts (who sent it, who received it, when, its state);
// ExportSubjectAccessBundle with each controller's part: what that agency
// holds, read through its own view under the agreement (the same decision
// as its own reads, so a bundle never shows a controller holding more or
// less than it can read), and the disclosures the audit log records.
//
// The identifiers given exist only in memory during the call: they are not
// stored, logged or put in the audit event, which names the referrals found.
#ifndef REFX_CORE_SUBJECT_ACCESS_H_
#define REFX_CORE_SUBJECT_ACCESS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "core/auditor.h"
#include "core/caller.h"
#include "core/partnership.h"
#include "refx/v1/audit_service.pb.h"
#include "storage/referral_store.h"

namespace refx::core {

class SubjectAccess {
 public:
  struct Options {
    storage::ReferralStore* store = nullptr;      // not owned
    Auditor* auditor = nullptr;                   // not owned
    const PartnershipHolder* registry = nullptr;  // not owned: the agencies, for their roles
    // The repeat-victim token key; empty (matching off) refuses every
    // search with FAILED_PRECONDITION, since no token was stored.
    std::string victim_token_key;
    // Dates the bundle; not owned. Default: the system clock.
    const Clock* clock = nullptr;
  };
  // INVALID_ARGUMENT without a store, auditor or registry.
  static absl::StatusOr<std::unique_ptr<SubjectAccess>> Create(Options options);

  // The referrals about the person (the method gate checked SUBJECT_ACCESS),
  // oldest first. INVALID_ARGUMENT when no identifier is usable;
  // UNAVAILABLE from storage.
  absl::StatusOr<v1::FindSubjectReferralsResponse> Find(const Caller& caller,
                                                        const v1::FindSubjectReferralsRequest& request,
                                                        CallAudit* audit);

  // The bundle of everything the partnership holds about the person (the
  // method gate checked SUBJECT_ACCESS): controllers by agency id, their
  // holdings oldest first, less what the request's restrictions withhold
  // (marked, and recorded in the audit event). Errors as Find;
  // INVALID_ARGUMENT naming each bad restriction; INTERNAL for an
  // unreadable stored record.
  absl::StatusOr<v1::SubjectAccessBundle> Export(const Caller& caller,
                                                 const v1::ExportSubjectAccessBundleRequest& request,
                                                 CallAudit* audit);

 private:
  // A referral about the person and the identifier kinds that matched it.
  struct Match {
    storage::StoredReferral row;
    std::vector<std::string> matched_on;
  };
  // The referrals about `person`, oldest first.
  absl::StatusOr<std::vector<Match>> FindMatches(const v1::Victim& person);
  // What `agency_id` holds of `referral` and its `updates` (as stored),
  // read through that agency's view under the DPO's call's agreement, less
  // the classes `restrictions` (those of this referral) withhold from it,
  // with the audit log's `disclosures` of the referral that concern it.
  v1::SubjectAccessHolding HoldingOf(const Caller& dpo, const std::string& agency_id,
                                     v1::SubjectAccessHolding::Relationship relationship,
                                     const v1::Referral& referral, const std::vector<v1::CaseUpdate>& updates,
                                     const std::vector<storage::AuditRecord>& disclosures,
                                     const std::vector<const v1::SubjectAccessRestriction*>& restrictions);

  explicit SubjectAccess(Options options) : options_(std::move(options)) {}
  Options options_;
};

}  // namespace refx::core

#endif  // REFX_CORE_SUBJECT_ACCESS_H_
