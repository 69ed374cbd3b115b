// The server's operational surface: health reflects readiness, reflection is
// off unless the development switch is set, both sit behind mTLS like
// everything else, and server certificates rotate without a restart.
#include <fstream>

#include "absl/synchronization/notification.h"
#include "google/protobuf/unknown_field_set.h"
#include "gtest/gtest.h"
#include "grpcpp/generic/generic_stub.h"
#include "tests/testing/raw_api.h"
#include "tests/testing/server_fixture.h"

namespace refx::testing {
namespace {


// grpc.health.v1.HealthCheckRequest{service} and the SERVING response.
std::string HealthRequest(const std::string& service) {
  return std::string("\x0a", 1) + static_cast<char>(service.size()) + service;
}
const std::string kServing("\x08\x01", 2);
constexpr char kHealthCheck[] = "/grpc.health.v1.Health/Check";
constexpr char kReflection[] = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";
// ServerReflectionRequest{list_services: ""}.
const std::string kListServices("\x3a\x00", 2);

TEST(ServerSurfaceTest, HealthIsServingForTheServerAndTheService) {
  auto server = TestServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel = (*server)->Channel((*server)->pki().Agency(kPolice));
  for (const std::string service : {"", "refx.v1.ReferralService"}) {
    std::string response;
    grpc::Status s = RawUnaryCall(channel, kHealthCheck, HealthRequest(service), &response);
    ASSERT_TRUE(s.ok()) << service << ": " << s.error_message();
    EXPECT_EQ(response, kServing) << service;
  }
  std::string response;
  EXPECT_EQ(RawUnaryCall(channel, kHealthCheck, HealthRequest("no.such.Service"), &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST(ServerSurfaceTest, HealthNeedsAClientCertificateToo) {
  auto server = TestServer::Start();
  ASSERT_TRUE(server.ok());
  std::string response;
  grpc::Status s = RawUnaryCall((*server)->Channel({}), kHealthCheck, HealthRequest(""), &response);
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(response.empty());
}

TEST(ServerSurfaceTest, ReflectionIsOffByDefault) {
  auto server = TestServer::Start();
  ASSERT_TRUE(server.ok());
  std::string response;
  grpc::Status s = RawUnaryCall((*server)->Channel((*server)->pki().Agency(kPolice)), kReflection, kListServices, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNIMPLEMENTED) << s.error_message();
}

TEST(ServerSurfaceTest, ReflectionListsTheServiceWhenEnabled) {
  TestServer::Options options;
  options.customize = [](config::v1::ServerConfig* c) { c->mutable_development()->set_enable_reflection(true); };
  auto server = TestServer::Start(options);
  ASSERT_TRUE(server.ok());
  std::string response;
  grpc::Status s = RawUnaryCall((*server)->Channel((*server)->pki().Agency(kPolice)), kReflection, kListServices, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_NE(response.find("refx.v1.ReferralService"), std::string::npos);
}

// Every service the server exposes can be described, health included
// (gRPC serves health from code reflection cannot see; proto/grpc/health).
TEST(ServerSurfaceTest, ReflectionDescribesEveryServiceItLists) {
  TestServer::Options options;
  options.customize = [](config::v1::ServerConfig* c) { c->mutable_development()->set_enable_reflection(true); };
  auto server = TestServer::Start(options);
  ASSERT_TRUE(server.ok());
  auto channel = (*server)->Channel((*server)->pki().Agency(kPolice));
  std::string listed;
  ASSERT_TRUE(RawUnaryCall(channel, kReflection, kListServices, &listed).ok());
  for (const std::string service : {"grpc.health.v1.Health", "refx.v1.ReferralService", "refx.v1.AuditService", "refx.v1.ReportingService",
                                    "grpc.reflection.v1alpha.ServerReflection"}) {
    EXPECT_NE(listed.find(service), std::string::npos) << service << " is not listed";
    // ServerReflectionRequest{file_containing_symbol: service}: answered with
    // file_descriptor_response (field 4, tag 0x22), not error_response (field 7).
    const std::string request = std::string("\x22", 1) + static_cast<char>(service.size()) + service;
    std::string response;
    grpc::Status s = RawUnaryCall(channel, kReflection, request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    google::protobuf::UnknownFieldSet fields;
    ASSERT_TRUE(fields.ParseFromString(response)) << service;
    bool descriptor = false, error = false;
    for (int i = 0; i < fields.field_count(); ++i) {
      descriptor |= fields.field(i).number() == 4;
      error |= fields.field(i).number() == 7;
    }
    EXPECT_TRUE(descriptor) << service << " has no descriptor";
    EXPECT_FALSE(error) << service;
  }
}

TEST(ServerSurfaceTest, ServerCertificateRotatesWithoutARestart) {
  auto server = TestServer::Start();
  ASSERT_TRUE(server.ok());
  auto before = (*server)->Client(kPolice).WhoAmI();
  ASSERT_TRUE(before.ok());

  // Issue a new server certificate from the same root and swap both files
  // (rename is atomic), as an operator would.
  const auto& pki = (*server)->pki().material();
  auto key = pki::PrivateKey::Generate();
  ASSERT_TRUE(key.ok());
  pki::CertificateProfile profile;
  profile.common_name = "rotated.localhost";
  profile.dns_sans = {"localhost"};
  profile.ip_sans = {"127.0.0.1"};
  profile.extended_key_usages = {pki::ExtendedKeyUsage::kServerAuth};
  profile.not_before = absl::Now() - absl::Minutes(5);
  profile.not_after = absl::Now() + absl::Hours(24);
  auto cert = pki::IssueCertificate(profile, key->get(), &pki.root_ca, pki.root_key);
  ASSERT_TRUE(cert.ok()) << cert.status();
  const auto& tls = (*server)->config().tls();
  ASSERT_TRUE(pki::WriteFileAtomically(tls.server_key_file(), *key->ToPem(), 0600).ok());
  ASSERT_TRUE(pki::WriteFileAtomically(tls.server_cert_file(), cert->ToPem(), 0644).ok());

  // A new connection sees the new certificate within a few refresh intervals.
  const std::string expected = pki::InspectCertificate(*cert)->serial_hex;
  bool rotated = false;
  for (int attempt = 0; attempt < 50 && !rotated; ++attempt) {
    absl::SleepFor(absl::Milliseconds(200));
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = (*server)->pki().root_ca_pem();
    auto agency = (*server)->pki().Agency(kPolice);
    ssl.pem_cert_chain = agency.cert_chain_pem;
    ssl.pem_private_key = agency.key_pem;
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto channel = grpc::CreateCustomChannel((*server)->address(), grpc::SslCredentials(ssl), args);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::WhoAmIResponse response;
    auto stub = v1::ReferralService::NewStub(channel);
    if (!stub->WhoAmI(&ctx, v1::WhoAmIRequest(), &response).ok()) continue;
    auto peer = ctx.auth_context()->FindPropertyValues("x509_pem_cert");
    if (peer.size() == 1) {
      auto info = pki::InspectCertificatePem(std::string(peer[0].data(), peer[0].size()));
      rotated = info.ok() && info->serial_hex == expected;
    }
  }
  EXPECT_TRUE(rotated) << "the server kept presenting the old certificate";
}

}  // namespace
}  // namespace refx::testing
