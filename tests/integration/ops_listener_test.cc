// The operations listeners (server/ops_listener.h), over real sockets: they
// answer without a client certificate, serve health, readiness and metrics
// that `promtool check metrics` accepts, serve no refx.v1 RPC and no
// reflection, and readiness turns false (and says why) when the revocation
// list disappears or the database stops taking writes.
#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "auth/pki/revocation_list.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "refx/v1/audit_service.grpc.pb.h"
#include "refx/v1/referral_service.grpc.pb.h"
#include "tests/testing/raw_api.h"
#include "tests/testing/server_fixture.h"

namespace refx::testing {
namespace {

using ::testing::HasSubstr;

bool WaitUntil(const std::function<bool()>& condition, absl::Duration limit = absl::Seconds(10)) {
  const absl::Time end = absl::Now() + limit;
  while (absl::Now() < end) {
    if (condition()) return true;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return condition();
}


std::string HealthRequest(const std::string& service) {
  return std::string("\x0a", 1) + static_cast<char>(service.size()) + service;
}
const std::string kServing("\x08\x01", 2);
const std::string kNotServing("\x08\x02", 2);

class OpsListenerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = TestServer::Start({[](config::v1::ServerConfig* c) {
      c->mutable_ops()->set_listen_address("127.0.0.1:0");
      c->mutable_ops()->set_grpc_health_address("127.0.0.1:0");
      c->mutable_tls()->set_revocation_list_file("pki/revocations.txt");
    }});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    ASSERT_GT(server_->server()->ops_http_port(), 0);
    ASSERT_GT(server_->server()->ops_grpc_health_port(), 0);
    ASSERT_TRUE(PublishList().ok());
    ASSERT_TRUE(WaitUntil([&] { return Get("/readyz").status == 200; })) << Get("/readyz").body;
  }

  absl::Status PublishList() {
    pki::RevocationList list;
    list.sequence = 1;
    list.generated = absl::Now();
    list.next_update = list.generated + absl::Hours(24 * 30);
    const pki::DevPki& m = server_->pki().material();
    auto text = pki::SignRevocationList(list, m.agency_ca, m.agency_ca_key);
    if (!text.ok()) return text.status();
    return pki::WriteFileAtomically(server_->config().tls().revocation_list_file(), *text, 0644);
  }

  struct Answer {
    int status = 0;
    std::string body;
  };
  Answer Get(const std::string& path) {
    httplib::Client http("127.0.0.1", server_->server()->ops_http_port());
    http.set_read_timeout(std::chrono::seconds(10));
    auto result = http.Get(path.c_str());
    if (!result) return {};
    return {result->status, result->body};
  }

  // A plaintext channel to the gRPC health port: no certificate at all.
  std::shared_ptr<grpc::Channel> HealthChannel() {
    return grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->server()->ops_grpc_health_port()),
                               grpc::InsecureChannelCredentials());
  }

  std::string HealthOf(const std::string& service) {
    std::string response;
    grpc::Status s = RawUnaryCall(HealthChannel(), "/grpc.health.v1.Health/Check", HealthRequest(service), &response);
    return s.ok() ? response : absl::StrCat("error ", s.error_code());
  }

  std::unique_ptr<TestServer> server_;
};

