#include "server/agency_call_limiter.h"

#include <algorithm>

namespace refx::server {

bool AgencyCallLimiter::TryAcquire(const std::string& agency) {
  absl::MutexLock lock(&mu_);
  auto it = in_flight_.find(agency);
  const int held = it == in_flight_.end() ? 0 : it->second;
  if (held >= options_.max_per_agency) return false;
  if (total_ >= options_.busy_calls_in_flight) {
    const int holders = static_cast<int>(in_flight_.size()) + (held == 0 ? 1 : 0);
    const int fair_share = std::max(1, options_.busy_calls_in_flight / holders);
    if (held >= fair_share) return false;
  }
  ++in_flight_[agency];
  ++total_;
  return true;
}

void AgencyCallLimiter::Release(const std::string& agency) {
  absl::MutexLock lock(&mu_);
  auto it = in_flight_.find(agency);
  if (it == in_flight_.end()) return;
  --total_;
  if (--it->second <= 0) in_flight_.erase(it);
}

int AgencyCallLimiter::TotalInFlight() const {
  absl::MutexLock lock(&mu_);
  return total_;
}

int AgencyCallLimiter::InFlight(const std::string& agency) const {
  absl::MutexLock lock(&mu_);
  auto it = in_flight_.find(agency);
  return it == in_flight_.end() ? 0 : it->second;
}

bool AgencyCallLimiter::ShouldLogRefusal(const std::string& agency, int64_t* suppressed) {
  const absl::Time now = absl::Now();
  absl::MutexLock lock(&mu_);
  RefusalLog& log = refusal_log_[agency];  // one entry per agency holding a partnership certificate
  if (now - log.last_logged < options_.log_interval) {
    ++log.suppressed;
    return false;
  }
  *suppressed = log.suppressed;
  log.suppressed = 0;
  log.last_logged = now;
  return true;
}

}  // namespace refx::server
