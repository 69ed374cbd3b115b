#include "common/json_text.h"

#include <cstdio>

namespace refx {

void AppendJsonEscaped(std::string* out, absl::string_view text) {
  for (unsigned char c : text) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out->append(buf);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
}

std::string JsonQuote(absl::string_view text) {
  std::string out = "\"";
  AppendJsonEscaped(&out, text);
  out.push_back('"');
  return out;
}

}  // namespace refx
