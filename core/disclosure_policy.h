// The seam where the information-sharing agreement decides what a reader may
// see of a referral. Core asks the policy for the readable data classes and
// hands them to Redact(); nothing else removes fields.
//
// Until the agreement is enforced field by field (its own issue), the policy
// in force is PartiesSeeEverything: the record gate (only sender and
// recipients see a referral at all) is enforced by ReferralManager, and a
// party sees every class.
#ifndef REFX_CORE_DISCLOSURE_POLICY_H_
#define REFX_CORE_DISCLOSURE_POLICY_H_

#include "core/caller.h"
#include "core/redaction.h"
#include "refx/v1/referral.pb.h"

namespace refx::core {

class DisclosurePolicy {
 public:
  virtual ~DisclosurePolicy() = default;
  // The classes `caller`, already known to be a party, may read of `referral`.
  virtual DataClassSet ReadableClasses(const Caller& caller, const v1::Referral& referral) const = 0;
};

class PartiesSeeEverything final : public DisclosurePolicy {
 public:
  DataClassSet ReadableClasses(const Caller&, const v1::Referral&) const override {
    return DataClassSet::All();
  }
};

}  // namespace refx::core

#endif  // REFX_CORE_DISCLOSURE_POLICY_H_
