// refx-bench: measures refx-server against this machine's own ceilings, in
// one run, so that every figure is a ratio that survives a noisy machine.
//
// It makes a throwaway PKI and database in a temporary directory, starts
// refx-server and the bare echo server refx-bench-echo (same TLS settings)
// as child processes, and measures unary calls at 1, 16 and 64 calls in
// flight (after a warm-up each), then new mTLS connections per second.
// Figures: calls/s, latency percentiles, the server's CPU per call from
// /proc/PID/stat, and the ratio to the echo ceiling of the same run. The
// --help text says what each figure means and what bounds it.
//
// Everything it starts is stopped, and the directory removed, on every exit
// path, including Ctrl-C.
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "auth/pki/dev_pki.h"
#include "auth/pki/revocation_list.h"
#include "bench/child_process.h"
#include "bench/load.h"
#include "bench/report.h"
#include "bench/v1/echo.grpc.pb.h"
#include "bench/watch_fanout.h"
#include "clients/lib/referral_client.h"
#include "core/partnership.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/grpcpp.h"
#include "refx/v1/referral_service.grpc.pb.h"

namespace {

using refx::bench::LoadOptions;
using refx::bench::LoadResult;
using refx::bench::Row;

constexpr char kFooter[] = R"(
What it does, in one run:
  1. makes a throwaway PKI (every agency of the partnership) and a fresh
     database in a temporary directory; starts refx-server and
     refx-bench-echo (a bare gRPC echo with refx-server's TLS settings) as
     child processes on loopback ports picked by the kernel;
  2. for each workload and each --in-flight level: a warm-up, then a
     measured closed loop (each finished call starts the next one);
  3. prints a table (or JSON with --output json) and removes everything.

The figures, per row:
  calls/s        successful calls / wall time (first start to last finish).
  p50/p99/p999   client-side latency of successful calls, in ms.
  srv CPU us/op  user+system CPU of the server process (/proc/PID/stat) over
                 the measured loop / calls. Tick resolution is 10 ms, so short
                 --quick runs are coarse. "-" for a server given by --server.
  vs ceil        calls/s / the ceiling's calls/s at the same in-flight level,
                 measured in the same run: echo for calls, connect_echo for
                 connections. Absolute rates swing 2-3x on a shared machine;
                 ratios much less.

The workloads and what bounds each:
  echo             bench.v1.Echo on refx-bench-echo: mTLS, HTTP/2 framing,
                   protobuf, gRPC's callback server; payload sized like a
                   referral. Bounded by TLS record crypto + HTTP/2 + syscalls,
                   and on 2 cores by sharing them with this client.
  create_referral  CreateReferral, durable: answered only after the SQLite
                   transaction holding it is fsynced (WAL, synchronous=FULL).
                   At 1 in flight bounded by one fsync per call; with more in
                   flight by group commit (one fsync per batch) and the single
                   writer thread; also validation, idempotency lookup, logging.
  get_referral     GetReferral of seeded referrals (the sender reads): record
                   gate, SQLite read on a reader connection, decode and
                   serialize the referral, the work-pool hop, logging.
  list_referrals   ListReferrals page_size 50 over all stored referrals
                   (--seed), each slot walking pages with next_page_token:
                   SQLite range read of 50 rows + serializing 50 referrals.
  connect_*        a fresh channel (own subchannel pool: no shared connection)
                   + one call (WhoAmI on refx, Echo on echo) per operation:
                   TCP + TLS 1.3 handshake with ECDSA P-256 on both sides,
                   HTTP/2 setup. Bounded by handshake crypto; refx adds its
                   agency verifier in the handshake.
  accept_referral  AcceptReferral (REQUESTED -> ACCEPTED) by the recipient
                   agency (--recipient) on referrals created for it just
                   before each level, outside the warm-up and measured loop,
                   each with its etag and a unique request_id. Durable like
                   create: etag check, the transition and its ALTERATION
                   audit event in one fsynced transaction.
  watch_fanout     WatchReferrals: per tier (--watch-subscribers, opened on
                   top of the previous tier's streams, all as the recipient
                   agency with start_at_head, callback client API, up to 100
                   connections), the server's VmRSS growth per 1,000 idle
                   streams; then --watch-rate referrals/s created for
                   --watch-seconds, each event matched to its create by
                   referral name. "in flight" is subscribers, calls/s is
                   deliveries/s (subscribers x rate while it keeps up),
                   latency is from just before the CreateReferral is sent to
                   the event's arrival, srv CPU is per delivery. Bounded by
                   one durable audit event per batch per subscriber and by
                   rendering and serializing every event once per subscriber.
                   No ratio: judged against the issue's targets instead.

--only runs some groups (echo, create, connect, get, list, transition,
watch), e.g. --only echo,transition or --only watch.

Capabilities: the record gate always; agreement enforcement, audit and
encryption at rest are reported active when the started refx-server names
them in its server_started log event (audit also when it creates its audit
key on the fresh database), "not yet" otherwise (their cost shows
in these figures once they land).

Seeding: ListReferrals needs --seed stored referrals (100k by default),
created through the API at 64 in flight before Get/List; its rate and time
are reported. --quick: 0.2 s warm-up, 0.4 s per row, 2,000 referrals; it
proves the benchmark works, its figures are too short to compare.

Examples:
  refx-bench                                  full run, about 6 minutes
  refx-bench --quick --output json            what CI runs
  refx-bench --only watch                     the fan-out rows only
  refx-bench --server localhost:50051 --ca-file dev-pki/root-ca.pem \
      --cert-file dev-pki/agencies/leicestershire-police.pem \
      --key-file dev-pki/agencies/leicestershire-police.key
                                              an existing server (it gets
                                              --seed new referrals!)

Exit codes: 0 done (rows whose calls failed, e.g. DEADLINE_EXCEEDED under
overload, are reported with their errors), 1 setup failed, 2 usage,
130 interrupted.)";

std::atomic<bool> g_cancel{false};

void OnStopSignal(int) { g_cancel.store(true); }

void Progress(const std::string& line) { std::fprintf(stderr, "refx-bench: %s\n", line.c_str()); }

// Removes the temporary directory on every exit path.
class TempDir {
 public:
  static absl::StatusOr<std::unique_ptr<TempDir>> Create() {
    const char* base = getenv("TMPDIR");
    std::string pattern = absl::StrCat(base != nullptr && *base != '\0' ? base : "/tmp", "/refx-bench-XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr) {
      return absl::UnavailableError(absl::StrCat("cannot create ", pattern));
    }
    return std::unique_ptr<TempDir>(new TempDir(pattern));
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

absl::Status WriteText(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  return std::fclose(f) == 0 && ok ? absl::OkStatus() : absl::UnavailableError(absl::StrCat("cannot write ", path));
}

// A referral like the README's example: what every create sends.
refx::v1::Referral SampleReferral(const std::string& recipient) {
  refx::v1::Referral r;
  r.set_report_type(refx::v1::HATE_CRIME);
  auto* strand = r.add_strands();
  strand->set_strand("race");
  strand->set_basis(refx::v1::Strand::PERCEIVED);
  r.set_perceived_by(refx::v1::PERCEIVED_BY_VICTIM);
  r.set_reporting_channel(refx::v1::REPORTING_CHANNEL_POLICE);
  r.set_area("leicester");
  r.set_incident_narrative("Racist abuse shouted at the victim at a bus stop. Benchmark record.");
  r.mutable_victim()->set_given_name("Sam");
  r.mutable_victim()->set_family_name("Example");
  r.mutable_victim()->mutable_consent()->set_status(refx::v1::Consent::GIVEN);
  r.add_recipient_agencies(absl::StrCat("agencies/", recipient));
  return r;
}

std::chrono::system_clock::time_point DeadlineIn(absl::Duration d) { return absl::ToChronoTime(absl::Now() + d); }

constexpr absl::Duration kCallTimeout = absl::Seconds(10);

// `count` channels to `target`, each with its own subchannel pool so that
// each has its own connection, connected before use.
absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> MakeChannels(
    const std::string& target, const std::shared_ptr<grpc::ChannelCredentials>& creds, int count) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < count; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetMaxReceiveMessageSize(4 * 1024 * 1024);
    auto channel = grpc::CreateCustomChannel(target, creds, args);
    if (!channel->WaitForConnected(DeadlineIn(absl::Seconds(10)))) {
      return absl::UnavailableError(absl::StrCat("cannot connect to ", target, " over mTLS"));
    }
    channels.push_back(std::move(channel));
  }
  return channels;
}

// Channels for `in_flight` calls: one per 16 calls in flight, at least one.
int ChannelsFor(int in_flight) { return std::max(1, in_flight / 16); }

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
};

