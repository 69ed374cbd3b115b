// Explains why bytes failed to parse as a protobuf message, naming the field.
//
// Protobuf rejects a whole message when one proto3 string field holds invalid
// UTF-8, and says only "parse error". A caseworker needs to know which field
// to fix, so this walks the wire format against the descriptor to find it.
#ifndef REFX_COMMON_PROTO_PARSE_H_
#define REFX_COMMON_PROTO_PARSE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace refx {

// True if `text` is well-formed UTF-8 (no overlongs, surrogates or code
// points above U+10FFFF).
bool IsValidUtf8(absl::string_view text);

// Parses `bytes` into `message`. On failure returns INVALID_ARGUMENT with a
// BadRequest field violation naming the first string field with invalid
// UTF-8 (e.g. `referral.victim.given_name`), or a generic violation if the
// bytes are not a message of this type at all.
absl::Status ParseMessageOrExplain(absl::string_view bytes, google::protobuf::Message* message);

}  // namespace refx

#endif  // REFX_COMMON_PROTO_PARSE_H_
