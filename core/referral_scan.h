// Reading every referral created in a time range, for the aggregate
// reports (core/report_manager.h, core/tension_alerts.h): the store's
// ScanReferrals paged through by its keyset cursor, each row's document
// parsed, in creation order.
#ifndef REFX_CORE_REFERRAL_SCAN_H_
#define REFX_CORE_REFERRAL_SCAN_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "refx/v1/referral.pb.h"
#include "storage/referral_store.h"

namespace refx::core {

struct ReferralScan {
  absl::Time created_from;
  absl::Time created_to;      // exclusive
  std::string party_agency;   // only referrals it is a party to; empty = all
  int page = 500;             // rows per store call
};

// Calls `visit` with each referral of `scan`, stopping at the first error
// it returns. INTERNAL for a stored document that does not parse;
// UNAVAILABLE from the store.
absl::Status ForEachCreatedReferral(
    storage::ReferralStore* store, const ReferralScan& scan,
    const std::function<absl::Status(const storage::StoredReferral&, const v1::Referral&)>& visit);

}  // namespace refx::core

#endif  // REFX_CORE_REFERRAL_SCAN_H_
