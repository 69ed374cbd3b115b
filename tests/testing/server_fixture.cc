#include "tests/testing/server_fixture.h"

#include <atomic>
#include <fstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "common/status_details.h"
#include "common/status_macros.h"
#include "common/yaml_proto.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "refx/config/v1/partnership.pb.h"
#include "server/server_config.h"
#include "tests/testing/postgres_fixture.h"

namespace refx::testing {
namespace {

absl::Status WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

std::string ToJson(const google::protobuf::Message& m) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &json, options);
  return json;
}

}  // namespace

v1::Referral ValidReferral(const std::string& recipient) {
  v1::Referral r;
  r.set_report_type(v1::HATE_CRIME);
  auto* strand = r.add_strands();
  strand->set_strand("race");
  strand->set_basis(v1::Strand::PERCEIVED);
  r.set_perceived_by(v1::PERCEIVED_BY_VICTIM);
  r.set_reporting_channel(v1::REPORTING_CHANNEL_POLICE);
  r.set_area("leicester");
  r.set_incident_narrative("Racist abuse shouted at the victim at a bus stop.");
  r.mutable_victim()->set_given_name("Sam");
  r.mutable_victim()->set_family_name("Example");
  r.mutable_victim()->mutable_consent()->set_status(v1::Consent::GIVEN);
  r.add_recipient_agencies(absl::StrCat("agencies/", recipient));
  return r;
}

std::map<std::string, std::string> StoredNarratives(client::ReferralClient reader) {
  std::map<std::string, std::string> stored;
  v1::ListReferralsRequest list;
  list.set_page_size(500);
  auto page = reader.ListReferrals(list);
  EXPECT_TRUE(page.ok()) << page.status();
  if (page.ok()) {
    for (const auto& r : page->referrals()) stored[r.name()] = r.incident_narrative();
  }
  return stored;
}

::testing::AssertionResult AcknowledgedReadBackWhole(const std::map<std::string, std::string>& acknowledged,
                                                     const std::map<std::string, std::string>& stored) {
  if (stored == acknowledged) return ::testing::AssertionSuccess();
  std::vector<std::string> lost, different, unacknowledged;
  for (const auto& [name, narrative] : acknowledged) {
    const auto it = stored.find(name);
    if (it == stored.end()) {
      lost.push_back(name);
    } else if (it->second != narrative) {
      different.push_back(name);
    }
  }
  for (const auto& [name, narrative] : stored) {
    if (!acknowledged.contains(name)) unacknowledged.push_back(name);
  }
  return ::testing::AssertionFailure() << "stored referrals differ from the acknowledged ones (" << acknowledged.size()
                                       << " acknowledged, " << stored.size() << " stored): lost ["
                                       << absl::StrJoin(lost, ", ") << "], read back different ["
                                       << absl::StrJoin(different, ", ") << "], stored but never acknowledged ["
                                       << absl::StrJoin(unacknowledged, ", ") << "]";
}

absl::StatusOr<std::unique_ptr<TestServer>> TestServer::Start(Options options) {
  auto ts = std::unique_ptr<TestServer>(new TestServer());
  ts->directory_ = MakeTempDir("server");
  ts->clock_ = options.clock;

  config::v1::Partnership partnership;
  REFX_RETURN_IF_ERROR(ReadYamlFileToProto(SourcePath("config/partnership.yaml"), &partnership));
  auto* suspended = partnership.add_agencies();
  suspended->set_id(kSuspended);
  suspended->set_display_name("Suspended test agency");
  suspended->set_type(config::v1::DISTRICT_COUNCIL);
  suspended->set_role("community_safety");
  suspended->set_suspended(true);
  REFX_RETURN_IF_ERROR(WriteFile(ts->directory_ + "/partnership.yaml", ToJson(partnership)));
  std::string agreement;
  REFX_RETURN_IF_ERROR(ReadFileToString(SourcePath("config/agreement.yaml"), &agreement));
  REFX_RETURN_IF_ERROR(WriteFile(ts->directory_ + "/agreement.yaml", agreement));

  std::vector<std::string> agency_ids;
  for (const auto& a : partnership.agencies()) agency_ids.push_back(a.id());
  agency_ids.push_back(kUnregistered);
  REFX_ASSIGN_OR_RETURN(ts->pki_, TestPki::Create(ts->directory_ + "/pki", partnership.trust_domain(), agency_ids));

  config::v1::ServerConfig& c = ts->config_;
  c.set_listen_address("127.0.0.1:0");
  c.mutable_tls()->set_refresh_interval_seconds(1);
  c.mutable_limits()->set_shutdown_grace_seconds(1);
  c.mutable_limits()->set_worker_threads(8);
  if (SuiteBackendIsPostgres()) {
    // The suite's second run: the same tests on a fresh PostgreSQL database
    // (key files still default to this directory).
    REFX_ASSIGN_OR_RETURN(*c.mutable_storage(), NewPostgresDatabase());
  }
  if (options.customize) options.customize(&c);
  server::ApplyDefaults(ts->directory_, &c);
  REFX_RETURN_IF_ERROR(WriteFile(ts->config_path(), ToJson(c)));
  REFX_RETURN_IF_ERROR(ts->StartServer());
  return ts;
}

