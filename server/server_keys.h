// The server's secrets on disk: the audit HMAC key, the audit signing key,
// the repeat-victim token key and the TLS private key. Each is refused when
// group or others can read or write it (it must then be treated as
// disclosed, as refx-admin treats CA keys), and none is ever silently
// replaced while data made with it exists: a new audit key would stop old
// and new events matching by person, a new signing key would disown the
// signed head, a new token key would stop earlier referrals matching. In
// each case the server refuses to start and says which file to restore.
#ifndef REFX_SERVER_SERVER_KEYS_H_
#define REFX_SERVER_SERVER_KEYS_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/signing.h"
#include "refx/config/v1/server_config.pb.h"
#include "common/secret_file.h"
#include "storage/referral_store.h"
#include "storage/value_cipher.h"

namespace refx::server {

// Secret files are checked by refx::CheckSecretFileMode (common/secret_file.h).
using ::refx::CheckSecretFileMode;

// The audit signing key: read (mode checked), or generated and written
// (0600, with its public key beside it, PublicKeyFileFor) when the file does
// not exist. `created` says which: only a key made now may adopt a head
// written before heads were signed.
struct AuditSigningKeyFile {
  SigningKey key;
  bool created = false;
};
absl::StatusOr<AuditSigningKeyFile> LoadOrCreateAuditSigningKey(const std::string& path);
// Removes a signing key made by this start that the database refused (its
// head is signed by another key), so no wrong key is left behind.
void DiscardCreatedAuditSigningKey(const std::string& path);

// The audit HMAC key (at least 32 bytes). Created (0600) when absent and the
// log is empty; FAILED_PRECONDITION when absent and the log holds events.
absl::StatusOr<std::string> LoadOrCreateAuditKey(const std::string& path, storage::ReferralStore* store);

// The repeat-victim token key. At the default path it is created on first
// start; a file the config names must exist; a lost default key is not
// replaced while tokens exist.
absl::StatusOr<std::string> LoadVictimTokenKey(const config::v1::ServerConfig& config, storage::ReferralStore* store);

// The key-encryption key of encryption at rest (storage.encryption_key_file,
// exactly 32 bytes): read (mode checked), or, when the file does not exist,
// made now and saved (0600) by the store only if the database holds no data
// sealed under another key (storage/value_cipher.h). With the keys it
// replaces (storage.previous_encryption_key_files), each of which must be
// there.
absl::StatusOr<storage::KeyEncryptionKey> LoadOrPrepareKeyEncryptionKey(const config::v1::StorageConfig& storage);

}  // namespace refx::server

#endif  // REFX_SERVER_SERVER_KEYS_H_
