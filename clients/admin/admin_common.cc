// The helpers of admin_common.h: the error exit, times, the operator's
// default name and duration flags.
#include "clients/admin/admin_common.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/yaml_proto.h"
#include "auth/pki/revocation_list.h"
#include "core/auditor.h"
#include "google/protobuf/util/json_util.h"

namespace refx::admin {

int Fail(const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "refx-admin: %s: %s\n", what.c_str(), std::string(status.message()).c_str());
  return kFailure;
}

int PrintJson(const std::string& what, const google::protobuf::Struct& fields) {
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(fields, &json).ok()) {
    return Fail(what, absl::InternalError("cannot render the result as JSON"));
  }
  std::printf("%s\n", json.c_str());
  return 0;
}

storage::AuditRecord PreviewAuditEvent(const std::string& method, const std::string& purpose,
                                       const std::vector<std::string>& referral_ids,
                                       const std::string& agreement_label) {
  storage::AuditRecord event;
  event.time = absl::Now();
  event.action = core::AuditActionName(core::AuditAction::kConsultation);
  event.method = method;
  event.agency_id = "refx-admin";
  event.purpose = purpose;
  event.referral_ids = absl::StrJoin(referral_ids, ",");
  event.data_classes = referral_ids.empty() ? "" : "DATA_CLASS_REFERRAL_CORE";
  event.outcome = "OK";
  event.agreement = agreement_label;
  return event;
}

std::string Rfc3339(absl::Time t) { return refx::pki::FormatRfc3339(t); }

std::string DefaultOperator() {
  if (const char* user = std::getenv("USER"); user != nullptr && *user) return user;
  if (const passwd* pw = getpwuid(getuid()); pw != nullptr) return pw->pw_name;
  return absl::StrCat("uid-", getuid());
}

std::optional<absl::Duration> ParseDays(std::string text) {
  if (text.empty()) return std::nullopt;
  absl::Duration unit = absl::Hours(24);
  const char suffix = text.back();
  if (suffix == 'd' || suffix == 'h' || suffix == 'm') {
    unit = suffix == 'd' ? absl::Hours(24) : suffix == 'h' ? absl::Hours(1) : absl::Minutes(1);
    text.pop_back();
  }
  int64_t n = 0;
  if (!absl::SimpleAtoi(text, &n) || n < 0) return std::nullopt;
  return unit * n;
}

absl::StatusOr<std::optional<VerifyingKey>> LoadAuditPublicKey(const std::string& flag,
                                                              const std::string& database) {
  std::string file = flag;
  if (file.empty()) {
    const std::string beside = (std::filesystem::path(database).parent_path() / "audit-signing.pub").string();
    if (::access(beside.c_str(), R_OK) != 0) return std::optional<VerifyingKey>();
    file = beside;
  }
  std::string pem;
  if (!ReadFileToString(file, &pem).ok()) return absl::NotFoundError(absl::StrCat("cannot read ", file));
  auto key = VerifyingKey::FromPem(pem);
  if (!key.ok()) return absl::InvalidArgumentError(absl::StrCat(file, " holds no Ed25519 public key"));
  return std::optional<VerifyingKey>(*key);
}

}  // namespace refx::admin
