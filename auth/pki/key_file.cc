#include "auth/pki/key_file.h"

#include <errno.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace refx::pki {

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot read ", path));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) {
    return absl::InternalError(absl::StrCat("error reading ", path));
  }
  return contents.str();
}

absl::Status CheckKeyFilePermissions(const std::string& path) {
  struct stat info;
  if (stat(path.c_str(), &info) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot read key ", path));
  }
  if (!S_ISREG(info.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("key ", path, " is not a regular file"));
  }
  if ((info.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "key %s has mode %04o: other users can read or change it, so it must "
        "be treated as disclosed. If it never left your control, run `chmod "
        "600 %s`; otherwise replace the key",
        path, info.st_mode & 07777, path));
  }
  return absl::OkStatus();
}

absl::StatusOr<PrivateKey> ReadPrivateKeyFile(const std::string& path,
                                              std::string_view passphrase) {
  if (absl::Status status = CheckKeyFilePermissions(path); !status.ok()) {
    return status;
  }
  absl::StatusOr<std::string> pem = ReadWholeFile(path);
  if (!pem.ok()) return pem.status();
  absl::StatusOr<PrivateKey> key = PrivateKey::FromPem(*pem, passphrase);
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("key ", path, ": ", key.status().message()));
  }
  return key;
}

absl::Status WritePrivateKeyFile(const std::string& path, const PrivateKey& key,
                                 std::string_view passphrase, bool overwrite) {
  struct stat info;
  if (!overwrite && stat(path.c_str(), &info) == 0) {
    return absl::AlreadyExistsError(
        absl::StrCat(path, " already exists; refusing to replace a key"));
  }
  absl::StatusOr<std::string> pem = key.ToPem(passphrase);
  if (!pem.ok()) return pem.status();
  return WriteFileAtomically(path, *pem, 0600);
}

}  // namespace refx::pki
