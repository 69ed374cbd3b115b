#include "common/secret_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace refx {
namespace {

// Whether this process runs in group `gid` (effective or supplementary).
bool ProcessIsInGroup(gid_t gid) {
  if (getegid() == gid) return true;
  const int count = getgroups(0, nullptr);
  if (count <= 0) return false;
  std::vector<gid_t> groups(static_cast<size_t>(count));
  const int got = getgroups(count, groups.data());
  for (int i = 0; i < got; ++i) {
    if (groups[static_cast<size_t>(i)] == gid) return true;
  }
  return false;
}

}  // namespace

absl::Status CheckSecretFileMode(const std::string& setting, const std::string& path) {
  struct stat info;
  if (::stat(path.c_str(), &info) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(setting, ": ", path, " cannot be read"));
  }
  if (!S_ISREG(info.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(setting, ": ", path, " is not a regular file"));
  }
  const mode_t loose = info.st_mode & 077;
  const bool group_read_only = loose == S_IRGRP && info.st_gid != 0 && ProcessIsInGroup(info.st_gid);
  if (loose != 0 && !group_read_only) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s: %s has mode %04o: other users can read or change it, so it must be treated as disclosed. If it "
        "never left your control, run `chmod 600 %s`; otherwise replace it",
        setting, path, info.st_mode & 07777, path));
  }
  return absl::OkStatus();
}

}  // namespace refx
