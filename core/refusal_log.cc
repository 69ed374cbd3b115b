#include "core/refusal_log.h"

#include <utility>
#include <vector>

#include "common/log.h"

namespace refx::core {

RefusalLog::RefusalLog(Options options) : options_(std::move(options)) {
  if (options_.clock == nullptr) options_.clock = SystemClock::Get();
}

void RefusalLog::Write(const Caller& who, const std::string& method, absl::StatusCode code,
                       const std::string& reason, int64_t count) {
  storage::AuditRecord record = options_.auditor->Build(who, method, DefaultActionFor(method), {}, {}, code);
  record.reason = reason;
  record.count = count;
  options_.auditor->RecordAsync(record, [method](absl::Status written) {
    if (!written.ok()) log::Error("audit_write_failed", {{"method", method}, {"what", "refusal"}});
  });
}

void RefusalLog::Record(const Caller& who, absl::string_view method, absl::StatusCode code,
                        absl::string_view reason) {
  const absl::Time now = options_.clock->Now();
  Key key{who.agency_id, who.certificate_serial, std::string(reason), std::string(method)};
  // Windows whose counts are written now: this key's ended one, or every
  // open one when there are too many.
  std::vector<std::pair<Key, Window>> ended;
  {
    absl::MutexLock lock(&mu_);
    auto it = windows_.find(key);
    if (it != windows_.end() && now - it->second.start < options_.window) {
      ++it->second.more;
      return;
    }
    if (it != windows_.end()) {
      ended.emplace_back(it->first, it->second);
      windows_.erase(it);
    }
    if (windows_.size() >= options_.max_open_windows) {
      for (auto& entry : windows_) ended.emplace_back(entry.first, entry.second);
      windows_.clear();
    }
    windows_[key] = Window{now, 0, who, code};
  }
  for (const auto& [k, window] : ended) {
    if (window.more > 0) Write(window.who, std::get<3>(k), window.code, std::get<2>(k), window.more);
  }
  Write(who, std::get<3>(key), code, std::get<2>(key), 1);
}

void RefusalLog::Flush(bool all) {
  const absl::Time now = options_.clock->Now();
  std::vector<std::pair<Key, Window>> due;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = windows_.begin(); it != windows_.end();) {
      if (all || now - it->second.start >= options_.window) {
        due.emplace_back(it->first, it->second);
        it = windows_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const auto& [key, window] : due) {
    if (window.more > 0) Write(window.who, std::get<3>(key), window.code, std::get<2>(key), window.more);
  }
}

}  // namespace refx::core
