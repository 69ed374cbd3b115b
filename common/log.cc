#include "common/log.h"

#include <atomic>
#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/json_text.h"

namespace refx::log {
namespace {

std::atomic<int> g_min_level{static_cast<int>(Level::kInfo)};
std::atomic<bool> g_json{false};

absl::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarning: return "warning";
    case Level::kError: return "error";
  }
  return "info";
}

bool NeedsQuotes(absl::string_view v) {
  if (v.empty()) return true;
  for (unsigned char c : v) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) return true;
  }
  return false;
}

// "%Y-%m-%dT%H:%M:%E6SZ" of `now`. absl::FormatTime on every event was a
// visible share of a call's server CPU (callgrind), so each thread formats
// the date and time to the second once per second and appends the
// microseconds itself; the text is the same.
std::string Timestamp(absl::Time now) {
  const int64_t micros = absl::ToUnixMicros(now);
  if (micros < 0) return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", now, absl::UTCTimeZone());
  const int64_t second = micros / 1000000;
  thread_local int64_t cached_second = -1;
  thread_local std::string cached_prefix;  // "YYYY-MM-DDTHH:MM:SS"
  if (second != cached_second) {
    cached_prefix = absl::FormatTime("%Y-%m-%dT%H:%M:%S", absl::FromUnixSeconds(second), absl::UTCTimeZone());
    cached_second = second;
  }
  std::string out;
  out.reserve(cached_prefix.size() + 8);
  out.append(cached_prefix);
  char fraction[8] = {'.', '0', '0', '0', '0', '0', '0', 'Z'};
  int64_t rest = micros % 1000000;
  for (int i = 6; i >= 1; --i) {
    fraction[i] = static_cast<char>('0' + rest % 10);
    rest /= 10;
  }
  out.append(fraction, sizeof fraction);
  return out;
}

}  // namespace

Value::Value(double number) : text_(absl::StrCat(number)), number_(std::isfinite(number)) {}

void Configure(Level min_level, Format format) {
  g_min_level = static_cast<int>(min_level);
  g_json = format == Format::kJson;
}

bool ParseLevel(absl::string_view text, Level* level) {
  if (text == "debug") *level = Level::kDebug;
  else if (text == "info") *level = Level::kInfo;
  else if (text == "warning") *level = Level::kWarning;
  else if (text == "error") *level = Level::kError;
  else return false;
  return true;
}

namespace {

void Write(Level level, absl::string_view event, std::initializer_list<Field> fields) {
  const std::string ts = Timestamp(absl::Now());
  std::string line;
  line.reserve(128);
  if (g_json.load(std::memory_order_relaxed)) {
    absl::StrAppend(&line, "{\"ts\":\"", ts, "\",\"level\":\"", LevelName(level), "\",\"event\":\"");
    AppendJsonEscaped(&line, event);
    line.push_back('"');
    for (const auto& [key, value] : fields) {
      line.append(",\"");
      AppendJsonEscaped(&line, key);
      line.append("\":");
      if (value.bare()) {
        line.append(value.text());
      } else {
        line.push_back('"');
        AppendJsonEscaped(&line, value.text());
        line.push_back('"');
      }
    }
    line.append("}\n");
  } else {
    absl::StrAppend(&line, "ts=", ts, " level=", LevelName(level), " event=");
    AppendJsonEscaped(&line, event);
    for (const auto& [key, value] : fields) {
      line.push_back(' ');
      line.append(key.data(), key.size());
      line.push_back('=');
      if (NeedsQuotes(value.text())) {
        line.push_back('"');
        AppendJsonEscaped(&line, value.text());
        line.push_back('"');
      } else {
        line.append(value.text());
      }
    }
    line.push_back('\n');
  }
  // One fwrite per line keeps concurrent events from interleaving.
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace

void Event(Level level, absl::string_view event, std::initializer_list<Field> fields) {
  if (static_cast<int>(level) < g_min_level.load(std::memory_order_relaxed)) return;
  Write(level, event, fields);
}

void Announce(absl::string_view event, std::initializer_list<Field> fields) { Write(Level::kInfo, event, fields); }

}  // namespace refx::log
