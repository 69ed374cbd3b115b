#include "storage/value_cipher.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/aead.h"
#include "common/hash.h"

namespace refx::storage {
namespace {

constexpr absl::string_view kMagic("\0RXE", 4);
constexpr char kVersion = 1;
constexpr size_t kHeaderBytes = kMagic.size() + 1 + 4;

constexpr absl::string_view kSeparator("\0", 1);

std::string AssociatedData(absl::string_view column, absl::string_view row) {
  return absl::StrCat("refx sealed value v1", kSeparator, column, kSeparator, row);
}

std::string KeyIdBytes(uint32_t id) {
  return std::string{static_cast<char>(id >> 24), static_cast<char>(id >> 16), static_cast<char>(id >> 8),
                     static_cast<char>(id)};
}

}  // namespace

std::string SealedRow(absl::string_view referral_id) { return std::string(referral_id); }

std::string SealedRow(absl::string_view referral_id, int64_t sequence) {
  return absl::StrCat(referral_id, kSeparator, sequence);
}

std::string SealedRow(absl::string_view referral_id, absl::string_view agency_id, absl::string_view request_id) {
  return absl::StrCat(referral_id, kSeparator, agency_id, kSeparator, request_id);
}

ValueCipher::ValueCipher(std::map<uint32_t, std::string> data_keys)
    : data_keys_(std::move(data_keys)), active_key_id_(data_keys_.rbegin()->first) {}

absl::StatusOr<ValueCipher> ValueCipher::Create(std::map<uint32_t, std::string> data_keys) {
  if (data_keys.empty()) return absl::InvalidArgumentError("encryption at rest needs at least one data key");
  for (const auto& [id, key] : data_keys) {
    if (id == 0 || key.size() != kAeadKeyBytes) {
      return absl::InvalidArgumentError(absl::StrCat("data key ", id, " is not a 32-byte key with a non-zero id"));
    }
  }
  return ValueCipher(std::move(data_keys));
}

absl::StatusOr<ValueCipher> ValueCipher::WithKeys(std::map<uint32_t, std::string> more) const {
  more.insert(data_keys_.begin(), data_keys_.end());
  return Create(std::move(more));
}

bool ValueCipher::IsSealed(absl::string_view stored) {
  return stored.size() >= kHeaderBytes && stored.substr(0, kMagic.size()) == kMagic;
}

uint32_t ValueCipher::KeyIdOf(absl::string_view stored) {
  if (!IsSealed(stored)) return 0;
  const auto* b = reinterpret_cast<const unsigned char*>(stored.data()) + kMagic.size() + 1;
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
}

absl::StatusOr<std::string> ValueCipher::Seal(absl::string_view column, absl::string_view row,
                                              absl::string_view plaintext) const {
  if (plaintext.empty()) return std::string();
  const std::string& key = data_keys_.at(active_key_id_);
  absl::StatusOr<std::string> sealed = AeadSeal(key, AssociatedData(column, row), plaintext);
  if (!sealed.ok()) return sealed.status();
  return absl::StrCat(kMagic, absl::string_view(&kVersion, 1), KeyIdBytes(active_key_id_), *sealed);
}

absl::StatusOr<std::string> ValueCipher::Open(absl::string_view column, absl::string_view row,
                                              absl::string_view stored) const {
  if (!IsSealed(stored)) return std::string(stored);
  const uint32_t key_id = KeyIdOf(stored);
  if (stored[kMagic.size()] != kVersion) {
    return absl::DataLossError(absl::StrCat("a value in ", column, " is sealed in an unknown format"));
  }
  auto key = data_keys_.find(key_id);
  if (key == data_keys_.end()) {
    return absl::DataLossError(
        absl::StrCat("a value in ", column, " is sealed with data key ", key_id, ", which this store does not hold"));
  }
  absl::StatusOr<std::string> plaintext =
      AeadOpen(key->second, AssociatedData(column, row), stored.substr(kHeaderBytes));
  if (!plaintext.ok()) {
    return absl::DataLossError(absl::StrCat("a value in ", column, " sealed with data key ", key_id,
                                            " does not open: altered, or moved from another row"));
  }
  return plaintext;
}

absl::StatusOr<std::string> WrapDataKey(absl::string_view kek, uint32_t key_id, absl::string_view data_key) {
  return AeadSeal(kek, absl::StrCat("refx data key v1 ", key_id), data_key);
}

absl::StatusOr<std::string> UnwrapDataKey(absl::string_view kek, uint32_t key_id, absl::string_view wrapped) {
  absl::StatusOr<std::string> key = AeadOpen(kek, absl::StrCat("refx data key v1 ", key_id), wrapped);
  if (!key.ok() || key->size() != kAeadKeyBytes) {
    return absl::FailedPreconditionError(
        absl::StrCat("data key ", key_id, " does not unwrap with the configured key-encryption key"));
  }
  return key;
}

std::string KeyEncryptionKeyId(absl::string_view kek) {
  return absl::BytesToHexString(Sha256(absl::StrCat("refx key-encryption key id ", kek)).substr(0, 8));
}

}  // namespace refx::storage
