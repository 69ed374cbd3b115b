// The helpers of admin_common.h: the error exit, times, the operator's
// default name and duration flags.
#include "clients/admin/admin_common.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "auth/pki/revocation_list.h"

namespace refx::admin {

int Fail(const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "refx-admin: %s: %s\n", what.c_str(), std::string(status.message()).c_str());
  return kFailure;
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

}  // namespace refx::admin
