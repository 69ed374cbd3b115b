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
//
// This file holds the flags and the order of a run; bench_help.h what --help
// says of the rows; bench_workloads.h lists where the workloads are,
// run_environment.h what is set up around them, soak.h and overload.h the
// two runs that replace the rows.
#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/bench_help.h"
#include "bench/bench_workloads.h"
#include "bench/child_process.h"
#include "bench/overload.h"
#include "bench/report.h"
#include "bench/run_environment.h"
#include "bench/soak.h"
#include "bench/store_ceiling.h"
#include "clients/lib/referral_client.h"
#include "common/process_setup.h"
#include "common/status_macros.h"
#include "core/partnership.h"
#include "grpcpp/grpcpp.h"
#include "storage/postgres/pg_store.h"

namespace refx::bench {
namespace {

void OnStopSignal(int) { g_cancel.store(true); }

int Main(int argc, char** argv) {
  CLI::App app{"refx-bench: measure refx-server against this machine's own ceilings, in one run"};
  app.footer(absl::StrCat(kRunHelp, kOverloadHelp, kSoakHelp, kExitCodesHelp));
  bool quick = false;
  OutputOptions output;
  double duration_seconds = 4, warmup_seconds = 1;
  int64_t seed = 100000;
  pid_t external_pid = 0;
  std::vector<int> levels = {1, 16, 64};
  std::vector<int> connect_levels = {1, 16};
  std::string server_binary = REFX_SERVER_BINARY, echo_binary = REFX_BENCH_ECHO_BINARY;
  std::string backend = "sqlite", postgres_script = REFX_POSTGRES_SCRIPT;
  int64_t postgres_seed = 20000;
  OverloadOptions overload;
  SoakOptions soak;
  std::string partnership_path = REFX_DEFAULT_PARTNERSHIP;
  std::optional<std::string> agreement_path;
  std::string sender = "leicestershire-police", recipient = "leicester-city-council";
  std::string server, ca_file, cert_file, key_file, server_log_level = "info", acting_user = "refx-bench";
  const std::vector<std::string> kGroups = {"echo", "create", "connect", "get", "list", "transition", "watch"};
  std::vector<std::string> only = kGroups;
  std::vector<int> watch_subscribers = {1000, 10000};
  double watch_rate = 10, watch_seconds = 10;
  app.add_flag("--quick", quick, "A few seconds in all: proves the benchmark works (what CI runs)");
  app.add_option("--output", output.format, "table | json (JSON on stdout; progress always on stderr)")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  app.add_option("--json-file", output.json_file, "Also write the JSON report to this file");
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
  app.add_option("--soak", soak.minutes,
                 "Soak for MINUTES instead of measuring: steady creates, reads, accepts, lists, watch streams "
                 "opening and closing, revocation list republished every minute, agreement rewritten every "
                 "three; samples the server's RSS, fds, threads and watch lag (see below)")
      ->check(CLI::Range(0.1, 1440.0));
  app.add_option("--sample-seconds", soak.sample_seconds, "With --soak: seconds between samples")
      ->check(CLI::Range(1.0, 3600.0))
      ->capture_default_str();
  app.add_option("--soak-rate", soak.creates_per_second, "With --soak: referrals created per second")
      ->check(CLI::Range(0.1, 1000.0))
      ->capture_default_str();
  app.add_option("--overload", overload.seconds,
                 "Overload for SECONDS instead of measuring: several agencies at --overload-multiple x the "
                 "measured capacity, one well-behaved agency beside them (see below)")
      ->check(CLI::Range(1.0, 3600.0));
  app.add_option("--overload-multiple", overload.multiple, "With --overload: offered load / capacity")
      ->check(CLI::Range(1.0, 20.0))
      ->capture_default_str();
  app.add_option("--overload-good-rate", overload.good_rate,
                 "With --overload: creates per second of the well-behaved agency")
      ->check(CLI::Range(0.1, 1000.0))
      ->capture_default_str();
  overload.agency_binary = REFX_BENCH_AGENCY_BINARY;
  app.add_option("--agency-binary", overload.agency_binary,
                 "With --overload: refx-bench-agency, the well-behaved agency's own process")
      ->capture_default_str();
  app.add_option("--memory-bound-mb", overload.memory_bound_mb,
                 "With --overload: the server's RSS must stay under this (the Helm chart's memory limit)")
      ->check(CLI::Range(16.0, 1e6))
      ->capture_default_str();
  app.add_option("--revocation-seconds", soak.revocation_seconds,
                 "With --soak: seconds between republished revocation lists")
      ->check(CLI::Range(1.0, 86400.0))
      ->capture_default_str();
  app.add_option("--agreement-seconds", soak.agreement_seconds, "With --soak: seconds between agreement rewrites")
      ->check(CLI::Range(1.0, 86400.0))
      ->capture_default_str();
  app.add_option("--server-binary", server_binary, "refx-server to start")->capture_default_str();
  app.add_option("--backend", backend,
                 "sqlite: rows on a refx-server over SQLite; postgres: the same rows again, in the same run, on "
                 "refx-server replicas over a throwaway PostgreSQL 15 (--postgres-script, Unix socket), prefixed "
                 "pg_, with PostgreSQL's own ceiling (pg_libpq_ceiling) and two replicas (pg_create_referral_2_"
                 "replicas)")
      ->check(CLI::IsMember({"sqlite", "postgres"}))
      ->capture_default_str();
  app.add_option("--postgres-script", postgres_script, "Starts and stops the throwaway PostgreSQL")
      ->capture_default_str();
  app.add_option("--postgres-seed", postgres_seed,
                 "Referrals stored on PostgreSQL before its Get/List rows (--quick: 2000)")
      ->check(CLI::Range(int64_t{1}, int64_t{10000000}))
      ->capture_default_str();
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
                                                         "(server CPU figures are then skipped unless --server-pid)");
  app.add_option("--server-pid", external_pid,
                 "With --server on this machine: its process id, so that server CPU per call is measured too "
                 "(e.g. of bench/plain-node, the plain implementation)")
      ->check(CLI::PositiveNumber)
      ->needs(server_opt);
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
  for (const absl::Status& s : {CheckOverloadOptions(overload, soak.minutes > 0, external),
                                 CheckSoakOptions(soak, external)}) {
    if (!s.ok()) {
      std::fprintf(stderr, "refx-bench: %s\n", std::string(s.message()).c_str());
      return 2;
    }
  }
  if (external && (ca_file.empty() || cert_file.empty() || key_file.empty())) {
    std::fprintf(stderr, "refx-bench: --server needs --ca-file, --cert-file and --key-file\n");
    return 2;
  }
  if (external_pid > 0 && kill(external_pid, 0) != 0 && errno != EPERM) {
    std::fprintf(stderr, "refx-bench: --server-pid %d: no such process on this machine\n",
                 static_cast<int>(external_pid));
    return 2;
  }
  if (quick) {
    duration_seconds = std::min(duration_seconds, 0.4);
    warmup_seconds = std::min(warmup_seconds, 0.2);
    if (app.count("--seed") == 0) seed = 2000;
    if (app.count("--postgres-seed") == 0) postgres_seed = 2000;
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
  const std::string pki_dir = dir + "/pki";
  auto pki = WriteThrowawayPki(**partnership, pki_dir);
  if (!pki.ok()) return fail(pki.status());
  // A soak rewrites the agreement now and then, so the server runs on a copy.
  SoakAgreement soak_agreement;
  if (soak.minutes > 0) {
    auto copied = CopySoakAgreement(partnership_path, agreement_path, dir);
    if (!copied.ok()) return fail(copied.status());
    soak_agreement = *std::move(copied);
    agreement_path = soak_agreement.path;
  }
  Progress(absl::StrCat("throwaway PKI and database in ", dir));

  // The children. Started before any gRPC object exists in this process.
  auto echo = refx::bench::ChildServer::Start(
      "refx-bench-echo",
      {echo_binary, "--listen", "127.0.0.1:0", "--cert-file", pki_dir + "/server.pem", "--key-file",
       pki_dir + "/server.key", "--client-ca-file", pki_dir + "/agency-ca.pem"},
      dir + "/echo.log", absl::Seconds(15));
  if (!echo.ok()) return fail(echo.status());
  // Declared first, so destroyed last: PostgreSQL stops after the servers.
  std::unique_ptr<refx::bench::ThrowawayPostgres> postgres;
  std::unique_ptr<refx::bench::ChildServer> refx_server;
  std::vector<std::unique_ptr<refx::bench::ChildServer>> pg_replicas;
  ServerUnderTest on_postgres;
  on_postgres.row_prefix = "pg_";
  std::vector<std::string> replica_targets;
  Bench b;
  b.quick = quick;
  if (!external && backend == "postgres") {
    Progress("starting a throwaway PostgreSQL");
    auto started = refx::bench::ThrowawayPostgres::Start(postgres_script);
    if (!started.ok()) return fail(started.status());
    postgres = *std::move(started);
  }
  if (!external) {
    const std::string config = ServerConfigYaml(partnership_path, agreement_path, server_log_level, most_subscribers);
    if (auto s = WriteText(dir + "/server.yaml", config); !s.ok()) return fail(s);
    auto started = refx::bench::ChildServer::Start("refx-server", {server_binary, "--config", dir + "/server.yaml"},
                                                   dir + "/refx-server.log", absl::Seconds(30));
    if (!started.ok()) return fail(started.status());
    refx_server = *std::move(started);
    b.server_pid = refx_server->pid();
    b.refx_target = absl::StrCat("127.0.0.1:", refx_server->port());
    b.connection.server = b.refx_target;
    b.connection.ca_file = pki_dir + "/root-ca.pem";
    b.connection.cert_file = absl::StrCat(pki_dir, "/agencies/", sender, ".pem");
    b.connection.key_file = absl::StrCat(pki_dir, "/agencies/", sender, ".key");
    b.report.server = absl::StrCat("refx-server child pid ", refx_server->pid(), " on ", b.refx_target, ", SQLite");
    if (postgres != nullptr) {
      // Two replicas of one database, one config (so one set of keys); the
      // pg_ rows use the first, the replica row both.
      if (auto s = WriteText(dir + "/server-pg.yaml",
                             ServerConfigYaml(partnership_path, agreement_path, server_log_level, most_subscribers,
                                              postgres->StorageYaml("pg")));
          !s.ok()) {
        return fail(s);
      }
      for (int i = 0; i < 2; ++i) {
        auto replica = refx::bench::ChildServer::Start(absl::StrCat("refx-server (PostgreSQL replica ", i + 1, ")"),
                                                       {server_binary, "--config", dir + "/server-pg.yaml"},
                                                       absl::StrCat(dir, "/refx-server-pg", i + 1, ".log"),
                                                       absl::Seconds(30));
        if (!replica.ok()) return fail(replica.status());
        replica_targets.push_back(absl::StrCat("127.0.0.1:", (*replica)->port()));
        pg_replicas.push_back(*std::move(replica));
      }
      on_postgres.target = replica_targets[0];
      on_postgres.pid = pg_replicas[0]->pid();
      absl::StrAppend(&b.report.server, "; refx-server replicas pids ", pg_replicas[0]->pid(), " and ",
                      pg_replicas[1]->pid(), " on ", replica_targets[0], " and ", replica_targets[1],
                      ", one PostgreSQL 15 (local socket, fsync on)");
    }
  } else {
    b.refx_target = server;
    b.connection.server = server;
    b.connection.ca_file = ca_file;
    b.connection.cert_file = cert_file;
    b.connection.key_file = key_file;
    if (external_pid > 0) {
      b.server_pid = external_pid;
      b.report.server = absl::StrCat("existing server ", server, ", pid ", external_pid);
    } else {
      b.report.server = absl::StrCat("existing server ", server, " (server CPU not measured)");
    }
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
    as_recipient.cert_file = absl::StrCat(pki_dir, "/agencies/", recipient, ".pem");
    as_recipient.key_file = absl::StrCat(pki_dir, "/agencies/", recipient, ".key");
    auto rc = refx::client::MakeChannelCredentials(as_recipient);
    if (!rc.ok()) return fail(rc.status());
    b.recipient_creds = *rc;
  }
  // Lives for the whole run, so gRPC's callback queue outlives every
  // measurement's channels (see HoldCallbackQueue).
  const std::shared_ptr<grpc::Channel> keep_callback_queue = HoldCallbackQueue(b.echo_target);
  // The echo ceiling trusts the throwaway PKI: with --server, its own
  // agency certificate is used against it.
  std::shared_ptr<grpc::ChannelCredentials> echo_creds = b.creds;
  if (external) {
    refx::client::ConnectionOptions echo_options;
    echo_options.ca_file = pki_dir + "/root-ca.pem";
    echo_options.cert_file = absl::StrCat(pki_dir, "/agencies/", sender, ".pem");
    echo_options.key_file = absl::StrCat(pki_dir, "/agencies/", sender, ".key");
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

  // --overload and --soak replace the rows: exit 3 when their verdict fails.
  const auto verdict = [&fail](const absl::StatusOr<bool>& passed) {
    if (!passed.ok()) return fail(passed.status());
    return *passed ? 0 : 3;
  };
  if (overload.seconds > 0) return verdict(RunOverloadAndReport(overload, *refx_server, b.connection, pki_dir, output));
  if (soak.minutes > 0) {
    return verdict(
        RunSoakAndReport(soak, *refx_server, b.connection, recipient, *pki, pki_dir, soak_agreement, output));
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
      if (!external) s = RunFsyncFloor(b, dir + "/db");
      const char* bound = "fsync per commit (WAL, synchronous=FULL); group commit batches calls in flight";
      if (s.ok()) s = RunUnaryWorkload(b, "create_referral", bound, false);
      if (s.ok() && !external) s = RunSqliteCeilingRows(b, dir + "/db/refx.db");
      if (s.ok() && !external) s = RunEncryptionAtRestRows(b, dir + "/db");
      if (!s.ok()) return s;
      if (postgres != nullptr) {
        Enter(b, on_postgres);
        s = RunUnaryWorkload(b, "create_referral", "PostgreSQL commit per batch (write lock, heads, rows, NOTIFY)",
                             false);
        if (s.ok()) s = RunReplicaScaling(b, replica_targets, *std::max_element(b.levels.begin(), b.levels.end()));
        Leave(b, on_postgres);
        if (!s.ok()) return s;
        auto parameters = refx::storage::postgres::ParametersFromConfig(postgres->Config());
        if (!parameters.ok()) return parameters.status();
        auto ceiling = StoreCeiling::PreparePostgres(*parameters, "refx_bench_ceiling");
        if (!ceiling.ok()) return ceiling.status();
        b.row_prefix = "pg_";
        s = RunLibpqCeilingRows(b, **ceiling);
        b.row_prefix.clear();
        if (!s.ok()) return s;
      }
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
      if (postgres != nullptr) {
        Enter(b, on_postgres);
        s = Seed(b, postgres_seed);
        Leave(b, on_postgres);
        if (!s.ok()) return s;
      }
    }
    // Each workload on SQLite, then at once on PostgreSQL, so both meet
    // the machine in much the same state.
    const auto on_each = [&](const std::string& workload, const std::string& bounded_by) -> absl::Status {
      REFX_RETURN_IF_ERROR(RunUnaryWorkload(b, workload, bounded_by, false));
      if (postgres == nullptr) return absl::OkStatus();
      Enter(b, on_postgres);
      absl::Status pg = RunUnaryWorkload(b, workload, bounded_by, false);
      Leave(b, on_postgres);
      return pg;
    };
    if (runs("get")) {
      s = on_each("get_referral", "database read + record gate + serialization + work-pool hop + audit commit");
      if (!s.ok()) return s;
    }
    if (runs("list")) {
      s = on_each(
          "list_referrals",
          "a database range read of 50 rows + 50 referrals rendered or taken from the render cache, serialized");
      if (!s.ok()) return s;
      s = RunListDepthWorkload(b, *std::max_element(b.levels.begin(), b.levels.end()), 1000);
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
  for (const auto& replica : pg_replicas) {
    if (!replica->Running()) {
      return fail(absl::InternalError(absl::StrCat("a PostgreSQL refx-server replica died during the run:\n",
                                                   refx::bench::FileTail(replica->log_path(), 2000))));
    }
  }
  Conclude(b);
  b.report.total_seconds = absl::ToDoubleSeconds(absl::Now() - run_start);
  if (auto s = WriteOutput(output, FormatTable(b.report), FormatJson(b.report)); !s.ok()) return fail(s);
  if (b.any_empty_row) {
    Progress("warning: a row had no successful call (see its errors); that is a finding, not a failure");
  }
  return 0;
}

}  // namespace
}  // namespace refx::bench

int main(int argc, char** argv) {
  refx::DisableMutexDeadlockDetection();
  // Main's locals (children, temporary directory) are destroyed before this
  // returns, on every path.
  return refx::bench::Main(argc, argv);
}
