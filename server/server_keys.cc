#include "server/server_keys.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "auth/pki/certificate_authority.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/yaml_proto.h"
#include "server/server_config.h"

namespace refx::server {
namespace {

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// Creates the directory a new key goes into (owner-only: it holds secrets)
// when it does not exist yet, as on a first start.
absl::Status EnsureParentDirectory(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty() || std::filesystem::exists(parent)) return absl::OkStatus();
  std::error_code error;
  std::filesystem::create_directories(parent, error);
  if (!error) std::filesystem::permissions(parent, std::filesystem::perms::owner_all, error);
  if (error) return absl::UnavailableError(absl::StrCat("cannot create directory ", parent.string(), ": ", error.message()));
  return absl::OkStatus();
}

// The contents of a secret file whose mode has been checked.
absl::StatusOr<std::string> ReadSecret(const std::string& setting, const std::string& path) {
  REFX_RETURN_IF_ERROR(CheckSecretFileMode(setting, path));
  std::string contents;
  absl::Status read = ReadFileToString(path, &contents);
  if (!read.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(setting, ": ", path, " cannot be read: ", read.message()));
  }
  return contents;
}

}  // namespace

absl::StatusOr<AuditSigningKeyFile> LoadOrCreateAuditSigningKey(const std::string& path) {
  if (Exists(path)) {
    REFX_ASSIGN_OR_RETURN(std::string pem, ReadSecret("audit_signing_key_file", path));
    auto key = SigningKey::FromPem(pem);
    if (!key.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("audit_signing_key_file: ", path, " holds no Ed25519 private key"));
    }
    // The public key beside it is for verifiers; put it back if it went.
    const std::string public_path = PublicKeyFileFor(path);
    if (!Exists(public_path)) {
      pki::WriteFileAtomically(public_path, key->Public().PublicPem(), 0644).IgnoreError();
    }
    return AuditSigningKeyFile{*std::move(key), false};
  }
  REFX_ASSIGN_OR_RETURN(SigningKey key, SigningKey::Generate());
  REFX_RETURN_IF_ERROR(EnsureParentDirectory(path));
  REFX_RETURN_IF_ERROR(pki::WriteFileAtomically(path, key.PrivatePem(), 0600));
  REFX_RETURN_IF_ERROR(pki::WriteFileAtomically(PublicKeyFileFor(path), key.Public().PublicPem(), 0644));
  log::Info("audit_signing_key_created",
            {{"file", path}, {"public_key", PublicKeyFileFor(path)}, {"key_id", key.Public().KeyId()}});
  return AuditSigningKeyFile{std::move(key), true};
}

void DiscardCreatedAuditSigningKey(const std::string& path) {
  std::remove(path.c_str());
  std::remove(PublicKeyFileFor(path).c_str());
}

absl::StatusOr<std::string> LoadOrCreateAuditKey(const std::string& path, storage::ReferralStore* store) {
  if (!Exists(path)) {
    // A lost key is not replaced under existing events: with a new key the
    // log's acting-person HMACs before and after could no longer be matched.
    REFX_ASSIGN_OR_RETURN(storage::AuditHead head, store->AuditChainHead());
    if (head.sequence > 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "audit_key_file: ", path, " is missing but the audit log holds ", head.sequence,
          " events keyed with it; restore the key file (a new key would stop old and new events matching by "
          "person)"));
    }
    std::string key = RandomBytes(32);
    REFX_RETURN_IF_ERROR(EnsureParentDirectory(path));
    REFX_RETURN_IF_ERROR(pki::WriteFileAtomically(path, key, 0600));
    log::Info("audit_key_created", {{"file", path}});
    return key;
  }
  REFX_ASSIGN_OR_RETURN(std::string key, ReadSecret("audit_key_file", path));
  if (key.size() < 32) {
    return absl::FailedPreconditionError(absl::StrCat("audit_key_file: ", path, " holds fewer than 32 bytes"));
  }
  return key;
}

absl::StatusOr<std::string> LoadVictimTokenKey(const config::v1::ServerConfig& config, storage::ReferralStore* store) {
  const std::string& path = config.victim_token_key_file();
  if (!Exists(path) && path == DefaultVictimTokenKeyFile(config)) {
    // A lost key is not replaced under existing tokens: a new one would
    // silently stop every earlier referral from matching (fail closed).
    REFX_ASSIGN_OR_RETURN(bool tokens, store->HasVictimTokens());
    if (tokens) {
      return absl::FailedPreconditionError(absl::StrCat(
          "victim_token_key_file: ", path,
          " is missing but the database holds repeat-victim tokens made with it; restore the key file "
          "(a new key would silently stop earlier referrals from matching)"));
    }
    std::string key = RandomBytes(32);
    REFX_RETURN_IF_ERROR(EnsureParentDirectory(path));
    REFX_RETURN_IF_ERROR(pki::WriteFileAtomically(path, key, 0600));
    log::Info("victim_token_key_created", {{"file", path}});
    return key;
  }
  REFX_ASSIGN_OR_RETURN(std::string key, ReadSecret("victim_token_key_file", path));
  if (key.size() < 32) {
    return absl::FailedPreconditionError(
        absl::StrCat("victim_token_key_file: ", path, " holds fewer than 32 bytes"));
  }
  return key;
}

namespace {

// A key-encryption key file: exactly 32 bytes, owner-only.
absl::StatusOr<std::string> ReadKeyEncryptionKey(const std::string& setting, const std::string& path) {
  REFX_ASSIGN_OR_RETURN(std::string key, ReadSecret(setting, path));
  if (key.size() != 32) {
    return absl::FailedPreconditionError(
        absl::StrCat(setting, ": ", path, " must hold exactly 32 bytes (it holds ", key.size(),
                     "); make one with `head -c 32 /dev/urandom > FILE; chmod 600 FILE`"));
  }
  return key;
}

}  // namespace

absl::StatusOr<storage::KeyEncryptionKey> LoadOrPrepareKeyEncryptionKey(const config::v1::StorageConfig& storage) {
  const std::string& path = storage.encryption_key_file();
  storage::KeyEncryptionKey kek;
  kek.source = absl::StrCat("storage.encryption_key_file ", path);
  for (const std::string& previous : storage.previous_encryption_key_files()) {
    REFX_ASSIGN_OR_RETURN(std::string key, ReadKeyEncryptionKey("storage.previous_encryption_key_files", previous));
    kek.previous.push_back({std::move(key), absl::StrCat("storage.previous_encryption_key_files ", previous)});
  }
  if (Exists(path)) {
    REFX_ASSIGN_OR_RETURN(kek.key, ReadKeyEncryptionKey("storage.encryption_key_file", path));
    return kek;
  }
  kek.key = RandomBytes(32);
  kek.save_new = [path, key = kek.key]() -> absl::Status {
    REFX_RETURN_IF_ERROR(EnsureParentDirectory(path));
    REFX_RETURN_IF_ERROR(pki::WriteFileAtomically(path, key, 0600));
    log::Info("encryption_key_created", {{"file", path}});
    return absl::OkStatus();
  };
  return kek;
}

}  // namespace refx::server
