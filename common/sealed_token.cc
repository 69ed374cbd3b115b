#include "common/sealed_token.h"

#include "absl/strings/escaping.h"
#include "common/aead.h"

namespace refx {
namespace {

const absl::Status& NotOurs() {
  static const auto* status =
      new absl::Status(absl::InvalidArgumentError("not a token this server issued for this request"));
  return *status;
}

}  // namespace

absl::StatusOr<TokenSealer> TokenSealer::Create(absl::string_view key) {
  if (key.size() != kAeadKeyBytes) return absl::InvalidArgumentError("a token key must be 32 bytes");
  return TokenSealer(std::string(key));
}

std::string TokenSealer::Seal(absl::string_view binding, absl::string_view payload) const {
  // Failure here is the process's crypto library failing, not input: a
  // token that cannot be made is an empty one, which no Open accepts.
  absl::StatusOr<std::string> sealed = AeadSeal(key_, binding, payload);
  return sealed.ok() ? absl::WebSafeBase64Escape(*sealed) : "";
}

absl::StatusOr<std::string> TokenSealer::Open(absl::string_view binding, absl::string_view token) const {
  std::string raw;
  if (token.empty() || token.size() > 4096 || !absl::WebSafeBase64Unescape(token, &raw)) return NotOurs();
  absl::StatusOr<std::string> payload = AeadOpen(key_, binding, raw);
  if (!payload.ok()) return NotOurs();
  return payload;
}

}  // namespace refx
