// Unit tests of the pure parts of refx_client: option precedence, status
// conversion and the wording of connection diagnoses. Calls against a real
// server are covered by the end-to-end suite in tests/.
#include "clients/lib/referral_client.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/cord.h"
#include "clients/lib/connection_options.h"
#include "clients/lib/handshake_diagnosis.h"
#include "common/status_details.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"

namespace refx::client {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "refx_client_XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string Write(const std::string& name, const std::string& text) {
    std::filesystem::create_directories((std::filesystem::path(path_) / name).parent_path());
    std::string p = (std::filesystem::path(path_) / name).string();
    std::ofstream(p) << text;
    return p;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

constexpr char kProfiles[] = R"(
default_profile: test
profiles:
  test:
    server: test.example:443
    ca_file: pki/ca.pem
    cert_file: pki/agency.pem
    key_file: /abs/agency.key
    acting_user: alice@example.org
    timeout: 30s
  live:
    server: live.example:443
    ca_file: live/ca.pem
    cert_file: live/agency.pem
    key_file: live/agency.key
)";

TEST(ResolveConnectionOptions, ProfileFromHomeWithRelativePathsResolved) {
  TempDir home;
  home.Write(".config/refx/config.yaml", kProfiles);
  auto options = ResolveConnectionOptions({}, {}, home.path());
  ASSERT_TRUE(options.ok()) << options.status();
  const std::string dir = home.path() + "/.config/refx/";
  EXPECT_EQ(options->server, "test.example:443");
  EXPECT_EQ(options->ca_file, dir + "pki/ca.pem");
  EXPECT_EQ(options->cert_file, dir + "pki/agency.pem");
  EXPECT_EQ(options->key_file, "/abs/agency.key");
  EXPECT_EQ(options->acting_user, "alice@example.org");
  EXPECT_EQ(options->timeout, absl::Seconds(30));
  EXPECT_THAT(options->origin.at("ca_file"), HasSubstr("profile \"test\""));
}

TEST(ResolveConnectionOptions, FlagsBeatEnvironmentBeatProfile) {
  TempDir home;
  std::string config = home.Write("elsewhere.yaml", kProfiles);
  ConnectionFlags flags;
  flags.config = config;
  flags.cert_file = "flag.pem";
  flags.timeout = "5s";
  std::map<std::string, std::string> env = {{"REFX_CERT_FILE", "env.pem"},
                                            {"REFX_KEY_FILE", "env.key"},
                                            {"REFX_TIMEOUT", "7s"},
                                            {"REFX_PROFILE", "live"}};
  auto options = ResolveConnectionOptions(flags, env, "");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->server, "live.example:443");
  EXPECT_EQ(options->cert_file, "flag.pem");
  EXPECT_EQ(options->key_file, "env.key");
  EXPECT_EQ(options->ca_file, home.path() + "/live/ca.pem");
  EXPECT_EQ(options->timeout, absl::Seconds(5));
  EXPECT_EQ(options->origin.at("cert_file"), "--cert-file");
  EXPECT_EQ(options->origin.at("key_file"), "REFX_KEY_FILE");
}

TEST(ResolveConnectionOptions, ProfileFlagBeatsEnvironmentProfile) {
  TempDir home;
  std::string config = home.Write("c.yaml", kProfiles);
  ConnectionFlags flags;
  flags.profile = "test";
  auto options = ResolveConnectionOptions(
      flags, {{"REFX_CONFIG", config}, {"REFX_PROFILE", "live"}}, "");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->server, "test.example:443");
}

TEST(ResolveConnectionOptions, EnvironmentAloneIsEnoughAndDefaultsApply) {
  auto options = ResolveConnectionOptions(
      {}, {{"REFX_CA_FILE", "ca"}, {"REFX_CERT_FILE", "c"}, {"REFX_KEY_FILE", "k"}}, "");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->server, "localhost:50051");
  EXPECT_EQ(options->timeout, absl::Seconds(10));
  EXPECT_EQ(options->acting_user, "");
}

