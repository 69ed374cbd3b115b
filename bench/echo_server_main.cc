// refx-bench-echo: the ceiling refx-bench measures refx-server against.
//
// A bare gRPC C++ unary echo service on the callback API, with exactly the
// transport refx-server uses: TlsServerCredentials over a
// FileWatcherCertificateProvider, client certificates required and verified
// against the agency issuing CA, and the same keepalive, connection-age and
// message-size limits (server/server.cc). What it leaves out is refx's own
// work: no agency verifier in the handshake, no caller identity, no request
// validation, no worker pool, no storage and no logging per call. The
// difference between its figures and refx-server's is what refx costs.
//
// It runs as its own process so that its CPU time can be read from
// /proc/PID/stat separately from the load generator's. It prints
// "refx-bench-echo: serving on port N" on stderr once it listens, then serves
// until SIGINT or SIGTERM.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "bench/v1/echo.grpc.pb.h"
#include "common/process_setup.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"

namespace {

// Echo on the callback API: answered inline on the gRPC thread, as a bare
// service would be.
class EchoService final : public bench::v1::Echo::CallbackService {
 public:
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context,
                                 const bench::v1::EchoMessage* request,
                                 bench::v1::EchoMessage* response) override {
    response->set_payload(request->payload());
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

// The refx-server defaults of config/v1 LimitsConfig
// (docs/configuration.md), so both servers run with the same settings.
constexpr int kMaxReceiveMessageBytes = 1048576;
constexpr int kMaxSendMessageBytes = 4194304;
constexpr int kKeepaliveTimeSeconds = 60;
constexpr int kKeepaliveTimeoutSeconds = 20;
constexpr int kMaxConnectionAgeSeconds = 3600;
constexpr int kMaxConnectionAgeGraceSeconds = 30;

}  // namespace

int main(int argc, char** argv) {
  refx::DisableMutexDeadlockDetection();
  CLI::App app{"refx-bench-echo: a bare mutual-TLS gRPC echo server, the ceiling for refx-bench"};
  std::string listen = "127.0.0.1:0", cert_file, key_file, client_ca_file;
  int refresh_seconds = 10;
  app.add_option("--listen", listen, "Listen address host:port (loopback; port 0 picks one)")
      ->capture_default_str();
  app.add_option("--cert-file", cert_file, "Server certificate chain (PEM)")->required();
  app.add_option("--key-file", key_file, "Server private key (PEM)")->required();
  app.add_option("--client-ca-file", client_ca_file, "CA(s) that issue client certificates (PEM)")
      ->required();
  app.add_option("--refresh-interval-seconds", refresh_seconds, "How often the TLS files are re-read")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  // Only sigwait below receives the stop signals (mask inherited by every
  // gRPC thread).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      key_file, cert_file, client_ca_file, refresh_seconds);
  grpc::experimental::TlsServerCredentialsOptions tls(provider);
  tls.watch_root_certs();
  tls.watch_identity_key_cert_pairs();
  tls.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  tls.set_check_call_host(false);

  EchoService service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::experimental::TlsServerCredentials(tls), &port);
  builder.RegisterService(&service);
  builder.SetMaxReceiveMessageSize(kMaxReceiveMessageBytes);
  builder.SetMaxSendMessageSize(kMaxSendMessageBytes);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveTimeSeconds * 1000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveTimeoutSeconds * 1000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, kMaxConnectionAgeSeconds * 1000);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS, kMaxConnectionAgeGraceSeconds * 1000);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "refx-bench-echo: cannot listen on %s\n", listen.c_str());
    return 1;
  }
  std::fprintf(stderr, "refx-bench-echo: serving on port %d\n", port);
  int received = 0;
  sigwait(&stop_signals, &received);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  server->Wait();
  return 0;
}
