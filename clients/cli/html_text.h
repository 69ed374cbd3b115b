// Text put into the HTML files the CLI writes (the partnership report, the
// subject access bundle): every value from the server goes through
// HtmlEscape, so no value can become markup.
#ifndef REFX_CLIENTS_CLI_HTML_TEXT_H_
#define REFX_CLIENTS_CLI_HTML_TEXT_H_

#include <string>

#include "absl/strings/string_view.h"

namespace refx::cli {

inline std::string HtmlEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace refx::cli

#endif  // REFX_CLIENTS_CLI_HTML_TEXT_H_