constexpr size_t kMaxNames = 20000;

// Waits (at most 30 s) until `pid` uses under 10% of a CPU, so work queued by
// the previous measurement (e.g. calls that timed out on the client but still
// run on the server) does not bill the next one.
void WaitForIdle(pid_t pid) {
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (absl::Now() < give_up && !g_cancel.load()) {
    auto before = refx::bench::ReadCpuTime(pid);
    absl::SleepFor(absl::Milliseconds(250));
    auto after = refx::bench::ReadCpuTime(pid);
    if (!before.ok() || !after.ok()) return;
    if (after->total - before->total < absl::Milliseconds(25)) return;
  }
  Progress(absl::StrCat("  pid ", pid, " still busy after 30 s; measuring anyway"));
}

// Runs a warm-up and a measured loop of `start` and turns it into a row.
Row Measure(Bench& b, const std::string& workload, const std::string& bounded_by, int in_flight,
            std::optional<pid_t> cpu_pid, const std::function<LoadResult(const LoadOptions&)>& run) {
  Progress(absl::StrFormat("%s at %d in flight: warm-up %.1fs, measure %.1fs", workload, in_flight,
                           absl::ToDoubleSeconds(b.warmup), absl::ToDoubleSeconds(b.measure)));
  if (cpu_pid.has_value()) WaitForIdle(*cpu_pid);
  LoadOptions options;
  options.in_flight = in_flight;
  options.cancel = &g_cancel;
  options.duration = b.warmup;
  run(options);
  options.duration = b.measure;
  std::optional<refx::bench::CpuTime> cpu_before;
  if (cpu_pid.has_value()) {
    auto cpu = refx::bench::ReadCpuTime(*cpu_pid);
    if (cpu.ok()) cpu_before = *cpu;
  }
  const LoadResult result = run(options);
  Row row;
  row.workload = workload;
  row.bounded_by = bounded_by;
  row.in_flight = in_flight;
  row.calls = result.ok;
  row.errors = result.errors;
  row.first_error = result.first_error;
  row.seconds = absl::ToDoubleSeconds(result.elapsed);
  row.calls_per_second = result.CallsPerSecond();
  row.p50_us = result.PercentileMicros(0.5);
  row.p99_us = result.PercentileMicros(0.99);
  row.p999_us = result.PercentileMicros(0.999);
  if (cpu_before.has_value() && result.ok > 0) {
    auto cpu_after = refx::bench::ReadCpuTime(*cpu_pid);
    if (cpu_after.ok()) {
      row.server_cpu_us_per_call =
          absl::ToDoubleMicroseconds(cpu_after->total - cpu_before->total) / static_cast<double>(result.ok);
    }
  }
  if (result.ok == 0 && !g_cancel.load()) b.any_empty_row = true;
  if (result.errors > 0) {
    Progress(absl::StrCat("  ", result.errors, " errors, first: ", result.first_error));
  }
  Progress(absl::StrFormat("  %.0f calls/s, p50 %.2f ms, p99 %.2f ms", row.calls_per_second, row.p50_us / 1000,
                           row.p99_us / 1000));
  return row;
}

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
                                   OnCreated on_created = nullptr) {
  return [&b, &stubs, on_created](int slot, refx::bench::CallDone done) {
    auto* call = new Call<refx::v1::CreateReferralRequest, refx::v1::Referral>;
    call->context.set_deadline(DeadlineIn(kCallTimeout));
    call->context.AddMetadata(refx::client::kActingUserMetadataKey, b.connection.acting_user);
    *call->request.mutable_referral() = b.referral;
    call->request.set_request_id(absl::StrCat(b.run_id, "-", b.request_counter.fetch_add(1)));
    stubs[static_cast<size_t>(slot) % stubs.size()]->async()->CreateReferral(
        &call->context, &call->request, &call->response, [&b, call, done, on_created](grpc::Status status) {
          if (status.ok()) {
            b.stored.fetch_add(1);
            if (on_created) {
              on_created(call->response);
            } else {
              std::lock_guard<std::mutex> lock(b.names_mu);
              if (b.names.size() < kMaxNames) b.names.push_back(call->response.name());
            }
          }
          // Free the call (its context refers to the channel) before `done`:
          // the last `done` lets the caller destroy the channels.
          delete call;
          done(status.ok(), status.error_message());
        });
  };
}

std::vector<std::unique_ptr<refx::v1::ReferralService::Stub>> RefxStubs(
    const std::vector<std::shared_ptr<grpc::Channel>>& channels) {
  std::vector<std::unique_ptr<refx::v1::ReferralService::Stub>> stubs;
  for (const auto& c : channels) stubs.push_back(refx::v1::ReferralService::NewStub(c));
  return stubs;
}

