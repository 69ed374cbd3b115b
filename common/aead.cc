#include "common/aead.h"

#include <openssl/evp.h>

#include <climits>
#include <memory>

#include "common/hash.h"

namespace refx {
namespace {

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

const unsigned char* Bytes(absl::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

// As common/hash.cc does for SHA-256: OpenSSL 3 resolves EVP_aes_256_gcm()
// through its provider registry, under its locks, at every initialisation
// (a third of the time of opening a stored referral, in a list page's
// profile). Fetched once, kept for the process; null if no provider offers
// it, and every seal and open then fails.
const EVP_CIPHER* Aes256Gcm() {
  static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  return cipher;
}

}  // namespace

absl::StatusOr<std::string> AeadSeal(absl::string_view key, absl::string_view associated_data,
                                     absl::string_view plaintext) {
  if (key.size() != kAeadKeyBytes) return absl::InternalError("an AES-256-GCM key must be 32 bytes");
  if (plaintext.size() > INT_MAX - kAeadOverheadBytes || associated_data.size() > INT_MAX) {
    return absl::InternalError("value too large to seal");
  }
  const std::string nonce = RandomBytes(kAeadNonceBytes);
  std::string out = nonce;
  out.resize(kAeadNonceBytes + plaintext.size() + kAeadTagBytes);
  auto* cipher_text = reinterpret_cast<unsigned char*>(out.data()) + kAeadNonceBytes;
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int length = 0;
  int final_length = 0;
  if (ctx == nullptr || EVP_EncryptInit_ex(ctx.get(), Aes256Gcm(), nullptr, Bytes(key), Bytes(nonce)) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &length, Bytes(associated_data),
                        static_cast<int>(associated_data.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), cipher_text, &length, Bytes(plaintext), static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), cipher_text + length, &final_length) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kAeadTagBytes, cipher_text + plaintext.size()) != 1) {
    return absl::InternalError("AES-256-GCM encryption failed");
  }
  return out;
}

absl::StatusOr<std::string> AeadOpen(absl::string_view key, absl::string_view associated_data,
                                     absl::string_view sealed) {
  static const auto* kNotOpened = new absl::Status(absl::DataLossError("sealed value does not open"));
  if (key.size() != kAeadKeyBytes || sealed.size() < kAeadOverheadBytes || sealed.size() > INT_MAX ||
      associated_data.size() > INT_MAX) {
    return *kNotOpened;
  }
  const size_t plaintext_size = sealed.size() - kAeadOverheadBytes;
  std::string plaintext(plaintext_size, '\0');
  std::string tag(sealed.substr(kAeadNonceBytes + plaintext_size));
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int length = 0;
  int final_length = 0;
  if (ctx == nullptr ||
      EVP_DecryptInit_ex(ctx.get(), Aes256Gcm(), nullptr, Bytes(key), Bytes(sealed)) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &length, Bytes(associated_data),
                        static_cast<int>(associated_data.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(plaintext.data()), &length,
                        Bytes(sealed) + kAeadNonceBytes, static_cast<int>(plaintext_size)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kAeadTagBytes, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(plaintext.data()) + length, &final_length) !=
          1) {
    return *kNotOpened;
  }
  return plaintext;
}

}  // namespace refx
