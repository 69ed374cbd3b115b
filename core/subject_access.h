// Subject access across partners (refx.v1.AuditService.FindSubjectReferrals):
// the referrals of the whole partnership whose victim is the person a data
// protection officer names, found by the keyed repeat-victim tokens
// (core/victim_tokens.h) and never by a plaintext search, answered as
// routing facts (who sent it, who received it, when, its state) so the DPO
// knows which controllers hold what about the person.
//
// The identifiers given exist only in memory during the call: they are not
// stored, logged or put in the audit event, which names the referrals found.
#ifndef REFX_CORE_SUBJECT_ACCESS_H_
#define REFX_CORE_SUBJECT_ACCESS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/auditor.h"
#include "core/caller.h"
#include "refx/v1/audit_service.pb.h"
#include "storage/referral_store.h"

namespace refx::core {

class SubjectAccess {
 public:
  struct Options {
    storage::ReferralStore* store = nullptr;  // not owned
    Auditor* auditor = nullptr;               // not owned
    // The repeat-victim token key; empty (matching off) refuses every
    // search with FAILED_PRECONDITION, since no token was stored.
    std::string victim_token_key;
  };
  // INVALID_ARGUMENT without a store or auditor.
  static absl::StatusOr<std::unique_ptr<SubjectAccess>> Create(Options options);

  // The referrals about the person (the method gate checked SUBJECT_ACCESS),
  // oldest first. INVALID_ARGUMENT when no identifier is usable;
  // UNAVAILABLE from storage.
  absl::StatusOr<v1::FindSubjectReferralsResponse> Find(const Caller& caller,
                                                        const v1::FindSubjectReferralsRequest& request,
                                                        CallAudit* audit);

 private:
  explicit SubjectAccess(Options options) : options_(std::move(options)) {}
  Options options_;
};

}  // namespace refx::core

#endif  // REFX_CORE_SUBJECT_ACCESS_H_
