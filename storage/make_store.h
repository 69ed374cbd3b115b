// The one place that knows the storage backends: opens the store the
// server's `storage` config names. Nothing above storage/ names a backend
// class.
#ifndef REFX_STORAGE_MAKE_STORE_H_
#define REFX_STORAGE_MAKE_STORE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/types/optional.h"
#include "common/signing.h"
#include "refx/config/v1/server_config.pb.h"
#include "storage/referral_store.h"

namespace refx::storage {

struct MakeStoreOptions {
  config::v1::StorageConfig config;  // defaults applied, paths resolved
  // Signs the audit chain's head (SqlStore::Options).
  absl::optional<SigningKey> audit_head_key;
  bool adopt_unsigned_head = false;
};

// Opens (creating and migrating as needed) the configured backend.
// INVALID_ARGUMENT for a config it cannot use; otherwise the backend's errors.
absl::StatusOr<std::unique_ptr<ReferralStore>> MakeStore(const MakeStoreOptions& options);

}  // namespace refx::storage

#endif  // REFX_STORAGE_MAKE_STORE_H_
