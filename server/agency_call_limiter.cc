#include "server/agency_call_limiter.h"

namespace refx::server {

bool AgencyCallLimiter::TryAcquire(const std::string& agency) {
  absl::MutexLock lock(&mu_);
  int& count = in_flight_[agency];
  if (count >= max_) return false;
  ++count;
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
  if (now - log.last_logged < log_interval_) {
    ++log.suppressed;
    return false;
  }
  *suppressed = log.suppressed;
  log.suppressed = 0;
  log.last_logged = now;
  return true;
}

}  // namespace refx::server