// Fills `report.rows` for one workload over every level; the ratio is
// filled later against the ceiling rows.
absl::Status RunUnaryWorkload(Bench& b, const std::string& workload, const std::string& bounded_by,
                              bool on_echo) {
  for (int level : b.levels) {
    if (g_cancel.load()) return absl::CancelledError("interrupted");
    auto channels = MakeChannels(on_echo ? b.echo_target : b.refx_target, b.creds, ChannelsFor(level));
    if (!channels.ok()) return channels.status();
    const std::optional<pid_t> pid = on_echo ? std::optional<pid_t>(b.echo_pid) : b.server_pid;
    std::function<LoadResult(const LoadOptions&)> run;
    std::vector<std::unique_ptr<bench::v1::Echo::Stub>> echo_stubs;
    std::vector<std::unique_ptr<refx::v1::ReferralService::Stub>> stubs = RefxStubs(*channels);
    std::vector<std::string> page_tokens(static_cast<size_t>(level));
    std::vector<int64_t> cursors(static_cast<size_t>(level));
    std::vector<std::string> names;
    refx::bench::StartCall start;
    if (workload == "echo") {
      for (const auto& c : *channels) echo_stubs.push_back(bench::v1::Echo::NewStub(c));
      start = [&](int slot, refx::bench::CallDone done) {
        auto* call = new Call<bench::v1::EchoMessage, bench::v1::EchoMessage>;
        call->context.set_deadline(DeadlineIn(kCallTimeout));
        call->context.AddMetadata(refx::client::kActingUserMetadataKey, b.connection.acting_user);
    call->context.AddMetadata(refx::client::kActingUserMetadataKey, b.connection.acting_user);
        call->request.set_payload(b.echo_payload);
        echo_stubs[static_cast<size_t>(slot) % echo_stubs.size()]->async()->Echo(
            &call->context, &call->request, &call->response, [call, done](grpc::Status status) {
              // Free the call (its context refers to the channel) before `done`:
              // the last `done` lets the caller destroy the channels.
              delete call;
              done(status.ok(), status.error_message());
            });
      };
    } else if (workload == "create_referral") {
      start = CreateCalls(b, stubs);
    } else if (workload == "get_referral") {
      {
        std::lock_guard<std::mutex> lock(b.names_mu);
        names = b.names;
      }
      if (names.empty()) return absl::FailedPreconditionError("no referral to get: seeding failed");
      for (int s = 0; s < level; ++s) cursors[static_cast<size_t>(s)] = s * 7919;
      start = [&](int slot, refx::bench::CallDone done) {
        auto* call = new Call<refx::v1::GetReferralRequest, refx::v1::Referral>;
        call->context.set_deadline(DeadlineIn(kCallTimeout));
        call->context.AddMetadata(refx::client::kActingUserMetadataKey, b.connection.acting_user);
    call->context.AddMetadata(refx::client::kActingUserMetadataKey, b.connection.acting_user);
        int64_t& cursor = cursors[static_cast<size_t>(slot)];
        call->request.set_name(names[static_cast<size_t>(cursor++) % names.size()]);
        stubs[static_cast<size_t>(slot) % stubs.size()]->async()->GetReferral(
            &call->context, &call->request, &call->response, [call, done](grpc::Status status) {
              // Free the call (its context refers to the channel) before `done`:
              // the last `done` lets the caller destroy the channels.
              delete call;
              done(status.ok(), status.error_message());
            });
      };
    } else {  // list_referrals
      start = [&](int slot, refx::bench::CallDone done) {
        auto* call = new Call<refx::v1::ListReferralsRequest, refx::v1::ListReferralsResponse>;
        call->context.set_deadline(DeadlineIn(kCallTimeout));
        call->context.AddMetadata(refx::client::kActingUserMetadataKey, b.connection.acting_user);
    call->context.AddMetadata(refx::client::kActingUserMetadataKey, b.connection.acting_user);
        call->request.set_page_size(50);
        std::string* token = &page_tokens[static_cast<size_t>(slot)];
        call->request.set_page_token(*token);
        stubs[static_cast<size_t>(slot) % stubs.size()]->async()->ListReferrals(
            &call->context, &call->request, &call->response, [call, done, token](grpc::Status status) {
              // Walk the pages; start again at the newest after the last.
              *token = status.ok() ? call->response.next_page_token() : "";
              const bool ok = status.ok() && call->response.referrals_size() > 0;
              delete call;  // before `done`: see above
              done(ok, status.ok() ? "empty page" : status.error_message());
            });
      };
    }
    run = [&start](const LoadOptions& o) { return refx::bench::RunClosedLoop(o, start); };
    b.report.rows.push_back(Measure(b, workload, bounded_by, level, pid, run));
  }
  return absl::OkStatus();
}

// New connections per second: a fresh channel and one call each.
absl::Status RunConnectWorkload(Bench& b, bool on_echo, const std::vector<int>& levels) {
  const std::string workload = on_echo ? "connect_echo" : "connect_refx";
  const std::string target = on_echo ? b.echo_target : b.refx_target;
  const std::optional<pid_t> pid = on_echo ? std::optional<pid_t>(b.echo_pid) : b.server_pid;
  refx::bench::BlockingCall call = [&](int) -> absl::Status {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto channel = grpc::CreateCustomChannel(target, b.creds, args);
    if (on_echo) {
      auto stub = bench::v1::Echo::NewStub(channel);
      grpc::ClientContext context;
      context.set_deadline(DeadlineIn(kCallTimeout));
      bench::v1::EchoMessage request, response;
      const grpc::Status status = stub->Echo(&context, request, &response);
      return status.ok() ? absl::OkStatus() : absl::UnavailableError(status.error_message());
    }
    refx::client::ReferralClient client(channel, b.connection);
    return client.WhoAmI().status();
  };
  for (int level : levels) {
    if (g_cancel.load()) return absl::CancelledError("interrupted");
    b.report.rows.push_back(Measure(
        b, workload,
        on_echo ? "TCP + TLS 1.3 handshake (ECDSA P-256 both sides) + HTTP/2 setup"
                : "as connect_echo + refx agency verifier in the handshake + WhoAmI",
        level, pid, [&](const LoadOptions& o) { return refx::bench::RunThreadLoop(o, call); }));
  }
  return absl::OkStatus();
}

// Creates referrals at 64 in flight until `target` are stored.
absl::Status Seed(Bench& b, int64_t target) {
  const int64_t needed = target - b.stored.load();
  if (needed <= 0) return absl::OkStatus();
  Progress(absl::StrFormat("seeding %d referrals through CreateReferral at 64 in flight%s", needed,
                           b.quick ? " (--quick: far fewer than the full run's 100k)" : ""));
  auto channels = MakeChannels(b.refx_target, b.creds, ChannelsFor(64));
  if (!channels.ok()) return channels.status();
  auto stubs = RefxStubs(*channels);
  const auto start = CreateCalls(b, stubs);
  LoadOptions options;
  options.in_flight = 64;
  options.cancel = &g_cancel;
  options.max_calls = needed;
  options.duration = absl::Hours(1);  // Bounded by max_calls; an hour is the backstop.
  options.progress_every = absl::Seconds(5);
  options.progress = [needed](int64_t finished) {
    Progress(absl::StrFormat("  seeded %d / %d", finished, needed));
  };
  const LoadResult result = refx::bench::RunClosedLoop(options, start);
  b.report.seed_referrals = static_cast<double>(result.ok);
  b.report.seed_seconds = absl::ToDoubleSeconds(result.elapsed);
  Progress(absl::StrFormat("  seeded %d in %.1f s (%.0f/s), %d errors", result.ok,
                           absl::ToDoubleSeconds(result.elapsed), result.CallsPerSecond(), result.errors));
  if (result.ok == 0 && !g_cancel.load()) {
    return absl::UnavailableError(absl::StrCat("seeding failed: ", result.first_error));
  }
  return absl::OkStatus();
}

// Creates `count` referrals to the recipient at 64 in flight, outside any
// measured window, and returns them (name and etag) in creation order.
absl::StatusOr<std::vector<refx::v1::Referral>> CreateFresh(Bench& b, int64_t count) {
  auto channels = MakeChannels(b.refx_target, b.creds, ChannelsFor(64));
  if (!channels.ok()) return channels.status();
  auto stubs = RefxStubs(*channels);
  std::mutex mu;
  std::vector<refx::v1::Referral> created;
  created.reserve(static_cast<size_t>(count));
  const auto start = CreateCalls(b, stubs, [&mu, &created](const refx::v1::Referral& r) {
    refx::v1::Referral kept;
    kept.set_name(r.name());
    kept.set_etag(r.etag());
    std::lock_guard<std::mutex> lock(mu);
    created.push_back(std::move(kept));
  });
  LoadOptions options;
  options.in_flight = 64;
  options.cancel = &g_cancel;
  options.max_calls = count;
  options.duration = absl::Hours(1);  // Bounded by max_calls.
  const LoadResult result = refx::bench::RunClosedLoop(options, start);
  if (result.ok == 0 && !g_cancel.load()) {
    return absl::UnavailableError(absl::StrCat("creating fresh referrals failed: ", result.first_error));
  }
  std::lock_guard<std::mutex> lock(mu);
  return created;
}

