// What every refx-bench workload measures with: the shared cancel flag and
// progress lines, mTLS channels (and the one channel that keeps gRPC's
// callback queue alive), the warm-up-then-measure loop that makes a
// report row, the CreateReferral calls that seeding, accept_referral and
// create_referral share, and the GetReferral calls of get_referral and the
// overload run's read-back.
#include "bench/bench_workloads.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "bench/child_process.h"
#include "bench/v1/echo.grpc.pb.h"
#include "grpcpp/create_channel.h"

namespace refx::bench {
namespace {

constexpr size_t kMaxNames = 20000;

}  // namespace

std::atomic<bool> g_cancel{false};

void Progress(const std::string& line) { std::fprintf(stderr, "refx-bench: %s\n", line.c_str()); }

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

int ChannelsFor(int in_flight) { return std::max(1, in_flight / 16); }

std::shared_ptr<grpc::Channel> HoldCallbackQueue(const std::string& echo_target) {
  std::shared_ptr<grpc::Channel> channel = grpc::CreateChannel(echo_target, grpc::InsecureChannelCredentials());
  auto stub = ::bench::v1::Echo::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(absl::Seconds(2)));
  ::bench::v1::EchoMessage request, response;
  absl::Notification answered;
  // Fails (plaintext to a TLS port); only the queue reference matters.
  stub->async()->Echo(&context, &request, &response, [&answered](grpc::Status) { answered.Notify(); });
  answered.WaitForNotificationWithTimeout(absl::Seconds(5));
  return channel;
}

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

void Enter(Bench& b, ServerUnderTest& s) {
  std::swap(b.refx_target, s.target);
  std::swap(b.server_pid, s.pid);
  std::lock_guard<std::mutex> lock(b.names_mu);
  std::swap(b.names, s.names);
  s.stored = b.stored.exchange(s.stored);
  b.row_prefix = s.row_prefix;
}

void Leave(Bench& b, ServerUnderTest& s) {
  Enter(b, s);  // swapping back
  b.row_prefix.clear();
}

Row Measure(Bench& b, const std::string& unprefixed, const std::string& bounded_by, int in_flight,
            std::optional<pid_t> cpu_pid, const std::function<LoadResult(const LoadOptions&)>& run) {
  const std::string workload = b.row_prefix + unprefixed;
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

refx::bench::StartCall CreateCalls(Bench& b, std::vector<std::unique_ptr<refx::v1::ReferralService::Stub>>& stubs,
                                   OnCreated on_created) {
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

refx::bench::StartCall GetCalls(std::vector<std::unique_ptr<refx::v1::ReferralService::Stub>>& stubs,
                                const std::string& acting_user, NextName next_name, OnGot on_got) {
  return [&stubs, acting_user, next_name, on_got](int slot, refx::bench::CallDone done) {
    const std::string* name = next_name(slot);
    if (name == nullptr) {
      done(true, "");
      return;
    }
    auto* call = new Call<refx::v1::GetReferralRequest, refx::v1::Referral>;
    call->context.set_deadline(DeadlineIn(kCallTimeout));
    call->context.AddMetadata(refx::client::kActingUserMetadataKey, acting_user);
    call->request.set_name(*name);
    stubs[static_cast<size_t>(slot) % stubs.size()]->async()->GetReferral(
        &call->context, &call->request, &call->response, [call, done, on_got](grpc::Status status) {
          if (on_got) on_got(status);
          delete call;  // before `done`: see CreateCalls
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

}  // namespace refx::bench
