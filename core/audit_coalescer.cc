#include "core/audit_coalescer.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"

namespace refx::core {

std::string AuditCoalescingKey(const storage::AuditRecord& r) {
  std::string key;
  // Length-prefixed, so no two different records share a key.
  for (const std::string* field :
       {&r.action, &r.method, &r.agency_id, &r.certificate_serial, &r.acting_user_hmac, &r.purpose, &r.referral_ids,
        &r.data_classes, &r.outcome, &r.agreement, &r.derived, &r.reason, &r.release}) {
    absl::StrAppend(&key, field->size(), ":", *field);
  }
  return key;
}

void AuditCoalescer::RecordAsync(storage::AuditRecord record, std::function<void(absl::Status)> done) {
  std::string key = AuditCoalescingKey(record);
  {
    absl::MutexLock lock(&mu_);
    auto it = pending_.find(key);
    if (it != pending_.end()) {
      Group& group = it->second;
      group.record.count += record.count;
      group.record.time = std::min(group.record.time, record.time);
      group.done.push_back(std::move(done));
      return;
    }
    Group& group = pending_[key];
    group.record = std::move(record);
    group.done.push_back(std::move(done));
  }
  if (options_.schedule && options_.schedule([this, key] { Flush(key); })) return;
  Flush(key);
}

size_t AuditCoalescer::pending_groups() const {
  absl::MutexLock lock(&mu_);
  return pending_.size();
}

void AuditCoalescer::Flush(const std::string& key) {
  Group group;
  {
    absl::MutexLock lock(&mu_);
    auto it = pending_.find(key);
    if (it == pending_.end()) return;
    group = std::move(it->second);
    pending_.erase(it);
  }
  Write(std::move(group));
}

void AuditCoalescer::FlushAll() {
  std::map<std::string, Group> all;
  {
    absl::MutexLock lock(&mu_);
    all.swap(pending_);
  }
  for (auto& [key, group] : all) Write(std::move(group));
}

void AuditCoalescer::Write(Group group) {
  auto done = std::make_shared<std::vector<std::function<void(absl::Status)>>>(std::move(group.done));
  options_.auditor->RecordAsync(group.record, [done](absl::Status written) {
    for (auto& each : *done) each(written);
  });
}

}  // namespace refx::core