// AcceptReferral (REQUESTED -> ACCEPTED) by the recipient agency, on
// referrals created for it just before each level (outside the warm-up and
// the measured loop), each with its etag and a unique request_id.
absl::Status RunTransitionWorkload(Bench& b) {
  const double window = absl::ToDoubleSeconds(b.warmup + b.measure);
  for (int level : b.levels) {
    if (g_cancel.load()) return absl::CancelledError("interrupted");
    // Enough for the whole window: an accept is one durable write with its
    // audit event like a create, but lighter (no validation of a whole
    // referral), so 2.5x this run's create rate at the same level, or
    // 3,000/s if that was not measured.
    double create_rate = 3000;
    for (const Row& r : b.report.rows) {
      if (r.workload == "create_referral" && r.in_flight == level && r.calls_per_second > 0) {
        create_rate = r.calls_per_second;
      }
    }
    const int64_t count = std::min<int64_t>(200000, static_cast<int64_t>(2.5 * create_rate * window) + 64);
    Progress(absl::StrFormat("accept_referral at %d in flight: creating %d fresh referrals first", level, count));
    auto fresh = CreateFresh(b, count);
    if (!fresh.ok()) return fresh.status();
    const std::vector<refx::v1::Referral>& pool = *fresh;
    std::atomic<size_t> next{0};
    auto channels = MakeChannels(b.refx_target, b.recipient_creds, ChannelsFor(level));
    if (!channels.ok()) return channels.status();
    auto stubs = RefxStubs(*channels);
    const refx::bench::StartCall start = [&](int slot, refx::bench::CallDone done) {
      const size_t i = next.fetch_add(1);
      if (i >= pool.size()) {
        done(false, "fresh referrals used up");
        return;
      }
      auto* call = new Call<refx::v1::AcceptReferralRequest, refx::v1::Referral>;
      call->context.set_deadline(DeadlineIn(kCallTimeout));
      call->context.AddMetadata(refx::client::kActingUserMetadataKey, b.connection.acting_user);
      call->request.set_name(pool[i].name());
      call->request.set_etag(pool[i].etag());
      call->request.set_request_id(absl::StrCat(b.run_id, "-accept-", b.request_counter.fetch_add(1)));
      stubs[static_cast<size_t>(slot) % stubs.size()]->async()->AcceptReferral(
          &call->context, &call->request, &call->response, [call, done](grpc::Status status) {
            delete call;  // before `done`: see CreateCalls
            done(status.ok(), status.error_message());
          });
    };
    bool ran_out = false;
    const auto run = [&](const LoadOptions& o) {
      LoadOptions bounded = o;
      const size_t used = std::min(next.load(), pool.size());
      bounded.max_calls = static_cast<int64_t>(pool.size() - used);
      if (bounded.max_calls == 0) {
        ran_out = true;
        LoadResult none;
        none.errors = 1;
        none.first_error = "fresh referrals used up";
        return none;
      }
      LoadResult result = refx::bench::RunClosedLoop(bounded, start);
      if (result.ok + result.errors >= bounded.max_calls) ran_out = true;
      return result;
    };
    b.report.rows.push_back(Measure(
        b, "accept_referral",
        "fsync per commit (WAL, synchronous=FULL) + etag check + ALTERATION audit event in the same transaction",
        level, b.server_pid, run));
    if (ran_out) {
      Progress("  the fresh referrals ran out before the measured time ended; the row covers a shorter time");
      b.report.notes.push_back(absl::StrCat("accept_referral at ", level,
                                            " in flight used every fresh referral before its measured time "
                                            "ended: its rate is over the shorter time it ran"));
    }
  }
  return absl::OkStatus();
}

// Creates `count` referrals to the recipient, one every 1/`rate` s (open
// loop: a slow create does not delay the next), recording in `log` each
// one's name with the time just before its CreateReferral was sent. Returns
// once every create has finished: the number created.
absl::StatusOr<int64_t> PublishAtRate(Bench& b, refx::v1::ReferralService::Stub* stub, int64_t count, double rate,
                                      refx::bench::PublishLog* log) {
  struct State {
    absl::Mutex mu;
    int64_t finished ABSL_GUARDED_BY(mu) = 0;
    int64_t ok ABSL_GUARDED_BY(mu) = 0;
    std::string first_error ABSL_GUARDED_BY(mu);
  };
  auto state = std::make_shared<State>();
  const absl::Time begin = absl::Now();
  for (int64_t i = 0; i < count && !g_cancel.load(); ++i) {
    const absl::Time at = begin + absl::Seconds(static_cast<double>(i) / rate);
    const absl::Duration wait = at - absl::Now();
    if (wait > absl::ZeroDuration()) absl::SleepFor(wait);
    auto* call = new Call<refx::v1::CreateReferralRequest, refx::v1::Referral>;
    call->context.set_deadline(DeadlineIn(kCallTimeout));
    call->context.AddMetadata(refx::client::kActingUserMetadataKey, b.connection.acting_user);
    *call->request.mutable_referral() = b.referral;
    call->request.set_request_id(absl::StrCat(b.run_id, "-publish-", b.request_counter.fetch_add(1)));
    const int64_t sent_ns = absl::GetCurrentTimeNanos();  // publish time: just before the create is sent
    stub->async()->CreateReferral(&call->context, &call->request, &call->response,
                                  [&b, call, state, log, sent_ns](grpc::Status status) {
                                    if (status.ok()) {
                                      b.stored.fetch_add(1);
                                      log->Sent(call->response.name(), sent_ns);
                                    }
                                    delete call;
                                    absl::MutexLock lock(&state->mu);
                                    ++state->finished;
                                    if (status.ok()) {
                                      ++state->ok;
                                    } else if (state->first_error.empty()) {
                                      state->first_error = status.error_message();
                                    }
                                  });
  }
  absl::MutexLock lock(&state->mu);
  auto all_done = [&state, count]() ABSL_SHARED_LOCKS_REQUIRED(state->mu) {
    return state->finished >= count || g_cancel.load();
  };
  state->mu.AwaitWithTimeout(absl::Condition(&all_done), kCallTimeout + absl::Seconds(5));
  if (state->ok == 0 && count > 0) {
    return absl::UnavailableError(absl::StrCat("publishing failed: ", state->first_error));
  }
  return state->ok;
}

// Server VmRSS in MB (10^6 bytes), or nullopt when it cannot be read.
std::optional<double> ServerRssMb(const Bench& b) {
  if (!b.server_pid.has_value()) return std::nullopt;
  auto rss = refx::bench::ReadRssBytes(*b.server_pid);
  if (!rss.ok()) return std::nullopt;
  return static_cast<double>(*rss) / 1e6;
}

struct WatchSettings {
  std::vector<int> subscribers;  // tiers, opened incrementally on one server
  double rate = 10;              // referrals created per second
  absl::Duration publish_for = absl::Seconds(10);
};

