// Aggregate releases (refx.v1.ReportingService): counts of referrals for one
// ended period on the agreement's release grid, by one or two coded
// dimensions, protected by the agreement's disclosure control before they
// leave core (docs/adr/0008-aggregate-releases.md).
//
// What is counted comes from routing facts and coded fields only (area,
// strands, report type, channel, online): no free text, identity or contact
// value is read. The own-referrals scope counts each referral by the values
// the agreement lets the caller read of it; a value it may not read counts
// under `not shared`, so no count depends on a withheld value. Row and
// column labels are the registry's and the API's, never the data's.
//
// Two-way tables take their totals from the one-way tables of their
// dimensions (ProtectCrossCounts), so every release shows a total the same
// way. Each release is audited as a DISCLOSURE whose `release` names the
// query and a digest of the released cells: the audit log is the ledger.
#ifndef REFX_CORE_REPORT_MANAGER_H_
#define REFX_CORE_REPORT_MANAGER_H_

#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "core/auditor.h"
#include "core/caller.h"
#include "core/partnership.h"
#include "core/redaction.h"
#include "core/reporting/release_ledger.h"
#include "core/reporting/release_period.h"
#include "refx/v1/referral.pb.h"
#include "refx/v1/reporting_service.pb.h"
#include "storage/referral_store.h"

namespace refx::core {

class ReportManager {
 public:
  struct Options {
    const PartnershipHolder* registry = nullptr;  // not owned; the registry in force
    storage::ReferralStore* store = nullptr;      // not owned
    Auditor* auditor = nullptr;                   // not owned
    const Clock* clock = nullptr;                 // default: SystemClock
    // Referrals read per store call while counting.
    int scan_page = 500;
  };
  // INVALID_ARGUMENT without a registry, store or auditor.
  static absl::StatusOr<std::unique_ptr<ReportManager>> Create(Options options);

  // The protected table `request` asks for, with the release's audit event
  // handed to `audit` (written before the answer). PERMISSION_DENIED for the
  // partnership scope without REPORT_PARTNERSHIP (the method gate checked
  // REPORT_READ); INVALID_ARGUMENT for a malformed period or dimensions;
  // FAILED_PRECONDITION for a period not ended or not on the grid, or a
  // cross-table the release ledger refuses beside an earlier one
  // (RELEASE_WOULD_COMBINE); UNAVAILABLE from storage.
  absl::StatusOr<v1::CountReferralsResponse> CountReferrals(const Caller& caller,
                                                            const v1::CountReferralsRequest& request,
                                                            CallAudit* audit);

  // How fast the referrals created in `request`'s period were answered and
  // completed, as at the period's end (from the event log), per type of
  // recipient agency, protected as CountReferrals is, with medians gated on
  // the released counts. Refusals as for CountReferrals.
  absl::StatusOr<v1::ReportResponseTimesResponse> ReportResponseTimes(const Caller& caller,
                                                                      const v1::ReportResponseTimesRequest& request,
                                                                      CallAudit* audit);

 private:
  struct ReleaseQuery {
    reporting::ReleasePeriod period;
    bool own_scope = true;
  };

  explicit ReportManager(Options options) : options_(std::move(options)) {}
  // The period and scope of a release, or the refusal: decided by the query,
  // the agreement and the clock only, never by the data.
  absl::StatusOr<ReleaseQuery> CheckRelease(const Caller& caller, absl::string_view period,
                                            v1::ReportScope scope) const;
  // Calls `count` with each referral the release counts and the caller's
  // view of it (everything, for the partnership scope).
  absl::Status ForEachReferral(
      const Caller& caller, const ReleaseQuery& query,
      const std::function<void(const storage::StoredReferral&, const v1::Referral&, const ReadView&)>& count) const;
  // Records the release `entry` names with its audit event, unless the
  // ledger holds a table of the same period and scope it may not be
  // released beside (core/reporting/release_ledger.h): FAILED_PRECONDITION
  // (RELEASE_WOULD_COMBINE), naming that release. The answer then waits for
  // nothing more: `audit` is told the event is written.
  absl::Status RecordRelease(const Caller& caller, const reporting::LedgerEntry& entry, storage::AuditRecord event,
                             CallAudit* audit) const;
  // Calls `fn` with each event of `kind` in the period, in log order.
  absl::Status ForEachEvent(const reporting::ReleasePeriod& period, int32_t kind,
                            const std::function<absl::Status(const storage::ReferralEvent&)>& fn) const;

  Options options_;
};

}  // namespace refx::core

#endif  // REFX_CORE_REPORT_MANAGER_H_
