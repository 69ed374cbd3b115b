// Each agency's share of the server: calls in flight and queued at once, per
// agency, so one partner's runaway script fills its own share and not the
// queue every partner waits in. Checked on the reactor thread before a call
// is queued; released when the call is answered.
//
// Two bounds. An agency never holds more than `max_per_agency` calls. And
// once the server holds `busy_calls_in_flight` calls of all agencies, it is
// busy: an agency then gets a new call only while it holds fewer than its
// fair share, `busy_calls_in_flight` divided among the agencies holding
// calls (itself included). A flood is then admitted only up to what the
// server can work on, not queued up to its whole per-agency allowance, so
// the partner that is not flooding waits behind less of it (issue 17: the
// overload run's well-behaved agency, README Reliability).
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
  struct Options {
    int max_per_agency = 256;       // limits.max_calls_per_agency (>= 1)
    int busy_calls_in_flight = 64;  // limits.busy_calls_in_flight (>= 1)
    absl::Duration log_interval = absl::Seconds(10);
  };
  explicit AgencyCallLimiter(const Options& options) : options_(options) {}

  // Takes one of `agency`'s places; false when it has none left: it holds
  // `max_per_agency`, or the server is busy and it holds its fair share.
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
  const Options options_;
  mutable absl::Mutex mu_;
  std::map<std::string, RefusalLog> refusal_log_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> in_flight_ ABSL_GUARDED_BY(mu_);
  int total_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace refx::server

#endif  // REFX_SERVER_AGENCY_CALL_LIMITER_H_