// WatchReferrals fan-out: for each tier (smallest first, streams added to
// those already open), the server's RSS growth per 1,000 idle streams, then
// referrals published at `rate` and every subscriber's publish-to-receive
// latency.
absl::Status RunWatchWorkload(Bench& b, WatchSettings settings) {
  std::sort(settings.subscribers.begin(), settings.subscribers.end());
  const int most = settings.subscribers.back();
  // 100 streams per connection at most, 100 connections at most.
  const int channel_count = std::clamp((most + 99) / 100, 1, 100);
  struct rlimit files = {};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0) {
    const rlim_t want = static_cast<rlim_t>(channel_count) * 2 + 1024;
    if (files.rlim_cur < want && files.rlim_cur < files.rlim_max) {
      files.rlim_cur = std::min(want, files.rlim_max);
      setrlimit(RLIMIT_NOFILE, &files);
      Progress(absl::StrCat("raised the open-files limit to ", files.rlim_cur));
    }
  }
  Progress(absl::StrFormat("watch: %d connections as %s for up to %d subscribers", channel_count, b.recipient,
                           most));
  auto channels = MakeChannels(b.refx_target, b.recipient_creds, channel_count);
  if (!channels.ok()) return channels.status();
  auto publish_channels = MakeChannels(b.refx_target, b.creds, 1);
  if (!publish_channels.ok()) return publish_channels.status();
  auto publisher = refx::v1::ReferralService::NewStub(publish_channels->front());
  // Declared before the pool, so they outlive every stream: a late delivery
  // may still look up its publish time after its tier has moved on.
  std::deque<refx::bench::PublishLog> logs;
  refx::bench::SubscriberPool pool(*channels, b.connection.acting_user);
  const int64_t events = std::max<int64_t>(
      5, static_cast<int64_t>(std::llround(settings.rate * absl::ToDoubleSeconds(settings.publish_for))));
  for (const int tier : settings.subscribers) {
    if (g_cancel.load()) return absl::CancelledError("interrupted");
    const int adding = tier - pool.live();
    if (adding <= 0) continue;
    if (b.server_pid.has_value()) WaitForIdle(*b.server_pid);
    const std::optional<double> rss_before = ServerRssMb(b);
    Progress(absl::StrFormat("watch at %d subscribers: opening %d streams (at most 256 opening at once)", tier,
                             adding));
    const absl::Time open_start = absl::Now();
    if (auto s = pool.Open(adding, 256, absl::Seconds(60) + absl::Milliseconds(20) * adding, &g_cancel); !s.ok()) {
      if (g_cancel.load()) return absl::CancelledError("interrupted");
      Progress(absl::StrCat("  opening watch streams failed: ", s.message()));
      Row failed;
      failed.workload = "watch_fanout";
      failed.bounded_by = "opening streams failed";
      failed.in_flight = pool.live();
      failed.errors = tier - pool.live();
      failed.first_error = absl::StrCat("opening ", tier, " streams: ", s.message());
      failed.verdict = absl::StrCat(tier, " held MISSED");
      b.report.rows.push_back(std::move(failed));
      b.any_empty_row = true;
      break;
    }
    Progress(absl::StrFormat("  %d streams open (%.1f s to open %d)", pool.live(),
                             absl::ToDoubleSeconds(absl::Now() - open_start), adding));
    if (b.server_pid.has_value()) WaitForIdle(*b.server_pid);
    absl::SleepFor(absl::Milliseconds(500));
    const std::optional<double> rss_after = ServerRssMb(b);
    std::optional<double> rss_per_1000;
    if (rss_before.has_value() && rss_after.has_value()) {
      rss_per_1000 = (*rss_after - *rss_before) / (adding / 1000.0);
      Progress(absl::StrFormat("  server RSS %.1f -> %.1f MB: %.2f MB per 1,000 idle streams", *rss_before,
                               *rss_after, *rss_per_1000));
    }

    // Warm-up: two events every subscriber must receive before measuring.
    pool.StartRecording(nullptr);
    refx::bench::PublishLog& warmup_log = logs.emplace_back();
    if (auto s = PublishAtRate(b, publisher.get(), 2, settings.rate, &warmup_log); !s.ok()) return s.status();
    const int live = pool.live();
    if (!pool.WaitForEvents(2LL * live, absl::Seconds(60), &g_cancel)) {
      Progress(absl::StrCat("  warm-up: only ", pool.created_events(), " of ", 2LL * live, " deliveries in 60 s"));
    }

    Progress(absl::StrFormat("  publishing %d referrals at %.0f/s to %d subscribers", events, settings.rate, live));
    refx::bench::PublishLog& log = logs.emplace_back();
    pool.StartRecording(&log);
    std::optional<refx::bench::CpuTime> cpu_before;
    if (b.server_pid.has_value()) {
      auto cpu = refx::bench::ReadCpuTime(*b.server_pid);
      if (cpu.ok()) cpu_before = *cpu;
    }
    auto published = PublishAtRate(b, publisher.get(), events, settings.rate, &log);
    if (!published.ok()) return published.status();
    const int64_t expected = *published * live;
    const bool complete = pool.WaitForEvents(expected, absl::Seconds(120), &g_cancel);
    std::optional<double> cpu_us;
    const refx::bench::FanoutStats stats = pool.Collect();
    if (cpu_before.has_value() && stats.deliveries > 0) {
      auto cpu_after = refx::bench::ReadCpuTime(*b.server_pid);
      if (cpu_after.ok()) {
        cpu_us = absl::ToDoubleMicroseconds(cpu_after->total - cpu_before->total) /
                 static_cast<double>(stats.deliveries);
      }
    }
    refx::bench::LoadResult latencies;
    latencies.latencies_ns = stats.latencies_ns;
    Row row;
    row.workload = "watch_fanout";
    row.bounded_by =
        "one durable audit event per delivered batch per subscriber + rendering and serializing each event per "
        "subscriber on the watch pool (2 threads)";
    row.in_flight = live;
    row.calls = static_cast<long long>(stats.latencies_ns.size());
    row.errors = expected - row.calls;
    std::vector<std::string> problems;
    if (!complete) {
      problems.push_back(absl::StrCat(expected - pool.created_events(), " of ", expected,
                                      " deliveries missing 120 s after the last publish"));
    }
    if (stats.unmatched > 0) {
      problems.push_back(absl::StrCat(stats.unmatched, " deliveries not matched to a publish"));
    }
    if (const int ended = live - pool.live(); ended > 0) {
      problems.push_back(absl::StrCat(ended, " of ", live, " streams ended during the run (first: ",
                                      pool.first_error(), ")"));
    }
    row.first_error = absl::StrJoin(problems, "; ");
    const int64_t first_sent = log.first_sent_ns();
    // From the first publish to the last delivery, but at least the
    // publishing time itself, so a server that keeps up shows exactly
    // subscribers x rate, and one that lags shows what it managed.
    row.seconds = first_sent > 0 && stats.last_receive_ns > first_sent
                      ? std::max(static_cast<double>(stats.last_receive_ns - first_sent) / 1e9,
                                 static_cast<double>(*published) / settings.rate)
                      : 0;
    row.calls_per_second = row.seconds > 0 ? static_cast<double>(row.calls) / row.seconds : 0;
    row.p50_us = latencies.PercentileMicros(0.5);
    row.p99_us = latencies.PercentileMicros(0.99);
    row.p999_us = latencies.PercentileMicros(0.999);
    row.server_cpu_us_per_call = cpu_us;
    row.publish_per_second = settings.rate;
    row.rss_mb_per_1000_streams = rss_per_1000;
    std::vector<std::string> verdicts;
    if (rss_per_1000.has_value()) {
      verdicts.push_back(absl::StrFormat("RSS %.1f MB/1k idle %s", *rss_per_1000,
                                         *rss_per_1000 <= 20 ? "met" : "MISSED"));
    }
    if (live == 1000 && settings.rate == 10) {
      verdicts.push_back(absl::StrCat("p99<=100ms ", row.p99_us <= 100000 && complete ? "met" : "MISSED"));
    }
    // Held = still open once every delivery arrived (or 120 s after the
    // last publish): opening 10,000 idle streams is not enough.
    const int held_after = pool.live();
    row.held_after = held_after;
    if (tier == 10000) {
      verdicts.push_back(absl::StrCat("10k held ", held_after >= 10000 ? "met" : "MISSED", " (", held_after,
                                      " open after)"));
    }
    row.verdict = verdicts.empty() ? "-" : absl::StrJoin(verdicts, "; ");
    if (row.calls == 0 && !g_cancel.load()) b.any_empty_row = true;
    Progress(absl::StrFormat("  %.0f deliveries/s, p50 %.2f ms, p99 %.2f ms, %.0f us server CPU per delivery",
                             row.calls_per_second, row.p50_us / 1000, row.p99_us / 1000, cpu_us.value_or(0)));
    b.report.rows.push_back(std::move(row));
  }
  Progress(absl::StrCat("watch: closing ", pool.live(), " streams"));
  pool.CloseAll(absl::Seconds(60));
  if (const std::string e = pool.first_error(); !e.empty()) Progress(absl::StrCat("  a stream had ended: ", e));
  return absl::OkStatus();
}

