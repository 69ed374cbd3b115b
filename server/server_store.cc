#include "server/server_store.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/server_keys.h"
#include "storage/make_store.h"

namespace refx::server {

absl::StatusOr<std::unique_ptr<storage::ReferralStore>> OpenServerStore(const config::v1::ServerConfig& config,
                                                                         const std::string& what) {
  for (const std::string& file : {config.audit_signing_key_file(), config.storage().encryption_key_file()}) {
    if (!std::filesystem::exists(file)) {
      return absl::FailedPreconditionError(absl::StrCat(
          file, " does not exist: ", what, " works on a database a server has run on, with its key files"));
    }
  }
  REFX_ASSIGN_OR_RETURN(AuditSigningKeyFile signing, LoadOrCreateAuditSigningKey(config.audit_signing_key_file()));
  storage::MakeStoreOptions store_options;
  store_options.config = config.storage();
  store_options.audit_head_key = signing.key;
  REFX_ASSIGN_OR_RETURN(store_options.key_encryption_key, LoadOrPrepareKeyEncryptionKey(config.storage()));
  return storage::MakeStore(store_options);
}

}  // namespace refx::server
