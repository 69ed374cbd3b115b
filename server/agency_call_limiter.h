// Each agency's share of the server: calls in flight and queued at once, per
// agency, so one partner's runaway script fills its own share and not the
// queue every partner waits in. Checked on the reactor thread before a call
// is queued; released when the call is answered.
#ifndef REFX_SERVER_AGENCY_CALL_LIMITER_H_
#define REFX_SERVER_AGENCY_CALL_LIMITER_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"

#include "absl/synchronization/mutex.h"

namespace refx::server {

class AgencyCallLimiter {
 public:
  // At most `max_per_agency` calls of one agency at once (>= 1).
  explicit AgencyCallLimiter(int max_per_agency, absl::Duration log_interval = absl::Seconds(10))
      : max_(max_per_agency), log_interval_(log_interval) {}

  // Takes one of `agency`'s places; false when it has none left.
  bool TryAcquire(const std::string& agency);
  // Gives back a place TryAcquire took.
  void Release(const std::string& agency);
  // Calls of `agency` in flight or queued (tests).
  int InFlight(const std::string& agency) const;
  // Calls of every agency in flight or queued (graceful shutdown).
  int TotalInFlight() const;

  // Whether this refusal of `agency` should be logged: the first in each
  // `log_interval` is, with `*suppressed` set to the refusals not logged
  // since the last one; the rest are only counted. A partner's runaway
  // script would otherwise write a log line per refused call, turning its
  // flood into disk and CPU load (issue 17).
  bool ShouldLogRefusal(const std::string& agency, int64_t* suppressed);

 private:
  struct RefusalLog {
    absl::Time last_logged = absl::InfinitePast();
    int64_t suppressed = 0;
  };
  const int max_;
  const absl::Duration log_interval_;
  mutable absl::Mutex mu_;
  std::map<std::string, RefusalLog> refusal_log_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> in_flight_ ABSL_GUARDED_BY(mu_);
  int total_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace refx::server

#endif  // REFX_SERVER_AGENCY_CALL_LIMITER_H_
