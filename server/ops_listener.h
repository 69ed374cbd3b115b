// The operations listeners: what Kubernetes and Prometheus talk to, on
// ports apart from the API's (which demands an agency certificate that
// neither can present). They serve no referral data and no refx.v1 RPC:
//
//   HTTP/1.1 (ops.listen_address, cpp-httplib):
//     GET /livez    200 "ok" while the process answers;
//     GET /readyz   200 "ready", or 503 with why not (database, revocation
//                   list, audit log, shutting down);
//     GET /metrics  the Prometheus text exposition (server_metrics.h).
//   gRPC (ops.grpc_health_address): grpc.health.v1.Health only, for
//     Kubernetes' native gRPC probes: services "" and
//     "refx.v1.ReferralService" are SERVING exactly when /readyz is 200
//     (readiness probes); "liveness" is SERVING while the process answers
//     (liveness probes, like /livez).
//
// Everything else is 404 (HTTP) or UNIMPLEMENTED (gRPC).
#ifndef REFX_SERVER_OPS_LISTENER_H_
#define REFX_SERVER_OPS_LISTENER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/server.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace refx::server {

class OpsListener {
 public:
  struct Options {
    std::string http_address;         // host:port; empty: no HTTP listener
    std::string grpc_health_address;  // host:port; empty: no gRPC health listener
    // OK when the server is ready for calls; otherwise why not (the
    // message is the 503's body: it names a component, never data).
    std::function<absl::Status()> readiness;
    // The metrics exposition, rendered at each scrape.
    std::function<std::string()> metrics;
  };

  // Binds and starts serving; UNAVAILABLE naming the key if a port cannot
  // be bound.
  static absl::StatusOr<std::unique_ptr<OpsListener>> Start(Options options);
  ~OpsListener();

  int http_port() const { return http_port_; }                  // 0 when not served
  int grpc_health_port() const { return grpc_health_port_; }    // 0 when not served

  // The gRPC health answer (service "" and refx.v1.ReferralService).
  void SetServing(bool serving);
  // Stops both listeners (health first answers NOT_SERVING for good).
  void Shutdown();

 private:
  OpsListener() = default;

  Options options_;
  std::unique_ptr<httplib::Server> http_;
  std::thread http_thread_;
  int http_port_ = 0;
  std::unique_ptr<grpc::CallbackGenericService> nothing_else_;  // outlives grpc_
  std::unique_ptr<grpc::Server> grpc_;
  int grpc_health_port_ = 0;
  bool shut_down_ = false;
};

}  // namespace refx::server

#endif  // REFX_SERVER_OPS_LISTENER_H_
