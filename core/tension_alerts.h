// Community-tension alerts (refx.v1.ReportingService.ListTensionAlerts):
// weekly counts of referrals per area and strand, and of online hate per
// strand, each tested against the weeks before it by the agreement's
// tension_monitoring rules (core/reporting/tension_monitor.h).
//
// Computed on demand from creation times and coded fields (area, strands,
// online) of the whole partnership's referrals; only the tensions group's
// acknowledgements are stored. An alert names its series and week and
// gives the count and baseline as bands, so no alert discloses an exact
// count. Each listing and acknowledgement is audited as a DISCLOSURE of
// aggregate data (an acknowledgement in the transaction that stores it).
#ifndef REFX_CORE_TENSION_ALERTS_H_
#define REFX_CORE_TENSION_ALERTS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "core/auditor.h"
#include "core/caller.h"
#include "core/partnership.h"
#include "core/reporting/iso_week.h"
#include "refx/v1/reporting_service.pb.h"
#include "storage/referral_store.h"

namespace refx::core {

class Agreement;

class TensionAlerts {
 public:
  struct Options {
    const PartnershipHolder* registry = nullptr;  // not owned
    storage::ReferralStore* store = nullptr;      // not owned
    Auditor* auditor = nullptr;                   // not owned
    const Clock* clock = nullptr;                 // default: SystemClock
    int scan_page = 500;                          // referrals per store call
  };
  // INVALID_ARGUMENT without a registry, store or auditor.
  static absl::StatusOr<std::unique_ptr<TensionAlerts>> Create(Options options);

  // The alerts of the weeks `request` names (the method gate checked
  // REPORT_PARTNERSHIP). INVALID_ARGUMENT for a malformed week, a range
  // backwards or over 104 weeks; FAILED_PRECONDITION (PERIOD_NOT_ENDED)
  // for a week not ended; UNAVAILABLE from storage.
  absl::StatusOr<v1::ListTensionAlertsResponse> List(const Caller& caller,
                                                      const v1::ListTensionAlertsRequest& request, CallAudit* audit);

  // Records the tensions group's note on an alert (the method gate checked
  // TENSION_ACKNOWLEDGE): the alert with its acknowledgement. See
  // refx.v1.ReportingService.AcknowledgeTensionAlert for the refusals.
  absl::StatusOr<v1::TensionAlert> Acknowledge(const Caller& caller, const v1::AcknowledgeTensionAlertRequest& request,
                                               CallAudit* audit);

  // The alerts of the ended weeks first..last with their acknowledgements,
  // as List gives them, neither checked nor audited: for a caller that has
  // checked the range and audits what it sends (core/tension_watch.h).
  absl::StatusOr<v1::ListTensionAlertsResponse> Alerts(const Agreement& agreement, const reporting::IsoWeek& first,
                                                       const reporting::IsoWeek& last) const;

  // The agreement's test, in words (ListTensionAlertsResponse.method).
  static std::string Method(const Agreement& agreement);

 private:
  explicit TensionAlerts(Options options) : options_(std::move(options)) {}
  // The alerts of weeks first..last (ended, checked by the caller), named,
  // without acknowledgements.
  absl::Status Compute(const Agreement& agreement, const reporting::IsoWeek& first, const reporting::IsoWeek& last,
                       v1::ListTensionAlertsResponse* out) const;
  Options options_;
};

// The band an alert gives for a week's count, and for a mean weekly count.
std::string CountBand(int64_t count);
std::string BaselineBand(double per_week);

}  // namespace refx::core

#endif  // REFX_CORE_TENSION_ALERTS_H_
