// What every `refx` command group shares: flag checks, the error exit,
// RFC 3339 times, input files, request ids, resource names and enum flags.
#include "clients/cli/commands_internal.h"

#include <openssl/rand.h>

#include <iostream>
#include <iterator>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "common/yaml_proto.h"

namespace refx::cli {
namespace {

std::vector<std::string> Labels(const google::protobuf::EnumDescriptor* type) {
  return absl::StrSplit(EnumLabels(type), '|');
}

}  // namespace

bool Given(const std::map<std::string, CLI::Option*>& options, const std::string& name) {
  auto it = options.find(name);
  return it != options.end() && it->second->count() > 0;
}

int Fail(const absl::Status& status, OutputFormat format, bool local,
         const std::string& request_id) {
  std::cerr << FormatError(status, format, request_id);
  return local ? kExitUsage : ExitCodeFor(status.code());
}

absl::StatusOr<google::protobuf::Timestamp> ParseRfc3339(const std::string& text,
                                                         const std::string& flag) {
  absl::Time t;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, text, &t, &error)) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, " \"", text, "\" is not an RFC 3339 time (e.g. 2024-05-01T18:30:00Z): ", error));
  }
  google::protobuf::Timestamp ts;
  const absl::Duration since_epoch = t - absl::UnixEpoch();
  ts.set_seconds(absl::ToInt64Seconds(since_epoch));
  ts.set_nanos(static_cast<int32_t>(
      absl::ToInt64Nanoseconds(since_epoch - absl::Seconds(ts.seconds()))));
  return ts;
}

absl::StatusOr<std::string> ReadInput(const std::string& path) {
  if (path == "-") {
    return std::string(std::istreambuf_iterator<char>(std::cin), {});
  }
  std::string text;
  REFX_RETURN_IF_ERROR(ReadFileToString(path, &text));
  return text;
}

absl::StatusOr<std::string> NewRequestId() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) {
    return absl::InternalError("OpenSSL RAND_bytes failed; pass --request-id");
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  std::string hex;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) hex += '-';
    absl::StrAppendFormat(&hex, "%02x", b[i]);
  }
  return hex;
}

std::string AgencyName(const std::string& id) {
  return absl::StartsWith(id, "agencies/") ? id : absl::StrCat("agencies/", id);
}

absl::StatusOr<std::string> ReferralName(const std::string& name_or_id) {
  if (absl::StartsWith(name_or_id, "referrals/") && name_or_id.size() > 10 &&
      name_or_id.find('/', 10) == std::string::npos) {
    return name_or_id;
  }
  if (name_or_id.empty() || absl::StrContains(name_or_id, "/")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", name_or_id, "\" is not a referral name (referrals/ID) or id"));
  }
  return absl::StrCat("referrals/", name_or_id);
}

CLI::Option* AddEnumOption(CLI::App* app, const std::string& name, std::string* target,
                           const google::protobuf::EnumDescriptor* type,
                           const std::string& help) {
  return app->add_option(name, *target, help)->check(CLI::IsMember(Labels(type)));
}

CLI::Option* AddEnumList(CLI::App* app, const std::string& name,
                         std::vector<std::string>* target,
                         const google::protobuf::EnumDescriptor* type,
                         const std::string& help) {
  return app->add_option(name, *target, help)
      ->check(CLI::IsMember(Labels(type)))
      ->allow_extra_args(false);
}

}  // namespace refx::cli
