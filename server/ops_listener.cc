#include "server/ops_listener.h"

#include <chrono>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "httplib.h"
#include "server/without_reflection.h"

namespace refx::server {
namespace {

constexpr char kServiceName[] = "refx.v1.ReferralService";
// SERVING while the process answers, whatever its readiness: a liveness
// probe on "" would restart every pod while the database is down, which
// helps nothing and loses the calls in flight.
constexpr char kLivenessService[] = "liveness";

// "host:port" (IPv6 as "[::1]:port") split for a socket bind.
absl::Status SplitAddress(const std::string& key, const std::string& address, std::string* host, int* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), port) || *port < 0 ||
      *port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(key, ": \"", address, "\" is not host:port"));
  }
  *host = address.substr(0, colon);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') *host = host->substr(1, host->size() - 2);
  if (host->empty()) *host = "0.0.0.0";
  return absl::OkStatus();
}

// Answers every method the health service does not serve with
// UNIMPLEMENTED. gRPC also needs it: a server must have a callback method
// or a polled completion queue, and the default health service alone is
// registered too late to count.
class NothingElse final : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext*) override {
    class Refuse final : public grpc::ServerGenericBidiReactor {
     public:
      Refuse() { Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "the operations port serves only health")); }
      void OnDone() override { delete this; }
    };
    return new Refuse();
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<OpsListener>> OpsListener::Start(Options options) {
  auto ops = std::unique_ptr<OpsListener>(new OpsListener());
  ops->options_ = std::move(options);
  const Options& o = ops->options_;

  if (!o.grpc_health_address.empty()) {
    // Its own gRPC server, so that nothing registered on the API's server
    // (refx.v1, reflection) can be reached from here: only the default
    // health service, which every ServerBuilder of this process adds.
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    builder.SetOption(std::make_unique<WithoutReflection>());
    builder.AddListeningPort(o.grpc_health_address, grpc::InsecureServerCredentials(), &ops->grpc_health_port_);
    builder.SetMaxReceiveMessageSize(4096);
    ops->nothing_else_ = std::make_unique<NothingElse>();
    builder.RegisterCallbackGenericService(ops->nothing_else_.get());
    ops->grpc_ = builder.BuildAndStart();
    if (ops->grpc_ == nullptr || ops->grpc_health_port_ == 0) {
      return absl::UnavailableError(
          absl::StrCat("ops.grpc_health_address: cannot listen on ", o.grpc_health_address));
    }
    ops->SetServing(false);  // until the server's first health check says otherwise
    ops->grpc_->GetHealthCheckService()->SetServingStatus(kLivenessService, true);
  }

  if (!o.http_address.empty()) {
    std::string host;
    int port = 0;
    if (absl::Status s = SplitAddress("ops.listen_address", o.http_address, &host, &port); !s.ok()) return s;
    auto http = std::make_unique<httplib::Server>();
    // Probes and scrapes send tiny requests; nothing here reads a body.
    http->set_payload_max_length(4096);
    http->set_read_timeout(std::chrono::seconds(5));
    http->set_write_timeout(std::chrono::seconds(5));
    http->new_task_queue = [] { return new httplib::ThreadPool(2); };
    http->Get("/livez", [](const httplib::Request&, httplib::Response& response) {
      response.set_content("ok\n", "text/plain; charset=utf-8");
    });
    http->Get("/readyz", [readiness = o.readiness](const httplib::Request&, httplib::Response& response) {
      const absl::Status ready = readiness();
      response.status = ready.ok() ? 200 : 503;
      response.set_content(ready.ok() ? std::string("ready\n") : absl::StrCat("not ready: ", ready.message(), "\n"),
                           "text/plain; charset=utf-8");
    });
    http->Get("/metrics", [metrics = o.metrics](const httplib::Request&, httplib::Response& response) {
      response.set_content(metrics(), "text/plain; version=0.0.4; charset=utf-8");
    });
    const bool bound = port == 0 ? (port = http->bind_to_any_port(host)) > 0 : http->bind_to_port(host, port);
    if (!bound) {
      return absl::UnavailableError(absl::StrCat("ops.listen_address: cannot listen on ", o.http_address));
    }
    ops->http_port_ = port;
    httplib::Server* server = http.get();
    ops->http_ = std::move(http);
    ops->http_thread_ = std::thread([server] { server->listen_after_bind(); });
    // stop() before the accept loop runs would be lost: wait until it does.
    for (int i = 0; i < 500 && !server->is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  log::Info("ops_listening", {{"http_port", ops->http_port_},
                              {"grpc_health_port", ops->grpc_health_port_}});
  return ops;
}

void OpsListener::SetServing(bool serving) {
  if (grpc_ == nullptr || shut_down_) return;
  // Named one by one: the overload without a name would set "liveness" too.
  auto* health = grpc_->GetHealthCheckService();
  health->SetServingStatus("", serving);
  health->SetServingStatus(kServiceName, serving);
}

void OpsListener::Shutdown() {
  if (shut_down_) return;
  if (grpc_ != nullptr) {
    SetServing(false);
    grpc_->GetHealthCheckService()->Shutdown();
    grpc_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
    grpc_->Wait();
  }
  shut_down_ = true;
  if (http_ != nullptr) {
    http_->stop();
    if (http_thread_.joinable()) http_thread_.join();
  }
}

OpsListener::~OpsListener() { Shutdown(); }

}  // namespace refx::server
