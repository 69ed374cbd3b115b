#include "core/referral_scan.h"

#include <vector>

#include "common/status_macros.h"

namespace refx::core {

absl::Status ForEachCreatedReferral(
    storage::ReferralStore* store, const ReferralScan& scan,
    const std::function<absl::Status(const storage::StoredReferral&, const v1::Referral&)>& visit) {
  storage::ScanReferralsQuery query;
  query.created_from = scan.created_from;
  query.created_to = scan.created_to;
  query.party_agency = scan.party_agency;
  query.limit = scan.page;
  for (;;) {
    REFX_ASSIGN_OR_RETURN(std::vector<storage::StoredReferral> page, store->ScanReferrals(query));
    for (const storage::StoredReferral& row : page) {
      v1::Referral referral;
      if (!referral.ParseFromString(row.document)) return absl::InternalError("a stored referral could not be read");
      REFX_RETURN_IF_ERROR(visit(row, referral));
    }
    if (static_cast<int>(page.size()) < query.limit) return absl::OkStatus();
    query.after = storage::ListCursor{page.back().create_time, page.back().id};
  }
}

}  // namespace refx::core
