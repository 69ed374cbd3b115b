// Hashing and randomness from OpenSSL, for ids, etags and request
// fingerprints (no keys here: keyed HMACs arrive with the audit log).
#ifndef REFX_COMMON_HASH_H_
#define REFX_COMMON_HASH_H_

#include <string>

#include "absl/strings/string_view.h"

namespace refx {

// Raw 32-byte SHA-256 digest.
std::string Sha256(absl::string_view data);
// Lowercase hex of `bytes`.
std::string HexEncode(absl::string_view bytes);
// Raw 32-byte HMAC-SHA256 of `data` under `key`.
std::string HmacSha256(absl::string_view key, absl::string_view data);
// `n` bytes from OpenSSL's CSPRNG; aborts if the CSPRNG fails, because
// every id and key in refx depends on it. Draws of up to 16 bytes come from
// a per-thread pool of its output (hash.cc says why), never shared with a
// forked child.
std::string RandomBytes(size_t n);
// A random 128-bit id as 32 lowercase hex characters.
std::string NewRandomId();

}  // namespace refx

#endif  // REFX_COMMON_HASH_H_
