// The workloads refx-bench measures and what they share: the run's state
// (Bench), the warm-up-then-measure loop that turns a workload into a report
// row, and the callback-API calls the workloads are made of. bench_main.cc
// parses the flags, starts the servers and runs the workloads in order.
//
//   measurement.cc      channels (and the one that holds gRPC's callback
//                       queue), Measure, the CreateReferral and GetReferral
//                       calls
//   unary_workloads.cc  echo, create_referral, get_referral, list_referrals,
//                       connect_*, seeding, accept_referral
//   watch_workload.cc   watch_fanout
//   findings.cc         the started server's capabilities, ratios to the
//                       ceilings and the targets
#ifndef REFX_BENCH_BENCH_WORKLOADS_H_
#define REFX_BENCH_BENCH_WORKLOADS_H_

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bench/load.h"
#include "bench/report.h"
#include "clients/lib/referral_client.h"
#include "grpcpp/grpcpp.h"
#include "refx/v1/referral_service.grpc.pb.h"

namespace refx::bench {

// Set on SIGINT and SIGTERM: every loop stops starting work and every step
// returns, so the servers are stopped and the directory removed.
extern std::atomic<bool> g_cancel;

void Progress(const std::string& line);

// A referral like the README's example: what every create sends.
refx::v1::Referral SampleReferral(const std::string& recipient);

std::chrono::system_clock::time_point DeadlineIn(absl::Duration d);

inline constexpr absl::Duration kCallTimeout = absl::Seconds(10);

// `count` channels to `target`, each with its own subchannel pool so that
// each has its own connection, connected before use.
absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> MakeChannels(
    const std::string& target, const std::shared_ptr<grpc::ChannelCredentials>& creds, int count);

// Channels for `in_flight` calls: one per 16 calls in flight, at least one.
int ChannelsFor(int in_flight);

// gRPC 1.51 runs client callbacks on a process-wide "alternative" queue
// with its own threads; a channel takes a reference on its first callback
// call and drops it when destroyed, and when the last one goes the queue is
// shut down. Starting it again while its threads exit crashes in
// grpc_completion_queue_next. The channel returned has made one callback
// call (to the echo server at `echo_target`); held for the whole run, it
// keeps the queue alive past every measurement's channels.
std::shared_ptr<grpc::Channel> HoldCallbackQueue(const std::string& echo_target);

// Everything one run measures with.
struct Bench {
  bool quick = false;
  absl::Duration warmup;
  absl::Duration measure;
  std::vector<int> levels;
  std::string refx_target, echo_target;
  refx::client::ConnectionOptions connection;
  std::shared_ptr<grpc::ChannelCredentials> creds;
  // The recipient agency's: it accepts referrals and watches (started
  // server only; --server gives no recipient key).
  std::shared_ptr<grpc::ChannelCredentials> recipient_creds;
  std::optional<pid_t> server_pid;  // None for --server.
  pid_t echo_pid = 0;
  std::string recipient;
  refx::v1::Referral referral;
  std::string echo_payload;
  std::atomic<int64_t> request_counter{0};
  std::atomic<int64_t> stored{0};  // Referrals this run has created.
  std::string run_id;
  std::mutex names_mu;
  std::vector<std::string> names;  // Created referrals, for Get (capped).
  refx::bench::Report report;
  bool any_empty_row = false;  // A row with no successful call.
  // Put before every row's workload name: "pg_" while measuring the
  // PostgreSQL server of --backend postgres.
  std::string row_prefix;
  int list_deep_page = 0;  // the page list_page_deep read (0: not run)
};

// A refx-server the rows are measured on: the run's SQLite server, and with
// --backend postgres a PostgreSQL one too. What is created on one is read
// back from it, so each keeps its own referral names and count.
struct ServerUnderTest {
  std::string row_prefix;  // "" or "pg_"
  std::string target;
  std::optional<pid_t> pid;
  std::vector<std::string> names;
  int64_t stored = 0;
};

// Points the workloads at `s` (target, pid, names, count, row prefix) until
// Leave puts back what it took.
void Enter(Bench& b, ServerUnderTest& s);
void Leave(Bench& b, ServerUnderTest& s);

// Waits (at most 30 s) until `pid` uses under 10% of a CPU, so work queued by
// the previous measurement (e.g. calls that timed out on the client but still
// run on the server) does not bill the next one.
void WaitForIdle(pid_t pid);

// Runs a warm-up and a measured loop of `start` and turns it into a row.
Row Measure(Bench& b, const std::string& workload, const std::string& bounded_by, int in_flight,
            std::optional<pid_t> cpu_pid, const std::function<LoadResult(const LoadOptions&)>& run);

// The fsync_floor row: small writes made durable one at a time in
// `directory` (the database's), the floor under a durable write's latency.
absl::Status RunFsyncFloor(Bench& b, const std::string& directory);

// The store_create_plain and store_create_sealed rows (encryption_cost.cc):
// the store engine alone on two SQLite files in `directory`, without and
// with encryption at rest, at the highest level in flight; the sealed row's
// ratio is to the plain one.
absl::Status RunEncryptionAtRestRows(Bench& b, const std::string& directory);

// A unary call on the callback API with its own context and messages.
template <typename Request, typename Response>
struct Call {
  grpc::ClientContext context;
  Request request;
  Response response;
};

// Hears each referral created (from gRPC's callback threads).
using OnCreated = std::function<void(const refx::v1::Referral&)>;

// A StartCall for CreateReferral over `stubs` (slot i uses stub i % n).
// Created names go to `b.names` (capped), or to `on_created` when given.
refx::bench::StartCall CreateCalls(Bench& b, std::vector<std::unique_ptr<refx::v1::ReferralService::Stub>>& stubs,
                                   OnCreated on_created = nullptr);

// The referral slot `slot` reads next, or nullptr when none is left (the
// slot then finishes, OK, without a call).
using NextName = std::function<const std::string*(int slot)>;
// Hears each GetReferral answer (from gRPC's callback threads).
using OnGot = std::function<void(const grpc::Status&)>;

// A StartCall for GetReferral over `stubs` (slot i uses stub i % n), sent as
// `acting_user`, of the names `next_name` picks. Takes no Bench, so that the
// overload run's read-back shares it.
refx::bench::StartCall GetCalls(std::vector<std::unique_ptr<refx::v1::ReferralService::Stub>>& stubs,
                                const std::string& acting_user, NextName next_name, OnGot on_got = nullptr);

std::vector<std::unique_ptr<refx::v1::ReferralService::Stub>> RefxStubs(
    const std::vector<std::shared_ptr<grpc::Channel>>& channels);

// --- unary_workloads.cc ---

// Fills `report.rows` for one workload over every level; the ratio is
// filled later against the ceiling rows.
absl::Status RunUnaryWorkload(Bench& b, const std::string& workload, const std::string& bounded_by,
                              bool on_echo);

// ListReferrals of one fixed page, page 1 and page `deep_page` (or the
// deepest there is), at `in_flight`: rows list_page_1 and list_page_deep,
// so that a page's cost can be seen not to grow with its depth (issue 12).
absl::Status RunListDepthWorkload(Bench& b, int in_flight, int deep_page);

// New connections per second: a fresh channel and one call each.
absl::Status RunConnectWorkload(Bench& b, bool on_echo, const std::vector<int>& levels);

// Creates referrals at 64 in flight until `target` are stored.
absl::Status Seed(Bench& b, int64_t target);

// AcceptReferral (REQUESTED -> ACCEPTED) by the recipient agency, on
// referrals created for it just before each level (outside the warm-up and
// the measured loop), each with its etag and a unique request_id.
absl::Status RunTransitionWorkload(Bench& b);

// --- watch_workload.cc ---

struct WatchSettings {
  std::vector<int> subscribers;  // tiers, opened incrementally on one server
  double rate = 10;              // referrals created per second
  absl::Duration publish_for = absl::Seconds(10);
};

// WatchReferrals fan-out: for each tier (smallest first, streams added to
// those already open), the server's RSS growth per 1,000 idle streams, then
// referrals published at `rate` and every subscriber's publish-to-receive
// latency.
absl::Status RunWatchWorkload(Bench& b, WatchSettings settings);

// --- postgres_rows.cc ---

class StoreCeiling;

// pg_libpq_ceiling at each level: the bare libpq loop (store_ceiling.h)
// with `level` creates per transaction.
absl::Status RunLibpqCeilingRows(Bench& b, StoreCeiling& ceiling);

// sqlite_ceiling at each level: the bare SQLite loop (store_ceiling.h)
// copying a referral refx-server wrote to `server_db`, writing to a file
// beside it, with `level` creates per transaction.
absl::Status RunSqliteCeilingRows(Bench& b, const std::string& server_db);

// pg_create_referral_2_replicas at `level` in flight: the slots alternate
// between `targets`, replicas of one PostgreSQL database.
absl::Status RunReplicaScaling(Bench& b, const std::vector<std::string>& targets, int level);

// --- findings.cc ---

// What the started server says it runs with, from its server_started event:
// the record gate always; the others once the server names them.
std::vector<refx::bench::Capability> DetectCapabilities(const std::string& log_path, bool external);

// Ratios to the ceiling at the same level, and the targets.
void Conclude(Bench& b);

}  // namespace refx::bench

#endif  // REFX_BENCH_BENCH_WORKLOADS_H_
