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
//
// main reads the flags into SoakOptions and starts the server on a copy of
// the agreement (CopySoakAgreement); RunSoakAndReport does the rest.
#ifndef REFX_BENCH_SOAK_H_
#define REFX_BENCH_SOAK_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "auth/pki/dev_pki.h"
#include "bench/child_process.h"
#include "bench/run_environment.h"
#include "clients/lib/referral_client.h"
#include "refx/v1/referral.pb.h"

namespace refx::bench {

// The --soak paragraph of `refx-bench --help`, kept beside the run it
// describes.
inline constexpr char kSoakHelp[] = R"(
Soak (--soak MINUTES, e.g. --soak 30): no table of rows; instead a steady
load for MINUTES against the started server (--soak-rate creates/s, each
read back, every second one accepted, a list page every tenth; a long-lived
watch stream measuring event-log lag; six more streams opening and closing
all the time; the revocation list republished every minute and the
agreement file rewritten every three), sampled every --sample-seconds:
the server's RSS, open file descriptors, threads, calls, streams opened and
watch lag. Verdict: the first fifth of the samples is warm-up; the rest is
split in halves, and the run fails if the second half's max exceeds the
first half's by more than: RSS 10% (at least 4 MB), fds 8, threads 4,
watch lag p99 50% (at least 50 ms); or if any call failed, any referral never reached the
watch stream, or a reload did not happen. Fewer than six samples after
warm-up: growth is not judged, the other checks are.
)";

// The --soak flags, read in main.
struct SoakOptions {
  double minutes = 0;  // 0: no soak; main measures instead.
  double sample_seconds = 60;
  double creates_per_second = 20;
  double revocation_seconds = 60;
  double agreement_seconds = 180;
};

// INVALID_ARGUMENT, saying why, when `options` ask for a soak on a server
// given by --server (`external`): a soak starts its own, since it
// republishes the revocation list and rewrites the agreement.
absl::Status CheckSoakOptions(const SoakOptions& options, bool external);

// The agreement file a soak rewrites: a copy in the run's directory, made
// before the server starts on it, so that the original is never touched.
struct SoakAgreement {
  std::string path;
  std::string text;  // The original's bytes; each rewrite appends a comment.
};

// Copies `agreement_path` (without it, agreement.yaml beside
// `partnership_path`) to `directory`/agreement.yaml. NOT_FOUND when there is
// no agreement to copy (a soak needs one to rewrite).
absl::StatusOr<SoakAgreement> CopySoakAgreement(const std::string& partnership_path,
                                                const std::optional<std::string>& agreement_path,
                                                const std::string& directory);

// The soak as main runs it, on `server`: the refx-server it started on the
// throwaway PKI (`pki`, written to `pki_dir`) and on `agreement`. Creates
// are sent as `sender`; accepts and the watch streams come from the agency
// `recipient`. Prints the result as `output` says. Returns false when a
// check failed (main exits 3); an error when the soak could not run or the
// server died.
absl::StatusOr<bool> RunSoakAndReport(const SoakOptions& options, ChildServer& server,
                                      const refx::client::ConnectionOptions& sender, const std::string& recipient,
                                      const refx::pki::DevPki& pki, const std::string& pki_dir,
                                      const SoakAgreement& agreement, const OutputOptions& output);

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
