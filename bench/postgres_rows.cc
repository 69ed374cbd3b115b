// The storage ceilings (bare loops writing a create's rows: SQLite's, and
// PostgreSQL's under --backend postgres) and the row only --backend
// postgres measures, CreateReferral spread over two refx-server replicas of
// one database.
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bench/bench_workloads.h"
#include "bench/store_ceiling.h"

namespace refx::bench {

namespace {

// `workload` at each level: `ceiling` with `level` creates per transaction.
absl::Status RunCeilingRows(Bench& b, StoreCeiling& ceiling, const std::string& workload, const std::string& bound) {
  for (int level : b.levels) {
    if (g_cancel.load()) return absl::CancelledError("interrupted");
    b.report.rows.push_back(Measure(b, workload, bound, level, std::nullopt,
                                    [&](const LoadOptions& o) { return ceiling.Run(o, level); }));
  }
  // What the rows weigh: the size the loop's own database grew by, so the
  // figure is refx's schema (tables and every index), not a guess from the
  // values' lengths.
  auto bytes = ceiling.BytesPerCreate();
  if (!bytes.ok()) return bytes.status();
  if (bytes->has_value()) {
    b.report.notes.push_back(absl::StrCat(workload, ": ", **bytes, " bytes of tables and indexes per create (",
                                          ceiling.rows_per_create(),
                                          "), the growth of the loop's database over the creates it wrote"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RunLibpqCeilingRows(Bench& b, StoreCeiling& ceiling) {
  b.report.notes.push_back(absl::StrCat(
      "pg_libpq_ceiling: one libpq connection in this process writing, per create, the rows refx-server wrote for "
      "one of its referrals in this run (", ceiling.rows_per_create(),
      ") with refx's own prepared statements, 'in flight' creates per transaction, no gRPC, TLS, agreement, "
      "hashing or signing; latency is the transaction's"));
  return RunCeilingRows(b, ceiling, "libpq_ceiling", "PostgreSQL: the create's rows, one commit per 'in flight'");
}

absl::Status RunSqliteCeilingRows(Bench& b, const std::string& server_db) {
  const std::string scratch = (std::filesystem::path(server_db).parent_path() / "ceiling.db").string();
  auto ceiling = StoreCeiling::PrepareSqlite(server_db, scratch);
  if (!ceiling.ok()) return ceiling.status();
  b.report.notes.push_back(absl::StrCat(
      "sqlite_ceiling: one SQLite connection in this process writing, per create, the rows refx-server wrote for "
      "one of its referrals in this run (",
      (*ceiling)->rows_per_create(),
      ") with refx's own statements into a file beside refx-server's (WAL, synchronous=FULL, refx's connection and "
      "log-writing VFS), 'in flight' creates "
      "per transaction, no gRPC, TLS, agreement, hashing or signing; latency is the transaction's"));
  return RunCeilingRows(b, **ceiling, "sqlite_ceiling", "SQLite: the create's rows, one commit per 'in flight'");
}

absl::Status RunReplicaScaling(Bench& b, const std::vector<std::string>& targets, int level) {
  // Channels alternate between the replicas, so slot i calls replica i % n.
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  const int per_replica = std::max(1, ChannelsFor(level) / static_cast<int>(targets.size()));
  for (int i = 0; i < per_replica; ++i) {
    for (const std::string& target : targets) {
      auto made = MakeChannels(target, b.creds, 1);
      if (!made.ok()) return made.status();
      channels.push_back(made->front());
    }
  }
  auto stubs = RefxStubs(channels);
  const StartCall start = CreateCalls(b, stubs);
  b.report.rows.push_back(Measure(
      b, absl::StrCat("create_referral_", targets.size(), "_replicas"),
      "as create_referral, the calls alternating between replicas of one database (all on the same 2 cores)", level,
      std::nullopt, [&start](const LoadOptions& o) { return RunClosedLoop(o, start); }));
  return absl::OkStatus();
}

}  // namespace refx::bench
