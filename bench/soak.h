// refx-bench --soak MINUTES: a long run at a steady, moderate load that
// looks for what grows without bound (issue 17).
//
// While it runs, against the started refx-server:
//   - creates at a steady rate (the sender), each read back, every second
//     one accepted by the recipient, a list page every tenth;
//   - one long-lived watch stream (the recipient) that measures event-log
//     lag: create sent -> its REFERRAL_CREATED received;
//   - watch streams opening and closing all the time (several threads,
//     each holding a stream 0.5-3 s, then the next);
//   - the signed revocation list republished every minute and the
//     agreement file rewritten (so reloaded) every three minutes.
// Every sample (a minute by default) records the server's RSS, open file
// descriptors and threads (/proc/PID), the calls of that sample and the
// watch lag.
//
// The verdict: the first fifth of the samples is warm-up (at least one);
// the rest is split in halves, and the run fails if, in the second half,
//   RSS max      > max(1.10 x first-half max, first-half max + 4 MB),
//   fds max      > first-half max + 8,
//   threads max  > first-half max + 4,
//   lag p99 max  > max(1.5 x first-half max, first-half max + 50 ms),
// or if any call failed, any created referral never reached the long-lived
// watcher, or the reloads did not happen. Under six judged samples growth
// is not judged (the other checks still are).
#ifndef REFX_BENCH_SOAK_H_
#define REFX_BENCH_SOAK_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "clients/lib/referral_client.h"
#include "refx/v1/referral.pb.h"

namespace refx::bench {

struct SoakSettings {
  absl::Duration duration = absl::Minutes(30);
  absl::Duration sample_every = absl::Minutes(1);
  double creates_per_second = 20;
  int watch_churners = 6;
  absl::Duration revocation_every = absl::Minutes(1);
  absl::Duration agreement_every = absl::Minutes(3);
  pid_t server_pid = 0;
  std::string server_log;  // Read at the end to count the reloads.
  refx::client::ConnectionOptions sender, recipient;
  refx::v1::Referral referral;  // What every create sends.
  // Republishes the signed revocation list with this sequence number.
  std::function<absl::Status(int64_t sequence)> publish_revocations;
  // Rewrites the agreement file (same rules, new bytes) so it is reloaded.
  std::function<absl::Status(int64_t generation)> rewrite_agreement;
};

struct SoakSample {
  double minutes = 0;  // Since the start.
  double rss_mb = 0;
  int64_t fds = 0;
  int64_t threads = 0;
  int64_t calls_ok = 0, calls_failed = 0;  // In this sample.
  int64_t watch_streams_opened = 0;        // In this sample.
  double lag_p50_ms = 0, lag_p99_ms = 0;   // Create sent -> event received.
  int64_t lag_events = 0;
};

struct SoakResult {
  std::vector<SoakSample> samples;
  int64_t revocation_lists_published = 0, revocation_lists_loaded = 0;
  int64_t agreements_written = 0, agreements_loaded = 0;
  int64_t created = 0, never_delivered = 0;
  std::string first_error;
  bool judged = false;  // False: too short to judge growth.
  bool failed = false;  // A check failed (judged or not).
  bool passed = false;  // Judged and nothing failed.
  std::vector<std::string> findings;  // Why it failed, or what was checked.
};

// Runs the soak; an error only when it could not run (setup, a dead server).
absl::StatusOr<SoakResult> RunSoak(const SoakSettings& settings);

// The verdict over `result->samples` and counts (sets judged, passed and
// findings); separate so that its rules are testable.
void JudgeSoak(SoakResult* result);

std::string FormatSoakTable(const SoakResult& result);
std::string FormatSoakJson(const SoakResult& result);

}  // namespace refx::bench

#endif  // REFX_BENCH_SOAK_H_
