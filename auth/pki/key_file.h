// Private key files on disk, and the permission rule for them.
//
// A key file is accepted only when no one but its owner can read or write it
// (mode 0600 or stricter), as OpenSSH does: a key that has been readable by
// other users must be treated as disclosed, so refx-admin refuses to use it
// rather than sign with it. Keys are always written 0600, atomically.
#ifndef REFX_AUTH_PKI_KEY_FILE_H_
#define REFX_AUTH_PKI_KEY_FILE_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "auth/pki/certificate_authority.h"

namespace refx::pki {

// The whole of `path`. NotFound / PermissionDenied / Internal from errno,
// with the path named.
absl::StatusOr<std::string> ReadWholeFile(const std::string& path);

// OK if `path` is a regular file that group and others can neither read nor
// write. FailedPrecondition naming the mode and the fix (`chmod 600`)
// otherwise; the errno status when it cannot be examined.
absl::Status CheckKeyFilePermissions(const std::string& path);

// CheckKeyFilePermissions, then PrivateKey::FromPem. The passphrase may be
// empty for unencrypted keys.
absl::StatusOr<PrivateKey> ReadPrivateKeyFile(const std::string& path,
                                              std::string_view passphrase);

// Writes `key` (encrypted when `passphrase` is non-empty) to `path` with mode
// 0600 through WriteFileAtomically. With `overwrite` false, an existing file
// is AlreadyExists and is left alone.
absl::Status WritePrivateKeyFile(const std::string& path, const PrivateKey& key,
                                 std::string_view passphrase, bool overwrite);

}  // namespace refx::pki

#endif  // REFX_AUTH_PKI_KEY_FILE_H_