absl::Status TestServer::StartServer() {
  server::RefxServer::Options options;
  options.config = config_;
  options.clock = clock_;
  REFX_ASSIGN_OR_RETURN(server_, server::RefxServer::Start(std::move(options)));
  return absl::OkStatus();
}

TestServer::~TestServer() { Stop(); }

void TestServer::Stop() {
  if (server_ != nullptr) {
    server_->Shutdown(absl::Seconds(1));
    server_.reset();
  }
}

absl::Status TestServer::Restart() {
  Stop();
  return StartServer();
}

absl::Status TestServer::Restart(const config::v1::ServerConfig& config) {
  Stop();
  config_ = config;
  return StartServer();
}

std::string TestServer::address() const { return absl::StrCat("localhost:", server_->port()); }

std::shared_ptr<grpc::Channel> TestServer::Channel(const TestPki::ClientCert& cert) const {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = pki_->root_ca_pem();
  ssl.pem_cert_chain = cert.cert_chain_pem;
  ssl.pem_private_key = cert.key_pem;
  grpc::ChannelArguments args;
  // Each test channel gets its own connection: never reuse another
  // client's TLS session or certificate.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  static std::atomic<int> counter{0};
  args.SetInt("refx.test_channel", counter++);
  return grpc::CreateCustomChannel(address(), grpc::SslCredentials(ssl), args);
}

client::ReferralClient TestServer::Client(const std::string& agency_id) const {
  return ClientWith(pki_->Agency(agency_id));
}

client::ReferralClient TestServer::ClientWith(const TestPki::ClientCert& cert) const {
  client::ConnectionOptions options;
  options.server = address();
  options.timeout = absl::Seconds(10);
  options.acting_user = "test-caseworker";
  return client::ReferralClient(Channel(cert), options);
}

bool HealthServing(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Slice slice(std::string("\x0a\x00", 2));  // HealthCheckRequest{service: ""}
  grpc::ByteBuffer in(&slice, 1), out;
  grpc::Status result;
  absl::Notification done;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &in, &out, [&](grpc::Status s) {
    result = std::move(s);
    done.Notify();
  });
  done.WaitForNotification();
  std::vector<grpc::Slice> slices;
  std::string response;
  if (result.ok() && out.Dump(&slices).ok()) {
    for (const auto& s : slices) response.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return result.ok() && response == std::string("\x08\x01", 2);  // status: SERVING
}

std::vector<std::string> ViolatedFieldsOf(const absl::Status& status) {
  std::vector<std::string> out;
  for (const FieldViolation& v : FieldViolationsOf(status)) out.push_back(v.field);
  return out;
}

absl::Time LondonTime(int year, int month, int day, int hour, int minute) {
  absl::TimeZone london;
  EXPECT_TRUE(absl::LoadTimeZone("Europe/London", &london));
  return absl::FromCivil(absl::CivilSecond(year, month, day, hour, minute, 0), london);
}

absl::Time FromProto(const google::protobuf::Timestamp& time) {
  return absl::FromUnixMicros(google::protobuf::util::TimeUtil::TimestampToMicroseconds(time));
}

}  // namespace refx::testing
