// refx-bench --overload SECONDS: drives the started refx-server at a
// multiple (3x by default) of its measured capacity from several agencies
// at once, while one well-behaved agency keeps to a modest rate (issue 17).
//
// The run:
//   1. capacity: every flooding agency creates referrals closed-loop
//      (20 in flight each, under the server's busy number) for a few
//      seconds; capacity is their sum of
//      acknowledged creates per second;
//   2. the well-behaved agency alone, creating at --overload-good-rate per
//      second (calls started on schedule, blocking calls on threads of its
//      own, in a process of its own, refx-bench-agency: in reality it is
//      another agency's system, so its answers must not queue behind the
//      flooders' in this process's gRPC pollers and callback threads):
//      its unloaded p99;
//   3. overload: every flooding agency opens calls at (multiple x
//      capacity / agencies) per second regardless of answers (open loop,
//      at most 4,096 unanswered per agency on the client), the
//      well-behaved agency as in 2, for SECONDS; the server's RSS sampled
//      every 250 ms;
//   4. every acknowledged create is read back (GetReferral as the police,
//      a party to all of them): none may be missing.
// Pass: peak RSS under the memory bound, every shed call RESOURCE_EXHAUSTED
// with RetryInfo (no DEADLINE_EXCEEDED, no INTERNAL), the well-behaved
// agency's p99 within 5x its unloaded p99 with no call refused, and no
// acknowledged create missing.
//
// main reads the flags into OverloadOptions and starts the server;
// RunOverloadAndReport does the rest.
#ifndef REFX_BENCH_OVERLOAD_H_
#define REFX_BENCH_OVERLOAD_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bench/child_process.h"
#include "bench/run_environment.h"
#include "clients/lib/connection_options.h"
#include "grpcpp/security/credentials.h"
#include "refx/v1/referral.pb.h"

namespace refx::bench {

// The --overload paragraph of `refx-bench --help`, kept beside the run it
// describes.
inline constexpr char kOverloadHelp[] = R"(
Overload (--overload SECONDS, e.g. --overload 60): no table of rows;
instead (1) capacity: three agencies (the police, the city council,
Rutland) create closed-loop, 20 in flight each; (2) a fourth, well-behaved
agency (the county council) alone at --overload-good-rate creates/s: its
unloaded p99; (3) the three at --overload-multiple x capacity, open loop
(calls started on schedule whatever the answers), the fourth as before,
for SECONDS (the fourth runs as its own process, refx-bench-agency, so that
its answers do not queue behind the flooders' in refx-bench), the server's RSS sampled every 250 ms; (4) every acknowledged
create read back. Pass: peak RSS under --memory-bound-mb, every shed call
RESOURCE_EXHAUSTED with RetryInfo (no deadline or other error), the
well-behaved agency's p99 within 5x its unloaded p99 and none of its calls
refused, no acknowledged create missing.
)";

// The --overload flags, read in main.
struct OverloadOptions {
  double seconds = 0;  // 0: no overload run; main measures instead.
  double multiple = 3;
  double good_rate = 10;  // Creates per second of the well-behaved agency.
  double memory_bound_mb = 1024;
  std::string agency_binary;  // refx-bench-agency, the well-behaved agency's process
};

// INVALID_ARGUMENT, saying why, when `options` ask for an overload run that
// cannot be made: beside a soak (`soak`), or on a server given by --server
// (`external`; the run needs several agencies' keys, so it starts its own).
absl::Status CheckOverloadOptions(const OverloadOptions& options, bool soak, bool external);

// The overload run as main runs it, on `server`: the refx-server it started
// on the throwaway PKI written to `pki_dir`, reached as `connection` says
// (each agency with its own key from `pki_dir`). Prints the result as
// `output` says. Returns false when the verdict failed (main exits 3); an
// error when the run could not be made or the server died.
absl::StatusOr<bool> RunOverloadAndReport(const OverloadOptions& options, ChildServer& server,
                                          const refx::client::ConnectionOptions& connection,
                                          const std::string& pki_dir, const OutputOptions& output);

struct OverloadAgency {
  std::string id;
  std::shared_ptr<grpc::ChannelCredentials> creds;
  refx::v1::Referral referral;  // What its creates send.
};

struct OverloadSettings {
  absl::Duration duration = absl::Seconds(60);
  double multiple = 3;
  double good_rate = 10;  // Creates per second of the well-behaved agency.
  double memory_bound_mb = 1024;
  std::string target, acting_user;
  pid_t server_pid = 0;
  std::vector<OverloadAgency> flooders;
  // The well-behaved agency's process: its binary, how it connects (its
  // own certificate and key), what it creates, and a directory for its files.
  std::string agency_binary;
  refx::client::ConnectionOptions good_connection;
  refx::v1::Referral good_referral;
  std::string work_dir;
  // Reads every acknowledged referral back (a party to all of them).
  std::shared_ptr<grpc::ChannelCredentials> verifier_creds;
};

struct OverloadResult {
  double capacity_per_second = 0;
  double offered_per_second = 0;  // Flooders together, during overload.
  double seconds = 0;
  int64_t flood_sent = 0, flood_ok = 0;
  int64_t shed_with_retry_info = 0;     // RESOURCE_EXHAUSTED carrying RetryInfo.
  std::map<std::string, int64_t> shed_reasons;  // ErrorInfo reason -> calls.
  std::map<std::string, int64_t> other_errors;  // Code -> calls (should be none).
  int64_t not_sent_client_cap = 0;      // Open loop held back by the client's cap.
  double peak_rss_mb = 0, start_rss_mb = 0, memory_bound_mb = 0;
  double good_unloaded_p50_ms = 0, good_unloaded_p99_ms = 0;
  double good_loaded_p50_ms = 0, good_loaded_p99_ms = 0;
  int64_t good_ok = 0, good_refused = 0;
  int64_t good_alone_ok = 0, good_alone_refused = 0;
  int64_t acknowledged = 0, verified = 0, missing = 0;
  std::vector<std::string> findings;
  bool passed = false;
};

absl::StatusOr<OverloadResult> RunOverload(const OverloadSettings& settings);

std::string FormatOverloadTable(const OverloadResult& result);
std::string FormatOverloadJson(const OverloadResult& result);

}  // namespace refx::bench

#endif  // REFX_BENCH_OVERLOAD_H_
