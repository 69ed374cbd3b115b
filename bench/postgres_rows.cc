// The rows only --backend postgres measures: PostgreSQL's own ceiling (a
// bare libpq loop writing a create's rows) and CreateReferral spread over
// two refx-server replicas of one database.
#include <utility>

#include "absl/strings/str_cat.h"
#include "bench/bench_workloads.h"
#include "bench/libpq_ceiling.h"

namespace refx::bench {

absl::Status RunLibpqCeilingRows(Bench& b, LibpqCeiling& ceiling) {
  b.report.notes.push_back(absl::StrCat(
      "pg_libpq_ceiling: one libpq connection in this process writing, per create, the rows refx-server wrote for "
      "one of its referrals in this run (", ceiling.rows_per_create(),
      ") with refx's own prepared statements, 'in flight' creates per transaction, no gRPC, TLS, agreement, "
      "hashing or signing; latency is the transaction's"));
  for (int level : b.levels) {
    if (g_cancel.load()) return absl::CancelledError("interrupted");
    b.report.rows.push_back(Measure(b, "libpq_ceiling", "PostgreSQL: the create's rows, one commit per 'in flight'",
                                    level, std::nullopt,
                                    [&](const LoadOptions& o) { return ceiling.Run(o, level); }));
  }
  return absl::OkStatus();
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