TEST_F(OpsListenerTest, ServesProbesWithoutAClientCertificate) {
  EXPECT_EQ(Get("/livez").status, 200);
  const Answer ready = Get("/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.body, "ready\n");
  EXPECT_TRUE(WaitUntil([&] { return HealthOf("") == kServing; }));
  EXPECT_EQ(HealthOf("refx.v1.ReferralService"), kServing);
  EXPECT_EQ(HealthOf("liveness"), kServing);
  std::string response;
  EXPECT_EQ(RawUnaryCall(HealthChannel(), "/grpc.health.v1.Health/Check", HealthRequest("no.such.Service"), &response)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(OpsListenerTest, MetricsAreValidPrometheusTextAndCountWhatHappened) {
  auto created = server_->Client(kPolice).CreateReferral(ValidReferral(), "ops-metrics-1");
  ASSERT_TRUE(created.ok()) << created.status();
  // A certificate the registry does not know: refused at the handshake.
  EXPECT_FALSE(server_->ClientWith(server_->pki().Agency(kUnregistered)).WhoAmI().ok());
  // Listed three times: rendered twice (kept the second time its key
  // missed), then served from the render cache.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(server_->Client(kPolice).ListReferrals({}).ok());

  const Answer metrics = Get("/metrics");
  ASSERT_EQ(metrics.status, 200);
  const std::string& text = metrics.body;
  EXPECT_THAT(text, HasSubstr("refx_rpc_requests_total{agency=\"leicestershire-police\",code=\"OK\","
                              "method=\"CreateReferral\"} 1"));
  EXPECT_THAT(text, HasSubstr("refx_rpc_duration_seconds_bucket{code=\"OK\",method=\"CreateReferral\",le=\"10\"} 1"));
  EXPECT_THAT(text, HasSubstr("refx_tls_handshakes_refused_total{reason="));
  EXPECT_THAT(text, HasSubstr("refx_store_commit_batch_writes_count"));
  EXPECT_THAT(text, HasSubstr("refx_audit_events_total"));
  EXPECT_THAT(text, HasSubstr("refx_certificate_expiry_seconds{agency=\"\",certificate=\"server\"}"));
  EXPECT_THAT(text, HasSubstr("refx_certificate_expiry_seconds{agency=\"leicestershire-police\",certificate=\"agency\"}"));
  EXPECT_THAT(text, HasSubstr("refx_revocation_list_next_update_seconds"));
  EXPECT_THAT(text, HasSubstr("refx_revocation_list_age_seconds"));
  EXPECT_THAT(text, HasSubstr("refx_ready 1"));
  EXPECT_THAT(text, HasSubstr("refx_list_render_cache_lookups_total{result=\"hit\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("refx_list_render_cache_lookups_total{result=\"miss\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("refx_list_render_cache_entries 1\n"));
  // No referral id, no personal data: nothing of the referral is a label.
  EXPECT_THAT(text, ::testing::Not(HasSubstr(created->name().substr(std::string("referrals/").size()))));
  EXPECT_THAT(text, ::testing::Not(HasSubstr(ValidReferral().victim().family_name())));

  // promtool (Debian's prometheus package) is the judge of the format.
  const std::string path = server_->directory() + "/metrics.txt";
  std::ofstream(path) << text;
  const std::string command = absl::StrCat("promtool check metrics < ", path, " 2>&1");
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[512];
  while (fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
  const int rc = pclose(pipe);
  EXPECT_EQ(rc, 0) << "promtool check metrics said:\n" << output;
}

TEST_F(OpsListenerTest, ServesNoRefxRpcAndNoReflection) {
  // Every method of every refx.v1 service, on the gRPC ops port: UNIMPLEMENTED.
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  for (const char* name : {"refx.v1.ReferralService", "refx.v1.AuditService", "refx.v1.ReportingService"}) {
    const google::protobuf::ServiceDescriptor* service = pool->FindServiceByName(name);
    ASSERT_NE(service, nullptr) << name;
    ASSERT_GE(service->method_count(), 1) << name;
    for (int i = 0; i < service->method_count(); ++i) {
      const std::string method = absl::StrCat("/", service->full_name(), "/", service->method(i)->name());
      EXPECT_EQ(RawUnaryCall(HealthChannel(), method, "").error_code(), grpc::StatusCode::UNIMPLEMENTED) << method;
      // And over HTTP/1.1 on the other port: not found.
      httplib::Client http("127.0.0.1", server_->server()->ops_http_port());
      auto posted = http.Post(method.c_str(), "", "application/grpc");
      ASSERT_TRUE(posted) << method;
      EXPECT_EQ(posted->status, 404) << method;
    }
  }
  EXPECT_EQ(RawUnaryCall(HealthChannel(), "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                    std::string("\x3a\x00", 2))
                .error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(Get("/").status, 404);
  EXPECT_EQ(Get("/v1/referrals").status, 404);
}

TEST_F(OpsListenerTest, ReadinessTurnsFalseWhileTheRevocationListIsMissing) {
  const std::string list = server_->config().tls().revocation_list_file();
  ASSERT_EQ(std::remove(list.c_str()), 0);
  ASSERT_TRUE(WaitUntil([&] { return Get("/readyz").status == 503; }));
  EXPECT_THAT(Get("/readyz").body, HasSubstr("revocation list"));
  EXPECT_TRUE(WaitUntil([&] { return HealthOf("") == kNotServing; }));
  EXPECT_EQ(HealthOf("refx.v1.ReferralService"), kNotServing);
  EXPECT_EQ(HealthOf("liveness"), kServing);  // not a reason to restart the pod
  EXPECT_EQ(Get("/livez").status, 200);
  EXPECT_THAT(Get("/metrics").body, HasSubstr("refx_ready 0"));
  // Published again: ready again, by itself.
  ASSERT_TRUE(PublishList().ok());
  EXPECT_TRUE(WaitUntil([&] { return Get("/readyz").status == 200; }));
  EXPECT_TRUE(WaitUntil([&] { return HealthOf("") == kServing; }));
}

TEST_F(OpsListenerTest, ReadinessTurnsFalseWhileTheDatabaseTakesNoWrites) {
  // Every file write of this process beyond its first byte fails (EFBIG):
  // the database's WAL can no longer grow, as on a full disk. Reads work.
  struct rlimit saved;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit tiny = saved;
  tiny.rlim_cur = 1;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &tiny), 0);
  auto refused = server_->Client(kPolice).CreateReferral(ValidReferral(), "ops-disk-full-1");
  const Answer while_full = Get("/readyz");
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &saved), 0);

  EXPECT_FALSE(refused.ok()) << "a create was acknowledged while the database could not write";
  EXPECT_EQ(while_full.status, 503);
  EXPECT_THAT(while_full.body, HasSubstr("audit log"));
  // Writes work again: the next commit makes the server ready at once.
  auto created = server_->Client(kPolice).CreateReferral(ValidReferral(), "ops-disk-full-2");
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(Get("/readyz").status, 200);
}

TEST(OpsListenerOverdueTest, OverdueReferralsAreCountedPerRecipientAgency) {
  FakeClock clock(absl::Now());
  auto server = TestServer::Start({[](config::v1::ServerConfig* c) { c->mutable_ops()->set_listen_address("127.0.0.1:0"); },
                                   &clock});
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE((*server)->Client(kPolice).CreateReferral(ValidReferral(kCityCouncil), "ops-overdue-1").ok());
  ASSERT_TRUE((*server)->Client(kPolice).CreateReferral(ValidReferral(kBlaby), "ops-overdue-2").ok());
  clock.Advance(absl::Hours(24 * 30));  // every response period of the agreement has run out
  httplib::Client http("127.0.0.1", (*server)->server()->ops_http_port());
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, HasSubstr("refx_overdue_referrals{recipient_agency=\"leicester-city-council\"} 1"));
  EXPECT_THAT(metrics->body, HasSubstr("refx_overdue_referrals{recipient_agency=\"blaby-district-council\"} 1"));
  EXPECT_THAT(metrics->body, ::testing::Not(HasSubstr("recipient_agency=\"leicestershire-police\"")));
}

TEST(OpsListenerConfigTest, AnOpsAddressEqualToTheApiAddressIsRefused) {
  auto server = TestServer::Start({[](config::v1::ServerConfig* c) {
    c->set_listen_address("127.0.0.1:47811");
    c->mutable_ops()->set_listen_address("127.0.0.1:47811");
  }});
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(std::string(server.status().message()), HasSubstr("ops.listen_address"));
}

TEST(OpsListenerConfigTest, OffByDefault) {
  auto server = TestServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ((*server)->server()->ops_http_port(), 0);
  EXPECT_EQ((*server)->server()->ops_grpc_health_port(), 0);
}

}  // namespace
}  // namespace refx::testing
