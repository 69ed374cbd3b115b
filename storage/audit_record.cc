#include "storage/audit_record.h"

#include "absl/strings/str_cat.h"
#include "common/hash.h"

namespace refx::storage {
namespace {

void Append(std::string* out, absl::string_view field) {
  absl::StrAppend(out, field.size(), ":", field, ";");
}

}  // namespace

std::string GenesisHash() { return std::string(32, '\0'); }

std::string AuditHeadMessage(int64_t sequence, const std::string& hash) {
  return absl::StrCat("refx-audit-head-v1|", sequence, "|", HexEncode(hash));
}

std::string AuditHash(const AuditRecord& r, const std::string& previous_hash) {
  std::string canonical = "refx-audit-v1;";
  Append(&canonical, previous_hash);
  Append(&canonical, absl::StrCat(r.sequence));
  Append(&canonical, absl::StrCat(absl::ToUnixMicros(r.time)));
  for (const std::string* field : {&r.action, &r.method, &r.agency_id, &r.certificate_serial, &r.acting_user_hmac,
                                   &r.purpose, &r.referral_ids, &r.data_classes, &r.outcome, &r.agreement}) {
    Append(&canonical, *field);
  }
  if (!r.derived.empty() || !r.reason.empty() || r.count != 1) {
    canonical += "ext;";
    Append(&canonical, r.derived);
    Append(&canonical, r.reason);
    Append(&canonical, absl::StrCat(r.count));
  }
  if (!r.release.empty()) {
    canonical += "ext2;";
    Append(&canonical, r.release);
  }
  return Sha256(canonical);
}

}  // namespace refx::storage
