// The unary workloads of refx-bench: the echo ceiling, create_referral,
// get_referral and list_referrals in closed loops; new connections per
// second (connect_echo, connect_refx); seeding the store; and
// accept_referral on referrals created for it outside the measured time.
#include "bench/bench_workloads.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/v1/echo.grpc.pb.h"
#include "grpcpp/create_channel.h"

namespace refx::bench {
namespace {

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

}  // namespace

absl::Status RunUnaryWorkload(Bench& b, const std::string& workload, const std::string& bounded_by,
                              bool on_echo) {
  for (int level : b.levels) {
    if (g_cancel.load()) return absl::CancelledError("interrupted");
    auto channels = MakeChannels(on_echo ? b.echo_target : b.refx_target, b.creds, ChannelsFor(level));
    if (!channels.ok()) return channels.status();
    const std::optional<pid_t> pid = on_echo ? std::optional<pid_t>(b.echo_pid) : b.server_pid;
    std::function<LoadResult(const LoadOptions&)> run;
    std::vector<std::unique_ptr<::bench::v1::Echo::Stub>> echo_stubs;
    std::vector<std::unique_ptr<refx::v1::ReferralService::Stub>> stubs = RefxStubs(*channels);
    std::vector<std::string> page_tokens(static_cast<size_t>(level));
    std::vector<int64_t> cursors(static_cast<size_t>(level));
    std::vector<std::string> names;
    refx::bench::StartCall start;
    if (workload == "echo") {
      for (const auto& c : *channels) echo_stubs.push_back(::bench::v1::Echo::NewStub(c));
      start = [&](int slot, refx::bench::CallDone done) {
        auto* call = new Call<::bench::v1::EchoMessage, ::bench::v1::EchoMessage>;
        call->context.set_deadline(DeadlineIn(kCallTimeout));
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
      start = GetCalls(stubs, b.connection.acting_user, [&names, &cursors](int slot) {
        int64_t& cursor = cursors[static_cast<size_t>(slot)];
        return &names[static_cast<size_t>(cursor++) % names.size()];
      });
    } else {  // list_referrals
      start = [&](int slot, refx::bench::CallDone done) {
        auto* call = new Call<refx::v1::ListReferralsRequest, refx::v1::ListReferralsResponse>;
        call->context.set_deadline(DeadlineIn(kCallTimeout));
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

absl::Status RunListDepthWorkload(Bench& b, int in_flight, int deep_page) {
  if (g_cancel.load()) return absl::CancelledError("interrupted");
  auto channels = MakeChannels(b.refx_target, b.creds, ChannelsFor(in_flight));
  if (!channels.ok()) return channels.status();
  std::vector<std::unique_ptr<refx::v1::ReferralService::Stub>> stubs = RefxStubs(*channels);
  // The token of page `deep_page` (or of the deepest page there is): the
  // next_page_token of the page before it, walked once, unmeasured.
  std::string deep_token;
  int depth = 1;
  for (std::string token; depth < deep_page && !g_cancel.load(); ++depth) {
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(kCallTimeout));
    context.AddMetadata(refx::client::kActingUserMetadataKey, b.connection.acting_user);
    refx::v1::ListReferralsRequest request;
    request.set_page_size(50);
    request.set_page_token(token);
    refx::v1::ListReferralsResponse page;
    const grpc::Status status = stubs[0]->ListReferrals(&context, request, &page);
    if (!status.ok()) return absl::UnavailableError(absl::StrCat("walking the pages: ", status.error_message()));
    if (page.next_page_token().empty()) break;
    token = page.next_page_token();
    deep_token = token;
  }
  if (depth < 2) return absl::FailedPreconditionError("list depth: fewer than two pages stored");
  Progress(
      absl::StrCat("list depth: page 1 against page ", depth, " (", 50 * (depth - 1), " newer referrals before it)"));
  for (const auto& [workload, token] : {std::pair<std::string, std::string>{"list_page_1", ""},
                                        std::pair<std::string, std::string>{"list_page_deep", deep_token}}) {
    const bool deep = !token.empty();
    refx::bench::StartCall start = [&b, &stubs, token = token](int slot, refx::bench::CallDone done) {
      auto* call = new Call<refx::v1::ListReferralsRequest, refx::v1::ListReferralsResponse>;
      call->context.set_deadline(DeadlineIn(kCallTimeout));
      call->context.AddMetadata(refx::client::kActingUserMetadataKey, b.connection.acting_user);
      call->request.set_page_size(50);
      call->request.set_page_token(token);
      stubs[static_cast<size_t>(slot) % stubs.size()]->async()->ListReferrals(
          &call->context, &call->request, &call->response, [call, done](grpc::Status status) {
            const bool ok = status.ok() && call->response.referrals_size() > 0;
            delete call;  // before `done`: see RunUnaryWorkload
            done(ok, status.ok() ? "empty page" : status.error_message());
          });
    };
    const std::string bounded_by = deep
                                       ? absl::StrCat("the same page of 50 at page ", depth,
                                                      " every call: one keyset range read from the page token's cursor")
                                       : "the newest page of 50, every call: as list_referrals";
    b.report.rows.push_back(Measure(b, workload, bounded_by, in_flight, b.server_pid,
                                    [&start](const LoadOptions& o) { return refx::bench::RunClosedLoop(o, start); }));
  }
  b.list_deep_page = depth;
  return absl::OkStatus();
}

absl::Status RunConnectWorkload(Bench& b, bool on_echo, const std::vector<int>& levels) {
  const std::string workload = on_echo ? "connect_echo" : "connect_refx";
  const std::string target = on_echo ? b.echo_target : b.refx_target;
  const std::optional<pid_t> pid = on_echo ? std::optional<pid_t>(b.echo_pid) : b.server_pid;
  refx::bench::BlockingCall call = [&](int) -> absl::Status {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto channel = grpc::CreateCustomChannel(target, b.creds, args);
    if (on_echo) {
      auto stub = ::bench::v1::Echo::NewStub(channel);
      grpc::ClientContext context;
      context.set_deadline(DeadlineIn(kCallTimeout));
      ::bench::v1::EchoMessage request, response;
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

}  // namespace refx::bench
