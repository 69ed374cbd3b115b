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

}  // namespace refx::server
