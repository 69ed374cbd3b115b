// The watch_fanout workload of refx-bench: WatchReferrals subscribers held
// open in tiers, the server's memory per idle stream, and publish-to-receive
// latency while referrals are created at a fixed rate.
#include "bench/bench_workloads.h"

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bench/child_process.h"
#include "bench/watch_fanout.h"

namespace refx::bench {
namespace {

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

}  // namespace

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
        "gRPC's per-message stream writes (each completion searches the callback queue's debug list of "
        "outstanding operations, one per open stream, in Debian's NDEBUG-less build) + one durable audit event "
        "per batch shared by the agency's streams sending it, on the watch pool (2 threads)";
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

}  // namespace refx::bench
