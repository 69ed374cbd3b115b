// Opaque, authenticated tokens: page tokens a client hands back without
// being able to read, alter or forge them.
//
// A token is AES-256-GCM over the payload with a fresh 96-bit nonce,
// base64url-encoded: the client learns nothing of what is inside (a page
// token's cursor is a position in the caller's own listing, but even that
// need not be readable), and any change to a single bit fails the tag. The
// associated data binds a token to its use (e.g. the kind of listing, the
// calling agency): a token sealed for one binding does not open under
// another. The key stays in the server; rotating it (restart with another
// key) only invalidates tokens in flight.
#ifndef REFX_COMMON_SEALED_TOKEN_H_
#define REFX_COMMON_SEALED_TOKEN_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace refx {

class TokenSealer {
 public:
  // `key` must be exactly 32 bytes (INVALID_ARGUMENT otherwise).
  static absl::StatusOr<TokenSealer> Create(absl::string_view key);

  // `payload` sealed under `binding`, as base64url text without padding.
  std::string Seal(absl::string_view binding, absl::string_view payload) const;

  // The payload of `token` if it was sealed by this key under exactly
  // `binding`; INVALID_ARGUMENT ("not a token this server issued for this
  // request") for anything else: malformed, altered, forged, truncated, or
  // sealed for another binding.
  absl::StatusOr<std::string> Open(absl::string_view binding, absl::string_view token) const;

 private:
  explicit TokenSealer(std::string key) : key_(std::move(key)) {}
  std::string key_;
};

}  // namespace refx

#endif  // REFX_COMMON_SEALED_TOKEN_H_