// The value of `key=` in a text log line, or "" (values may be quoted).
std::string LogField(const std::string& line, const std::string& key) {
  const std::string needle = " " + key + "=";
  size_t at = line.find(needle);
  if (at == std::string::npos) return "";
  at += needle.size();
  if (at < line.size() && line[at] == '"') {
    const size_t end = line.find('"', at + 1);
    return line.substr(at + 1, end == std::string::npos ? std::string::npos : end - at - 1);
  }
  const size_t end = line.find(' ', at);
  return line.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

// What the started server says it runs with, from its server_started event:
// the record gate always; the others once the server names them.
std::vector<refx::bench::Capability> DetectCapabilities(const std::string& log_path, bool external) {
  if (external) {
    return {{"record_gate", "active"},
            {"agreement_enforcement", "unknown (existing server)"},
            {"audit", "unknown (existing server)"},
            {"encryption", "unknown (existing server)"}};
  }
  std::string started;
  bool audit_key_created = false;
  const std::string log = refx::bench::FileTail(log_path, 1 << 20);
  for (size_t begin = 0; begin < log.size();) {
    size_t end = log.find('\n', begin);
    if (end == std::string::npos) end = log.size();
    const std::string line = log.substr(begin, end - begin);
    // A server with the audit log makes its HMAC key on a fresh database
    // (every run's is fresh), before it says it started.
    if (line.find("audit_key_created") != std::string::npos) audit_key_created = true;
    if (line.find("server_started") != std::string::npos) {
      started = line;
      break;
    }
    begin = end + 1;
  }
  auto state = [&](const std::string& key) {
    const std::string value = LogField(started, key);
    if (!value.empty() && value != "off" && value != "none") return absl::StrCat("active (", value, ")");
    return std::string("not yet");
  };
  std::string audit = state("audit");
  if (audit == "not yet" && audit_key_created) audit = "active (one hash-chained event per call)";
  return {{"record_gate", "active"},
          {"revocation", "active (signed list; checked in every handshake and on every call)"},
          {"agreement_enforcement", state("agreement")},
          {"audit", audit},
          {"encryption", state("encryption")}};
}

// Ratios to the ceiling at the same level, and the issue's targets.
void Conclude(Bench& b) {
  std::map<std::pair<std::string, int>, double> rate;
  for (const Row& r : b.report.rows) rate[{r.workload, r.in_flight}] = r.calls_per_second;
  for (Row& r : b.report.rows) {
    if (r.workload.rfind("watch_", 0) == 0) continue;  // fan-out: judged against targets, not a ceiling
    r.ceiling = r.workload.rfind("connect_", 0) == 0 ? "connect_echo" : "echo";
    auto it = rate.find({r.ceiling, r.in_flight});
    if (it != rate.end() && it->second > 0) r.ratio_to_ceiling = r.calls_per_second / it->second;
  }
  auto find = [&](const std::string& workload, int level) -> const Row* {
    for (const Row& r : b.report.rows) {
      if (r.workload == workload && r.in_flight == level) return &r;
    }
    return nullptr;
  };
  const int top = b.levels.empty() ? 0 : *std::max_element(b.levels.begin(), b.levels.end());
  using refx::bench::Target;
  auto ratio_target = [&](const std::string& text, const std::string& workload, int level, double goal) {
    const Row* r = find(workload, level);
    b.report.targets.push_back(
        Target{text, r != nullptr ? r->ratio_to_ceiling : std::nullopt, goal, true, "x"});
  };
  ratio_target(absl::StrCat("GetReferral vs echo at ", top, " in flight"), "get_referral", top, 0.6);
  ratio_target(absl::StrCat("CreateReferral vs echo at ", top, " in flight"), "create_referral", top, 0.5);
  const Row* create1 = find("create_referral", 1);
  b.report.targets.push_back(Target{"CreateReferral p99 at 1 in flight",
                                    create1 != nullptr ? std::optional<double>(create1->p99_us / 1000)
                                                       : std::nullopt,
                                    2.0, false, " ms"});
  int connect_top = 0;
  for (const Row& r : b.report.rows) {
    if (r.workload == "connect_refx") connect_top = std::max(connect_top, r.in_flight);
  }
  ratio_target(absl::StrCat("new connections vs bare mTLS at ", connect_top, " in flight"), "connect_refx",
               connect_top, 0.9);
  const Row* watch1k = nullptr;
  const Row* watch10k = nullptr;
  std::optional<double> worst_rss;
  for (const Row& r : b.report.rows) {
    if (r.workload != "watch_fanout") continue;
    if (r.in_flight == 1000 && r.publish_per_second == 10.0) watch1k = &r;
    if (r.in_flight >= 10000) watch10k = &r;  // opened; held_after says how many stayed
    if (r.rss_mb_per_1000_streams.has_value()) {
      worst_rss = std::max(worst_rss.value_or(*r.rss_mb_per_1000_streams), *r.rss_mb_per_1000_streams);
    }
  }
  b.report.targets.push_back(
      Target{"Watch: subscribers still open after the 10k tier's deliveries",
             watch10k != nullptr && watch10k->held_after.has_value() ? std::optional<double>(*watch10k->held_after)
                                                                     : std::nullopt,
             10000, true, ""});
  b.report.targets.push_back(Target{"Watch: server RSS per 1,000 idle streams (worst tier)", worst_rss, 20, false,
                                    " MB"});
  b.report.targets.push_back(Target{"Watch: publish-to-receive p99, 1,000 subscribers, 10/s",
                                    watch1k != nullptr ? std::optional<double>(watch1k->p99_us / 1000)
                                                       : std::nullopt,
                                    100, false, " ms"});
}

int Main(int argc, char** argv) {
  CLI::App app{"refx-bench: measure refx-server against this machine's own ceilings, in one run"};
  app.footer(kFooter);
  bool quick = false;
  std::string output = "table", json_file;
  double duration_seconds = 4, warmup_seconds = 1;
  int64_t seed = 100000;
  std::vector<int> levels = {1, 16, 64};
  std::vector<int> connect_levels = {1, 16};
  std::string server_binary = REFX_SERVER_BINARY, echo_binary = REFX_BENCH_ECHO_BINARY;
  std::string partnership_path = REFX_DEFAULT_PARTNERSHIP;
  std::optional<std::string> agreement_path;
  std::string sender = "leicestershire-police", recipient = "leicester-city-council";
  std::string server, ca_file, cert_file, key_file, server_log_level = "info", acting_user = "refx-bench";
  const std::vector<std::string> kGroups = {"echo", "create", "connect", "get", "list", "transition", "watch"};
  std::vector<std::string> only = kGroups;
  std::vector<int> watch_subscribers = {1000, 10000};
  double watch_rate = 10, watch_seconds = 10;
  app.add_flag("--quick", quick, "A few seconds in all: proves the benchmark works (what CI runs)");
  app.add_option("--output", output, "table | json (JSON on stdout; progress always on stderr)")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  app.add_option("--json-file", json_file, "Also write the JSON report to this file");
  app.add_option("--duration", duration_seconds, "Seconds measured per row")->check(CLI::Range(0.1, 600.0))
      ->capture_default_str();
  app.add_option("--warmup", warmup_seconds, "Seconds of warm-up before each row")->check(CLI::Range(0.0, 600.0))
      ->capture_default_str();
  app.add_option("--seed", seed, "Referrals stored before GetReferral/ListReferrals (--quick: 2000)")
      ->check(CLI::Range(int64_t{1}, int64_t{10000000}))
      ->capture_default_str();
  app.add_option("--in-flight", levels, "Calls in flight for echo/Create/Get/List")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--connect-in-flight", connect_levels, "Concurrent connection openers")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--only", only,
                 "Workload groups to run: echo, create, connect, get, list, transition, watch (ratios need "
                 "echo; get and list seed first)")
      ->check(CLI::IsMember(kGroups))
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--watch-subscribers", watch_subscribers,
                 "WatchReferrals subscribers held open at once, per tier, on one server (--quick: 50)")
      ->check(CLI::Range(1, 100000))
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--watch-rate", watch_rate, "Referrals created per second while subscribers watch")
      ->check(CLI::Range(0.1, 10000.0))
      ->capture_default_str();
  app.add_option("--watch-seconds", watch_seconds, "Seconds of publishing per watch tier (--quick: 0.5)")
      ->check(CLI::Range(0.1, 600.0))
      ->capture_default_str();
  app.add_option("--server-binary", server_binary, "refx-server to start")->capture_default_str();
  app.add_option("--echo-binary", echo_binary, "refx-bench-echo to start")->capture_default_str();
  app.add_option("--partnership", partnership_path, "Partnership registry (agencies for the PKI and server)")
      ->capture_default_str();
  app.add_option("--agreement", agreement_path,
                 "Information-sharing agreement for the started refx-server (default: agreement.yaml beside "
                 "--partnership, when the file exists; \"\" for none)");
  app.add_option("--acting-user", acting_user, "Sent as x-refx-acting-user on every call (same on echo)")
      ->capture_default_str();
  app.add_option("--sender", sender, "Agency whose certificate makes the calls")->capture_default_str();
  app.add_option("--recipient", recipient, "Recipient agency of created referrals")->capture_default_str();
  app.add_option("--server-log-level", server_log_level, "logging.level of the started refx-server")
      ->check(CLI::IsMember({"debug", "info", "warning", "error"}))
      ->capture_default_str();
  auto* server_opt = app.add_option("--server", server, "Measure an existing server at HOST:PORT instead "
                                                         "(server CPU figures are then skipped)");
  app.add_option("--ca-file", ca_file, "With --server: CA that issued its certificate")->needs(server_opt);
  app.add_option("--cert-file", cert_file, "With --server: your agency certificate chain")->needs(server_opt);
  app.add_option("--key-file", key_file, "With --server: its key")->needs(server_opt);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  const bool external = !server.empty();
  if (external && (ca_file.empty() || cert_file.empty() || key_file.empty())) {
    std::fprintf(stderr, "refx-bench: --server needs --ca-file, --cert-file and --key-file\n");
    return 2;
  }
  if (quick) {
    duration_seconds = std::min(duration_seconds, 0.4);
    warmup_seconds = std::min(warmup_seconds, 0.2);
    if (app.count("--seed") == 0) seed = 2000;
    if (app.count("--watch-subscribers") == 0) watch_subscribers = {50};
    watch_seconds = std::min(watch_seconds, 0.5);
  }
  const std::set<std::string> groups(only.begin(), only.end());
  const auto runs = [&groups](const std::string& group) { return groups.count(group) > 0; };
  const int most_subscribers =
      runs("watch") ? *std::max_element(watch_subscribers.begin(), watch_subscribers.end()) : 0;
  const absl::Time run_start = absl::Now();

  struct sigaction action = {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto fail = [](const absl::Status& s) {
    std::fprintf(stderr, "refx-bench: %s\n", std::string(s.message()).c_str());
    return g_cancel.load() ? 130 : 1;
  };

  auto partnership = refx::core::Partnership::Load(partnership_path);
  if (!partnership.ok()) return fail(partnership.status());
  auto temp = TempDir::Create();
  if (!temp.ok()) return fail(temp.status());
  const std::string dir = (*temp)->path();

  // A throwaway PKI: every agency, with the production profiles.
  refx::pki::DevPkiOptions pki_options;
  pki_options.directory = dir + "/pki";
  pki_options.trust_domain = (*partnership)->trust_domain();
  for (const auto& agency : (*partnership)->config().agencies()) {
    pki_options.agencies.push_back(
        {agency.id(), absl::AsciiStrToLower(refx::config::v1::AgencyType_Name(agency.type()))});
  }
  auto pki = refx::pki::GenerateDevelopmentPki(pki_options);
  if (!pki.ok()) return fail(pki.status());
  if (auto written = refx::pki::WriteDevelopmentPkiFiles(*pki, pki_options); !written.ok()) {
    return fail(written.status());
  }
  // A signed (empty) revocation list, as every production server has: the
  // server then checks revocation in each handshake and on every call.
  {
    refx::pki::RevocationList list;
    list.sequence = 1;
    list.generated = absl::Now();
    list.next_update = absl::Now() + absl::Hours(24);
    auto text = refx::pki::SignRevocationList(list, pki->agency_ca, pki->agency_ca_key);
    if (!text.ok()) return fail(text.status());
    if (auto s = refx::pki::WriteFileAtomically(pki_options.directory + "/revocations.txt", *text, 0644); !s.ok()) {
      return fail(s);
    }
  }
  Progress(absl::StrCat("throwaway PKI and database in ", dir));

  // The children. Started before any gRPC object exists in this process.
  auto echo = refx::bench::ChildServer::Start(
      "refx-bench-echo",
      {echo_binary, "--listen", "127.0.0.1:0", "--cert-file", pki_options.directory + "/server.pem", "--key-file",
       pki_options.directory + "/server.key", "--client-ca-file", pki_options.directory + "/agency-ca.pem"},
      dir + "/echo.log", absl::Seconds(15));
  if (!echo.ok()) return fail(echo.status());
  std::unique_ptr<refx::bench::ChildServer> refx_server;
  Bench b;
  b.quick = quick;
  if (!external) {
    // Servers that enforce an agreement need its file; older ones have no
    // such key, so it is written only when there is a file to name.
    if (!agreement_path.has_value()) {
      const std::filesystem::path beside =
          std::filesystem::absolute(partnership_path).parent_path() / "agreement.yaml";
      std::error_code ignored;
      agreement_path = std::filesystem::exists(beside, ignored) ? beside.string() : "";
    }
    const std::string config = absl::StrCat(
        "# Written by refx-bench for one run.\n", "listen_address: 127.0.0.1:0\n",
        "partnership_file: ", std::filesystem::absolute(partnership_path).string(), "\n",
        agreement_path->empty()
            ? ""
            : absl::StrCat("agreement_file: ", std::filesystem::absolute(*agreement_path).string(), "\n"),
        "tls:\n  server_cert_file: pki/server.pem\n  server_key_file: pki/server.key\n",
        "  client_ca_file: pki/agency-ca.pem\n  revocation_list_file: pki/revocations.txt\n",
        "storage:\n  sqlite_path: db/refx.db\n",
        "logging:\n  level: ", server_log_level, "\n",
        // The server's default (20,000 watch streams) only when the tiers fit.
        // Every benchmark subscriber is one agency: its per-agency cap
        // (default 2,000) is raised to the tier, and said so in the output.
        absl::StrCat("watch:\n  max_subscribers_per_agency: ", std::max(most_subscribers + 100, 2000), "\n",
                     most_subscribers + 100 > 20000 ? absl::StrCat("  max_subscribers: ", most_subscribers + 100, "\n")
                                                    : ""));
    if (auto s = WriteText(dir + "/server.yaml", config); !s.ok()) return fail(s);
    auto started = refx::bench::ChildServer::Start("refx-server", {server_binary, "--config", dir + "/server.yaml"},
                                                   dir + "/refx-server.log", absl::Seconds(30));
    if (!started.ok()) return fail(started.status());
    refx_server = *std::move(started);
    b.server_pid = refx_server->pid();
    b.refx_target = absl::StrCat("127.0.0.1:", refx_server->port());
    b.connection.server = b.refx_target;
    b.connection.ca_file = pki_options.directory + "/root-ca.pem";
    b.connection.cert_file = absl::StrCat(pki_options.directory, "/agencies/", sender, ".pem");
    b.connection.key_file = absl::StrCat(pki_options.directory, "/agencies/", sender, ".key");
    b.report.server = absl::StrCat("refx-server child pid ", refx_server->pid(), " on ", b.refx_target);
  } else {
    b.refx_target = server;
    b.connection.server = server;
    b.connection.ca_file = ca_file;
    b.connection.cert_file = cert_file;
    b.connection.key_file = key_file;
    b.report.server = absl::StrCat("existing server ", server, " (server CPU not measured)");
  }
  b.connection.acting_user = acting_user;
  b.echo_pid = (*echo)->pid();
  b.echo_target = absl::StrCat("127.0.0.1:", (*echo)->port());
  Progress(absl::StrCat(b.report.server, "; refx-bench-echo pid ", b.echo_pid, " on ", b.echo_target));

  auto creds = refx::client::MakeChannelCredentials(b.connection);
  if (!creds.ok()) return fail(creds.status());
  b.creds = *creds;
  if (!external) {
    refx::client::ConnectionOptions as_recipient = b.connection;
    as_recipient.cert_file = absl::StrCat(pki_options.directory, "/agencies/", recipient, ".pem");
    as_recipient.key_file = absl::StrCat(pki_options.directory, "/agencies/", recipient, ".key");
    auto rc = refx::client::MakeChannelCredentials(as_recipient);
    if (!rc.ok()) return fail(rc.status());
    b.recipient_creds = *rc;
  }
  // gRPC 1.51 runs client callbacks on a process-wide "alternative" queue
  // with its own threads; a channel takes a reference on its first callback
  // call and drops it when destroyed, and when the last one goes the queue is
  // shut down. Starting it again while its threads exit crashes in
  // grpc_completion_queue_next. This channel makes one callback call and
  // lives for the whole run, so the queue outlives every measurement's
  // channels.
  const std::shared_ptr<grpc::Channel> keep_callback_queue =
      grpc::CreateChannel(b.echo_target, grpc::InsecureChannelCredentials());
  {
    auto stub = bench::v1::Echo::NewStub(keep_callback_queue);
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(absl::Seconds(2)));
    bench::v1::EchoMessage request, response;
    absl::Notification answered;
    // Fails (plaintext to a TLS port); only the queue reference matters.
    stub->async()->Echo(&context, &request, &response, [&answered](grpc::Status) { answered.Notify(); });
    answered.WaitForNotificationWithTimeout(absl::Seconds(5));
  }
  // The echo ceiling trusts the throwaway PKI: with --server, its own
  // agency certificate is used against it.
  std::shared_ptr<grpc::ChannelCredentials> echo_creds = b.creds;
  if (external) {
    refx::client::ConnectionOptions echo_options;
    echo_options.ca_file = pki_options.directory + "/root-ca.pem";
    echo_options.cert_file = absl::StrCat(pki_options.directory, "/agencies/", sender, ".pem");
    echo_options.key_file = absl::StrCat(pki_options.directory, "/agencies/", sender, ".key");
    auto ec = refx::client::MakeChannelCredentials(echo_options);
    if (!ec.ok()) return fail(ec.status());
    echo_creds = *ec;
  }

  // Who we are, as the server sees it: proves the mTLS setup before load.
  {
    auto client = refx::client::ReferralClient::Connect(b.connection);
    if (!client.ok()) return fail(client.status());
    auto who = client->WhoAmI();
    if (!who.ok()) return fail(who.status());
    Progress(absl::StrCat("calling as ", who->agency(), " (", who->role(), ")"));
  }

  b.warmup = absl::Seconds(warmup_seconds);
  b.measure = absl::Seconds(duration_seconds);
  b.levels = levels;
  b.recipient = recipient;
  b.referral = SampleReferral(recipient);
  b.echo_payload = std::string(b.referral.ByteSizeLong() + 64, 'x');  // ~ a stored referral's size.
  b.run_id = absl::StrCat("bench-", absl::ToUnixMicros(absl::Now()));
  b.report.mode = quick ? "quick" : "full";
  b.report.cpus = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  b.report.measure_seconds = duration_seconds;
  b.report.warmup_seconds = warmup_seconds;
  b.report.echo_payload_bytes = static_cast<double>(b.echo_payload.size());
  b.report.capabilities = DetectCapabilities(refx_server != nullptr ? refx_server->log_path() : "", external);
  if (external) {
    for (const char* w : {"accept_referral", "watch_fanout"}) {
      if (runs(w[0] == 'a' ? "transition" : "watch")) {
        b.report.unavailable.push_back({w, "not with --server: needs the recipient agency's key"});
      }
    }
  }
  if (runs("watch") && !external) {
    b.report.notes.push_back(absl::StrFormat(
        "watch_fanout: 'in flight' is subscribers (all %s, start_at_head, callback client API over %d "
        "connections); calls/s is deliveries/s at %.0f referrals/s published for %.1f s; latency is publish "
        "(just before CreateReferral is sent) to receive; srv CPU is per delivery; RSS is the server's VmRSS "
        "growth per 1,000 idle streams added in that tier",
        recipient, std::clamp((most_subscribers + 99) / 100, 1, 100), watch_rate, watch_seconds));
    b.report.notes.push_back(absl::StrCat(
        "server watch settings: max_subscribers_per_agency raised to ", std::max(most_subscribers + 100, 2000),
        " (every subscriber here is one agency); ",
        most_subscribers + 100 > 20000 ? absl::StrCat("max_subscribers raised to ", most_subscribers + 100)
                                       : std::string("max_subscribers 20000"),
        ", 2 threads, batches of 64 events (defaults)"));
  }

  absl::Status status = [&]() -> absl::Status {
    absl::Status s;
    if (runs("echo")) {
      // The echo phase swaps in the echo credentials (same files unless --server).
      std::swap(b.creds, echo_creds);
      s = RunUnaryWorkload(b, "echo", "TLS record crypto + HTTP/2 + gRPC core; the CPUs it shares with this client",
                           true);
      std::swap(b.creds, echo_creds);
      if (!s.ok()) return s;
    }
    if (runs("create")) {
      s = RunUnaryWorkload(b, "create_referral",
                           "fsync per commit (WAL, synchronous=FULL); group commit batches calls in flight", false);
      if (!s.ok()) return s;
    }
    // Connections before seeding: Get/List at 100k can leave the server busy.
    if (runs("connect")) {
      std::swap(b.creds, echo_creds);
      s = RunConnectWorkload(b, true, connect_levels);
      std::swap(b.creds, echo_creds);
      if (!s.ok()) return s;
      s = RunConnectWorkload(b, false, connect_levels);
      if (!s.ok()) return s;
    }
    if (runs("get") || runs("list")) {
      s = Seed(b, seed);
      if (!s.ok()) return s;
      b.report.stored_referrals = static_cast<double>(b.stored.load());
    }
    if (runs("get")) {
      s = RunUnaryWorkload(b, "get_referral", "SQLite read + record gate + serialization + work-pool hop", false);
      if (!s.ok()) return s;
    }
    if (runs("list")) {
      s = RunUnaryWorkload(b, "list_referrals", "SQLite range read of 50 rows + serializing 50 referrals", false);
      if (!s.ok()) return s;
    }
    if (runs("transition") && !external) {
      s = RunTransitionWorkload(b);
      if (!s.ok()) return s;
    }
    if (runs("watch") && !external) {
      s = RunWatchWorkload(b, WatchSettings{watch_subscribers, watch_rate, absl::Seconds(watch_seconds)});
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }();
  if (g_cancel.load()) {
    Progress("interrupted: stopping the servers and removing " + dir);
    return 130;
  }
  if (!status.ok()) return fail(status);
  if (refx_server != nullptr && !refx_server->Running()) {
    return fail(absl::InternalError(absl::StrCat("refx-server died during the run:\n",
                                                 refx::bench::FileTail(refx_server->log_path(), 2000))));
  }
  Conclude(b);
  b.report.total_seconds = absl::ToDoubleSeconds(absl::Now() - run_start);
  const std::string text =
      output == "json" ? refx::bench::FormatJson(b.report) : refx::bench::FormatTable(b.report);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  if (!json_file.empty()) {
    if (auto s = WriteText(json_file, refx::bench::FormatJson(b.report)); !s.ok()) return fail(s);
  }
  if (b.any_empty_row) {
    Progress("warning: a row had no successful call (see its errors); that is a finding, not a failure");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Main's locals (children, temporary directory) are destroyed before this
  // returns, on every path.
  return Main(argc, argv);
}
