// JSON string escaping, for the few places that write JSON text by hand
// (log lines, error objects, SQLite json_each parameters, YAML->JSON). One
// escaper, so a control character or quote can never break out of a value.
#ifndef REFX_COMMON_JSON_TEXT_H_
#define REFX_COMMON_JSON_TEXT_H_

#include <string>

#include "absl/strings/string_view.h"

namespace refx {

// Appends `text` with `"`, `\` and control characters escaped (no quotes).
void AppendJsonEscaped(std::string* out, absl::string_view text);

// `text` as a quoted JSON string.
std::string JsonQuote(absl::string_view text);

}  // namespace refx

#endif  // REFX_COMMON_JSON_TEXT_H_
