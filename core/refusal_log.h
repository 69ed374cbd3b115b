// Calls refused before the service ran them, in the audit log: a credential
// that no longer stands (revoked, expired, agency suspended, not an agency),
// an agency over its share of the server, an overloaded server. A security
// reviewer needs refused attempts too, but a runaway script or a revoked
// client retrying in a loop must not turn into one audit row per attempt
// (disk load, and a log nobody can read). So the first refusal of one
// agency's certificate for one reason and method in a window is written at
// once, and the rest are counted and written as one event with their count
// once the window has passed.
#ifndef REFX_CORE_REFUSAL_LOG_H_
#define REFX_CORE_REFUSAL_LOG_H_

#include <cstdint>
#include <map>
#include <string>
#include <tuple>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "core/auditor.h"
#include "core/caller.h"

namespace refx::core {

class RefusalLog {
 public:
  struct Options {
    Auditor* auditor = nullptr;    // not owned
    const Clock* clock = nullptr;  // default: system clock
    absl::Duration window = absl::Minutes(1);
    size_t max_open_windows = 10000;  // beyond it, counts are written early
  };
  explicit RefusalLog(Options options);

  // Records one refused call of `who` (identified, or as claimed by its
  // certificate) with the status `code` and ErrorInfo `reason` it got. Never
  // blocks: events are written asynchronously (a refusal discloses nothing,
  // so it does not wait for its event).
  void Record(const Caller& who, absl::string_view method, absl::StatusCode code, absl::string_view reason);

  // Writes the counts of windows that have ended; with `all`, of every
  // window (shutdown). Call about once a second.
  void Flush(bool all = false);

 private:
  struct Window {
    absl::Time start;
    int64_t more = 0;  // refusals after the first, not yet written
    Caller who;
    absl::StatusCode code = absl::StatusCode::kUnknown;
  };
  using Key = std::tuple<std::string, std::string, std::string, std::string>;  // agency, serial, reason, method

  void Write(const Caller& who, const std::string& method, absl::StatusCode code, const std::string& reason,
             int64_t count);

  Options options_;
  absl::Mutex mu_;
  std::map<Key, Window> windows_ ABSL_GUARDED_BY(mu_);
};

}  // namespace refx::core

#endif  // REFX_CORE_REFUSAL_LOG_H_
