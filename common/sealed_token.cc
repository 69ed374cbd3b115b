#include "common/sealed_token.h"

#include <openssl/evp.h>

#include <memory>

#include "absl/strings/escaping.h"
#include "common/hash.h"

namespace refx {
namespace {

constexpr size_t kKeyBytes = 32;
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

const absl::Status& NotOurs() {
  static const auto* status =
      new absl::Status(absl::InvalidArgumentError("not a token this server issued for this request"));
  return *status;
}

}  // namespace

absl::StatusOr<TokenSealer> TokenSealer::Create(absl::string_view key) {
  if (key.size() != kKeyBytes) return absl::InvalidArgumentError("a token key must be 32 bytes");
  return TokenSealer(std::string(key));
}

std::string TokenSealer::Seal(absl::string_view binding, absl::string_view payload) const {
  const std::string nonce = RandomBytes(kNonceBytes);
  std::string out = nonce;
  out.resize(kNonceBytes + payload.size() + kTagBytes);
  auto* cipher_text = reinterpret_cast<unsigned char*>(out.data()) + kNonceBytes;
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int length = 0;
  // Failures here are the process's crypto library failing, not input: a
  // token that cannot be made is an empty one, which no Open accepts.
  if (ctx == nullptr ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, reinterpret_cast<const unsigned char*>(key_.data()),
                         reinterpret_cast<const unsigned char*>(nonce.data())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &length, reinterpret_cast<const unsigned char*>(binding.data()),
                        static_cast<int>(binding.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), cipher_text, &length, reinterpret_cast<const unsigned char*>(payload.data()),
                        static_cast<int>(payload.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), cipher_text + length, &length) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, cipher_text + payload.size()) != 1) {
    return "";
  }
  return absl::WebSafeBase64Escape(out);
}

absl::StatusOr<std::string> TokenSealer::Open(absl::string_view binding, absl::string_view token) const {
  std::string raw;
  if (token.empty() || token.size() > 4096 || !absl::WebSafeBase64Unescape(token, &raw) ||
      raw.size() < kNonceBytes + kTagBytes) {
    return NotOurs();
  }
  const size_t payload_size = raw.size() - kNonceBytes - kTagBytes;
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  std::string payload(payload_size, '\0');
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int length = 0;
  std::string tag = raw.substr(kNonceBytes + payload_size);
  if (ctx == nullptr ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, reinterpret_cast<const unsigned char*>(key_.data()),
                         bytes) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &length, reinterpret_cast<const unsigned char*>(binding.data()),
                        static_cast<int>(binding.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(payload.data()), &length, bytes + kNonceBytes,
                        static_cast<int>(payload_size)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(payload.data()) + length, &length) != 1) {
    return NotOurs();
  }
  return payload;
}

}  // namespace refx