TEST(ResolveConnectionOptions, MissingFilesNameEveryPlaceLooked) {
  TempDir home;
  auto options = ResolveConnectionOptions({}, {{"REFX_CA_FILE", "ca"}}, home.path());
  ASSERT_EQ(options.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(options.status().message());
  EXPECT_THAT(message, HasSubstr("cert_file, key_file"));
  EXPECT_THAT(message, HasSubstr("--cert-file, --key-file"));
  EXPECT_THAT(message, HasSubstr("REFX_CERT_FILE, REFX_KEY_FILE"));
  EXPECT_THAT(message, HasSubstr("no profile file at " + home.path() +
                                 "/.config/refx/config.yaml"));
  EXPECT_THAT(message, Not(HasSubstr("--ca-file")));
}

TEST(ResolveConnectionOptions, UnknownProfileListsTheOthers) {
  TempDir home;
  home.Write(".config/refx/config.yaml", kProfiles);
  ConnectionFlags flags;
  flags.profile = "staging";
  auto options = ResolveConnectionOptions(flags, {}, home.path());
  ASSERT_EQ(options.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(options.status().message(), HasSubstr("profiles there: live, test"));
}

TEST(ResolveConnectionOptions, ExplicitConfigMustExist) {
  ConnectionFlags flags;
  flags.config = "/nonexistent/refx.yaml";
  auto options = ResolveConnectionOptions(flags, {}, "");
  ASSERT_EQ(options.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(options.status().message(), HasSubstr("/nonexistent/refx.yaml (from --config)"));
}

TEST(ResolveConnectionOptions, UnknownKeyInProfileFileIsNamed) {
  TempDir home;
  std::string config = home.Write("c.yaml", "profiles:\n  a:\n    cert_fil: x\n");
  auto options = ResolveConnectionOptions({}, {{"REFX_CONFIG", config}}, "");
  ASSERT_EQ(options.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(options.status().message(), HasSubstr("cert_fil"));
}

TEST(ResolveConnectionOptions, RejectsBadTimeoutAndNonAsciiActingUser) {
  std::map<std::string, std::string> env = {
      {"REFX_CA_FILE", "ca"}, {"REFX_CERT_FILE", "c"}, {"REFX_KEY_FILE", "k"}};
  ConnectionFlags flags;
  flags.timeout = "soon";
  EXPECT_EQ(ResolveConnectionOptions(flags, env, "").status().code(),
            absl::StatusCode::kInvalidArgument);
  flags.timeout = "-3s";
  EXPECT_EQ(ResolveConnectionOptions(flags, env, "").status().code(),
            absl::StatusCode::kInvalidArgument);
  flags.timeout.reset();
  flags.acting_user = "J\xc3\xb6rg";
  EXPECT_EQ(ResolveConnectionOptions(flags, env, "").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ParseTimeout, AcceptsDurationsAndBareSeconds) {
  EXPECT_EQ(*ParseTimeout("20", "t"), absl::Seconds(20));
  EXPECT_EQ(*ParseTimeout("1m30s", "t"), absl::Seconds(90));
  EXPECT_EQ(*ParseTimeout("500ms", "t"), absl::Milliseconds(500));
  EXPECT_FALSE(ParseTimeout("0", "t").ok());
}

TEST(MakeChannelCredentials, UnreadableFileNamesFileAndOrigin) {
  ConnectionOptions options;
  options.ca_file = "/nonexistent/ca.pem";
  options.cert_file = "c";
  options.key_file = "k";
  options.origin["ca_file"] = "REFX_CA_FILE";
  auto creds = MakeChannelCredentials(options);
  ASSERT_EQ(creds.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(creds.status().message(), HasSubstr("/nonexistent/ca.pem"));
  EXPECT_THAT(creds.status().message(), HasSubstr("ca_file, from REFX_CA_FILE"));
}

TEST(MakeChannelCredentials, SwappedCertAndKeyIsInvalidArgument) {
  TempDir dir;
  ConnectionOptions options;
  options.ca_file = dir.Write("ca.pem", "-----BEGIN CERTIFICATE-----\n");
  options.cert_file = dir.Write("key.pem", "-----BEGIN PRIVATE KEY-----\n");
  options.key_file = options.cert_file;
  auto creds = MakeChannelCredentials(options);
  ASSERT_EQ(creds.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(creds.status().message(), HasSubstr("key.pem (cert_file)"));
}

TEST(FromGrpcStatus, KeepsFieldViolationsAndErrorInfo) {
  absl::Status server_side = WithErrorInfo(
      InvalidArgumentError("bad referral", {{"referral.area", "unknown area id"}}),
      "REFERRAL_INVALID");
  google::rpc::Status rpc = ToRpcStatus(server_side);
  grpc::Status wire(grpc::StatusCode::INVALID_ARGUMENT, "bad referral",
                    rpc.SerializeAsString());
  absl::Status status = FromGrpcStatus(wire);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "bad referral");
  ASSERT_EQ(FieldViolationsOf(status).size(), 1u);
  EXPECT_EQ(FieldViolationsOf(status)[0].field, "referral.area");
  EXPECT_EQ(ErrorReasonOf(status), "REFERRAL_INVALID");
}

TEST(FromGrpcStatus, PlainStatusAndMismatchedDetails) {
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
  absl::Status plain = FromGrpcStatus(grpc::Status(grpc::StatusCode::NOT_FOUND, "gone"));
  EXPECT_EQ(plain.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(plain.message(), "gone");

  google::rpc::Status rpc = ToRpcStatus(absl::InternalError("other"));
  absl::Status mismatched = FromGrpcStatus(
      grpc::Status(grpc::StatusCode::NOT_FOUND, "gone", rpc.SerializeAsString()));
  EXPECT_EQ(mismatched.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(mismatched.message(), "gone");
}

DiagnosisContext Context() {
  DiagnosisContext c;
  c.server = "refx.example:443";
  c.ca_file = "/etc/refx/ca.pem";
  c.cert_file = "/etc/refx/agency.pem";
  pki::CertificateInfo info;
  info.serial_hex = "0A1B2C";
  info.uri_sans = {"spiffe://llr.example/agency/charnwood"};
  info.not_before = absl::FromUnixSeconds(1700000000);
  info.not_after = absl::FromUnixSeconds(1800000000);
  c.certificate = info;
  c.now = absl::FromUnixSeconds(1750000000);
  return c;
}

std::string Diagnose(const absl::Status& status, const DiagnosisContext& c = Context()) {
  return DiagnoseConnectionFailure(status, c).value_or("<none>");
}

TEST(DiagnoseConnectionFailure, NotAConnectionFailure) {
  EXPECT_EQ(Diagnose(absl::NotFoundError("referral not found")), "<none>");
  EXPECT_EQ(Diagnose(absl::OkStatus()), "<none>");
}

TEST(DiagnoseConnectionFailure, ConnectionRefused) {
  EXPECT_THAT(Diagnose(absl::UnavailableError(
                  "failed to connect to all addresses; last error: UNKNOWN: "
                  "ipv4:127.0.0.1:443: Failed to connect to remote host: Connection refused")),
              HasSubstr("not reachable at refx.example:443"));
}

TEST(DiagnoseConnectionFailure, ExpiredAndNotYetValidCertificate) {
  DiagnosisContext c = Context();
  c.now = absl::FromUnixSeconds(1900000000);
  EXPECT_EQ(Diagnose(absl::UnavailableError("Socket closed"), c),
            "your certificate /etc/refx/agency.pem (serial 0A1B2C) expired at "
            "2027-01-15T08:00:00Z; ask the partnership administrator for a renewed "
            "certificate");
  c.now = absl::FromUnixSeconds(1600000000);
  EXPECT_THAT(Diagnose(absl::UnavailableError("Socket closed"), c),
              HasSubstr("is not valid until 2023-11-14T22:13:20Z"));
}

TEST(DiagnoseConnectionFailure, ServerCertificateNotTrusted) {
  EXPECT_THAT(Diagnose(absl::UnavailableError(
                  "Ssl handshake failed: error:0A000086:SSL routines::certificate verify "
                  "failed")),
              HasSubstr("not trusted by CA file /etc/refx/ca.pem"));
}

TEST(DiagnoseConnectionFailure, UnknownCaAndRevoked) {
  EXPECT_THAT(Diagnose(absl::UnavailableError("tlsv1 alert unknown ca")),
              HasSubstr("not issued by the partnership's agency CA"));
  EXPECT_THAT(Diagnose(absl::UnavailableError("sslv3 alert certificate revoked")),
              HasSubstr("serial 0A1B2C, SAN spiffe://llr.example/agency/charnwood) has been "
                        "revoked"));
}

TEST(DiagnoseConnectionFailure, SocketClosedNamesCertificateAndNextSteps) {
  std::string text = Diagnose(absl::UnavailableError("Socket closed"));
  EXPECT_THAT(text, HasSubstr("refused the TLS handshake for certificate "
                              "/etc/refx/agency.pem (serial 0A1B2C, SAN "
                              "spiffe://llr.example/agency/charnwood)"));
  EXPECT_THAT(text, HasSubstr("refx whoami"));

  DiagnosisContext unreadable = Context();
  unreadable.certificate.reset();
  EXPECT_THAT(Diagnose(absl::UnavailableError("Socket closed"), unreadable),
              HasSubstr("for certificate /etc/refx/agency.pem: likely causes"));
}

// A client built from a ReferralService stub alone (as unit tests build
// one) has no stub for the other services: their calls and streams fail
// with FAILED_PRECONDITION before anything is sent.
TEST(ReferralClient, AStubOnlyClientRefusesOtherServicesCallsAndStreams) {
  auto channel = grpc::CreateChannel("localhost:1", grpc::InsecureChannelCredentials());
  ReferralClient client(
      std::shared_ptr<refx::v1::ReferralService::StubInterface>(refx::v1::ReferralService::NewStub(channel)),
      ConnectionOptions{});
  EXPECT_EQ(client.CountReferrals(refx::v1::CountReferralsRequest()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  int messages = 0;
  const absl::Status watched = client.WatchTensionAlerts(
      refx::v1::WatchTensionAlertsRequest(),
      [&](const refx::v1::WatchTensionAlertsResponse&) { return ++messages > 0; }, nullptr);
  EXPECT_EQ(watched.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(watched.message()), HasSubstr("no stub"));
  EXPECT_EQ(messages, 0);
}

TEST(ExplainConnectionFailure, KeepsCodeAndOriginalText) {
  ConnectionOptions options;
  options.server = "refx.example:443";
  options.cert_file = "/nonexistent/agency.pem";
  absl::Status explained =
      ExplainConnectionFailure(absl::UnavailableError("Socket closed"), options);
  EXPECT_EQ(explained.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(explained.message(), HasSubstr("refused the TLS handshake"));
  EXPECT_THAT(explained.message(), HasSubstr("[grpc: Socket closed]"));

  absl::Status other = absl::PermissionDeniedError("no");
  EXPECT_EQ(ExplainConnectionFailure(other, options), other);
}

}  // namespace
}  // namespace refx::client
