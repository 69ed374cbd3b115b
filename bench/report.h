// What refx-bench prints: one row per measurement, as a table for people or
// as JSON for machines (`--output json`). The JSON keys are stable; the
// quick-mode CTest test (check_quick.cmake) checks them.
#ifndef REFX_BENCH_REPORT_H_
#define REFX_BENCH_REPORT_H_

#include <optional>
#include <string>
#include <vector>

namespace refx::bench {

// One measurement: a workload at one number of calls in flight.
struct Row {
  std::string workload;  // "echo", "create_referral", ..., "connect_echo".
  std::string bounded_by;  // One phrase: what limits this figure.
  int in_flight = 0;
  long long calls = 0;   // Successful calls measured (after the warm-up).
  long long errors = 0;
  std::string first_error;
  double seconds = 0;
  double calls_per_second = 0;
  double p50_us = 0;
  double p99_us = 0;
  double p999_us = 0;
  // Server CPU (user + system) per successful call; absent when the server
  // is not ours to measure (an existing server given by --server).
  std::optional<double> server_cpu_us_per_call;
  // calls_per_second / the ceiling's at the same in-flight level, same run.
  std::optional<double> ratio_to_ceiling;
  std::string ceiling;  // The workload the ratio is against.
  // WatchReferrals fan-out rows: `in_flight` is the number of subscribers,
  // `calls` the deliveries, latencies publish-to-receive.
  std::optional<double> publish_per_second;  // referrals created per second
  std::optional<double> rss_mb_per_1000_streams;  // server VmRSS growth per 1,000 idle streams
  std::optional<int> held_after;  // streams still open after the deliveries
  std::string verdict;  // the targets for this row, met or missed
};

// A workload that cannot be measured yet, and why.
struct Unavailable {
  std::string workload;
  std::string reason;
};

// A capability of the server and whether it was active during the run.
struct Capability {
  std::string name;
  std::string state;  // "active" or "not yet".
};

struct Target {
  std::string description;  // e.g. "GetReferral >= 0.6x echo at 64 in flight"
  std::optional<double> measured;
  double goal = 0;
  bool higher_is_better = true;
  std::string unit;  // "x" for ratios, "ms" for latencies.
};

struct Report {
  std::string mode;  // "quick" or "full".
  std::string server;  // "refx-server (child, pid N)" or the --server address.
  int cpus = 0;
  double seed_referrals = 0;
  double seed_seconds = 0;
  double stored_referrals = 0;
  double measure_seconds = 0;
  double warmup_seconds = 0;
  double echo_payload_bytes = 0;
  std::vector<Capability> capabilities;
  std::vector<Row> rows;
  std::vector<Unavailable> unavailable;
  std::vector<Target> targets;
  std::vector<std::string> notes;  // How a figure was taken, settings changed.
  double total_seconds = 0;
};

// A fixed-width table with a header, the capability list and the targets.
std::string FormatTable(const Report& report);

// One JSON object (newline-terminated):
//   {"tool","mode","server","cpus","duration":{"warmup_seconds",
//    "measure_seconds"},"seed":{"referrals","seconds","stored_referrals"},
//    "echo_payload_bytes","capabilities":{NAME: STATE},
//    "results":[{"workload","in_flight","calls","errors","seconds",
//      "calls_per_second","latency_us":{"p50","p99","p999"},
//      "server_cpu_us_per_call","ratio_to_ceiling","ceiling","bounded_by",
//      "first_error","publish_per_second","rss_mb_per_1000_streams",
//      "streams_open_after","verdict"}],
//    "not_available":[{"workload","reason"}],
//    "targets":[{"description","measured","goal","unit","met"}],"notes":[],
//    "total_seconds"}
// Absent optional figures are null.
std::string FormatJson(const Report& report);

}  // namespace refx::bench

#endif  // REFX_BENCH_REPORT_H_
