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
#include "absl/strings/string_view.h"
#include <utility>

namespace refx::log {

enum class Level { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };
enum class Format { kText, kJson };

// Set once by a binary's main before it starts threads.
void Configure(Level min_level, Format format);

// Parses "debug" | "info" | "warning" | "error"; false if unknown.
bool ParseLevel(absl::string_view text, Level* level);

using Field = std::pair<absl::string_view, std::string>;

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
