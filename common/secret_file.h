// The one rule for trusting a file that holds a secret the server reads (its
// TLS key, audit keys, the victim-token key, the database password): a
// regular file no other user can read or change. Group read (never group
// write or execute) is accepted only when the file's group is one this
// process runs in and is not root's: that is how Kubernetes presents a
// mounted Secret to a non-root pod (mode 0440, group = the pod's fsGroup,
// which only the pod's containers hold). Anything else is treated as
// disclosed.
#ifndef REFX_COMMON_SECRET_FILE_H_
#define REFX_COMMON_SECRET_FILE_H_

#include <string>

#include "absl/status/status.h"

namespace refx {

// OK, or FAILED_PRECONDITION naming `setting` and `path` and saying what to
// do (`chmod 600`), or that the file cannot be read (missing).
absl::Status CheckSecretFileMode(const std::string& setting, const std::string& path);

}  // namespace refx

#endif  // REFX_COMMON_SECRET_FILE_H_
