// The server's own database opened by an offline tool (refx-admin's
// retention preview, data key rotation and re-encryption, regime
// migration): the storage, audit signing key and key-encryption key of the
// server's config file, used exactly as the server uses them.
#ifndef REFX_SERVER_SERVER_STORE_H_
#define REFX_SERVER_SERVER_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "refx/config/v1/server_config.pb.h"
#include "storage/referral_store.h"

namespace refx::server {

// Opens the database of `config`. FAILED_PRECONDITION if its audit signing
// key or key-encryption key file does not exist (`what` names the command
// in that message): an admin tool reads a database a server has run on and
// never makes a key the server would then find. An SQLite database held by
// a running server is refused by the store itself (one writer at a time).
absl::StatusOr<std::unique_ptr<storage::ReferralStore>> OpenServerStore(const config::v1::ServerConfig& config,
                                                                         const std::string& what);

}  // namespace refx::server

#endif  // REFX_SERVER_SERVER_STORE_H_
