// refx-bench-agency: one well-behaved agency's client system, as a process
// of its own, for refx-bench --overload (bench/overload.h).
//
// In a partnership the agency that keeps to its quota is another agency's
// system on another machine. Inside refx-bench its calls would share gRPC's
// client pollers and callback threads with the flooders' thousands of
// answers a second, and its latency would measure refx-bench's queue rather
// than the server's. So refx-bench runs it as this process: it creates the
// referral of --referral-file at --rate per second for --seconds, each call
// started on schedule on one of --threads blocking threads, whatever the
// others do, and prints one line per call on stdout:
//
//   ok <latency ns> <referral name>
//   error <latency ns> <gRPC code number> <ErrorInfo reason, or ->
//
// Exit status: 0 when every call was made (whatever their answers), 1 when
// it could not connect or read its files, 2 on bad flags.
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "clients/lib/connection_options.h"
#include "clients/lib/referral_client.h"
#include "common/process_setup.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "refx/v1/referral_service.grpc.pb.h"

namespace {

std::string ReasonOf(const grpc::Status& status) {
  google::rpc::Status details;
  if (details.ParseFromString(status.error_details())) {
    for (const auto& any : details.details()) {
      google::rpc::ErrorInfo info;
      if (any.UnpackTo(&info) && !info.reason().empty()) return info.reason();
    }
  }
  return "-";
}

}  // namespace

int main(int argc, char** argv) {
  refx::DisableMutexDeadlockDetection();
  CLI::App app{"refx-bench-agency: one well-behaved agency's creates, as its own process (refx-bench --overload)"};
  refx::client::ConnectionOptions connection;
  std::string referral_file, request_prefix = "agency";
  double rate = 10, seconds = 30;
  int threads = 4;
  app.add_option("--server", connection.server, "host:port of refx-server")->required();
  app.add_option("--ca-file", connection.ca_file, "PEM roots of the server's certificate")->required();
  app.add_option("--cert-file", connection.cert_file, "this agency's PEM certificate chain")->required();
  app.add_option("--key-file", connection.key_file, "its private key")->required();
  app.add_option("--server-name-override", connection.server_name_override, "host name to check instead");
  app.add_option("--acting-user", connection.acting_user, "x-refx-acting-user of every call")->required();
  app.add_option("--referral-file", referral_file, "the refx.v1.Referral to create, binary protobuf")->required();
  app.add_option("--request-prefix", request_prefix, "request ids are PREFIX-N");
  app.add_option("--rate", rate, "creates started per second")->check(CLI::PositiveNumber);
  app.add_option("--seconds", seconds, "for this long")->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "blocking threads the calls are spread over")->check(CLI::Range(1, 64));
  CLI11_PARSE(app, argc, argv);

  refx::v1::Referral referral;
  {
    std::ifstream in(referral_file, std::ios::binary);
    if (!in || !referral.ParseFromIstream(&in)) {
      std::cerr << "refx-bench-agency: cannot read a Referral from " << referral_file << "\n";
      return 1;
    }
  }
  auto made = refx::client::MakeChannel(connection);
  if (!made.ok()) {
    std::cerr << "refx-bench-agency: " << made.status().message() << "\n";
    return 1;
  }
  std::shared_ptr<grpc::Channel> channel = *std::move(made);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    std::cerr << "refx-bench-agency: cannot connect to " << connection.server << " over mTLS\n";
    return 1;
  }
  auto stub = refx::v1::ReferralService::NewStub(channel);

  std::mutex out_mu;
  const absl::Time start = absl::Now();
  const absl::Duration duration = absl::Seconds(seconds);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int64_t n = t;; n += threads) {
        const absl::Time due = start + absl::Seconds(static_cast<double>(n) / rate);
        if (due - start >= duration) return;
        if (absl::Now() < due) absl::SleepFor(due - absl::Now());
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        context.AddMetadata("x-refx-acting-user", connection.acting_user);
        refx::v1::CreateReferralRequest request;
        *request.mutable_referral() = referral;
        request.set_request_id(absl::StrCat(request_prefix, "-", n));
        refx::v1::Referral created;
        const int64_t started = absl::GetCurrentTimeNanos();
        const grpc::Status status = stub->CreateReferral(&context, request, &created);
        const int64_t latency = absl::GetCurrentTimeNanos() - started;
        const std::string line = status.ok()
                                     ? absl::StrCat("ok ", latency, " ", created.name(), "\n")
                                     : absl::StrCat("error ", latency, " ", static_cast<int>(status.error_code()), " ",
                                                    ReasonOf(status), "\n");
        std::lock_guard<std::mutex> lock(out_mu);
        std::cout << line;
      }
    });
  }
  for (auto& w : workers) w.join();
  std::cout.flush();
  return std::cout ? 0 : 1;
}
