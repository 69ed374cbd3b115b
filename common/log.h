// Structured operational logging: one line per event, `key=value` text or
// JSON, UTC timestamps, to stderr.
//
// Rule for every caller: log identifiers (agency ids, referral ids, request
// ids, status codes, certificate serials), never referral content or any
// value a caller submitted as free text. Tests plant canary values and grep
// the logs for them.
#ifndef REFX_COMMON_LOG_H_
#define REFX_COMMON_LOG_H_

#include <initializer_list>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace refx::log {

enum class Level { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };
enum class Format { kText, kJson };

// Set once by a binary's main before it starts threads.
void Configure(Level min_level, Format format);

// Parses "debug" | "info" | "warning" | "error"; false if unknown.
bool ParseLevel(absl::string_view text, Level* level);

// One field's value: text, or a number that JSON mode writes as a JSON
// number (counts, ports, latencies), so a log pipeline can sum and compare
// without parsing strings.
class Value {
 public:
  Value(std::string text) : text_(std::move(text)) {}  // NOLINT: implicit by design
  Value(const char* text) : text_(text) {}             // NOLINT
  Value(absl::string_view text) : text_(text) {}       // NOLINT
  template <typename Integer,
            std::enable_if_t<std::is_integral_v<Integer> && !std::is_same_v<Integer, bool>, int> = 0>
  Value(Integer number) : text_(absl::StrCat(number)), number_(true) {}  // NOLINT
  Value(double number);                                                  // NOLINT
  Value(bool flag) : text_(flag ? "true" : "false"), number_(true) {}   // NOLINT

  const std::string& text() const { return text_; }
  // Written bare in JSON (a number or a boolean), quoted otherwise.
  bool bare() const { return number_; }

 private:
  std::string text_;
  bool number_ = false;
};

using Field = std::pair<absl::string_view, Value>;

// Writes one event line, e.g. `ts=... level=info event=rpc method=GetReferral`.
// Values are escaped so a hostile value cannot forge a line or a field.
void Event(Level level, absl::string_view event, std::initializer_list<Field> fields = {});

// As Event at info level, but written whatever the minimum level: what a
// supervisor must always be able to read (the port the server listens on).
void Announce(absl::string_view event, std::initializer_list<Field> fields = {});

inline void Info(absl::string_view event, std::initializer_list<Field> fields = {}) {
  Event(Level::kInfo, event, fields);
}
inline void Warning(absl::string_view event, std::initializer_list<Field> fields = {}) {
  Event(Level::kWarning, event, fields);
}
inline void Error(absl::string_view event, std::initializer_list<Field> fields = {}) {
  Event(Level::kError, event, fields);
}
inline void Debug(absl::string_view event, std::initializer_list<Field> fields = {}) {
  Event(Level::kDebug, event, fields);
}

}  // namespace refx::log

#endif  // REFX_COMMON_LOG_H_
