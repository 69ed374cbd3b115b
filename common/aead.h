// AES-256-GCM, the one authenticated cipher refx uses: for page tokens
// (common/sealed_token.h) and for personal data at rest
// (storage/value_cipher.h). A sealed value is nonce (12 bytes, fresh and
// random per value) | cipher text | tag (16 bytes); the associated data
// binds it to its place, so a value moved elsewhere does not open.
#ifndef REFX_COMMON_AEAD_H_
#define REFX_COMMON_AEAD_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace refx {

inline constexpr size_t kAeadKeyBytes = 32;
inline constexpr size_t kAeadNonceBytes = 12;
inline constexpr size_t kAeadTagBytes = 16;
// What sealing adds to a value's length.
inline constexpr size_t kAeadOverheadBytes = kAeadNonceBytes + kAeadTagBytes;

// `plaintext` sealed under the 32-byte `key` with `associated_data`.
// INTERNAL only if the crypto library fails (or the key is not 32 bytes).
absl::StatusOr<std::string> AeadSeal(absl::string_view key, absl::string_view associated_data,
                                     absl::string_view plaintext);

// The plaintext of `sealed` if it was sealed by `key` with exactly
// `associated_data`; DATA_LOSS for anything else (truncated, altered, another
// key or another binding), without saying which.
absl::StatusOr<std::string> AeadOpen(absl::string_view key, absl::string_view associated_data,
                                     absl::string_view sealed);

}  // namespace refx

#endif  // REFX_COMMON_AEAD_H_
