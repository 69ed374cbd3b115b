// Log hygiene of the real refx-server binary: referral content never
// reaches its output. Every free-text field of the referrals sent holds a
// canary; valid and invalid requests are made; then the server's whole
// stdout and stderr must hold no canary, while showing that logging was on
// (rpc events); and the database files hold none either (encryption at
// rest), while a restarted server reads every canary back.
#include <signal.h>

#include <filesystem>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/process/process_helpers.h"
#include "tests/testing/server_fixture.h"

namespace refx::testing {
namespace {

using ::testing::HasSubstr;

// Matched case-insensitively; each field gets its own suffix so a leak
// names the field it came from.
constexpr char kCanary[] = "CANARY-91c2";

std::string Canary(const std::string& field) { return absl::StrCat(kCanary, "-", field); }

// A valid referral with a canary in every free-text field.
v1::Referral CanaryReferral() {
  v1::Referral r = ValidReferral(kCityCouncil);
  r.clear_strands();
  auto* group = r.add_strands();
  group->set_strand("other_group");
  group->set_basis(v1::Strand::PERCEIVED);
  group->set_other_group(Canary("other-group"));
  auto* religion = r.add_strands();
  religion->set_strand("religion_or_belief");
  religion->set_basis(v1::Strand::ACTUAL);
  religion->set_targeted_religion(Canary("religion"));
  r.set_online(true);
  r.set_online_platform(Canary("platform"));
  r.set_incident_narrative(absl::StrCat("He said ", Canary("narrative"), " twice.\nThen left."));
  r.mutable_location()->set_description(Canary("location"));
  r.mutable_location()->set_postcode(Canary("lpc"));
  v1::Victim* v = r.mutable_victim();
  v->set_given_name(Canary("given"));
  v->set_family_name(Canary("family"));
  v->set_phone(Canary("phone"));
  v->set_email(absl::StrCat(Canary("email"), "@example.org"));
  v->mutable_address()->add_lines(Canary("line1"));
  v->mutable_address()->add_lines(Canary("line2"));
  v->mutable_address()->set_town(Canary("town"));
  v->mutable_address()->set_postcode(Canary("vpc"));
  v->mutable_safe_contact()->set_notes(Canary("safe-contact"));
  v->set_vulnerability_notes(Canary("vulnerability"));
  v1::Subject* s = r.add_subjects();
  s->set_name(Canary("subject-name"));
  s->set_birth_date_or_age(Canary("subject-age"));
  s->set_address(Canary("subject-address"));
  s->set_description(Canary("subject-description"));
  s->set_relationship_to_victim(Canary("subject-relationship"));
  r.set_police_crime_reference(Canary("crime-ref"));
  return r;
}

// Lines of `text` holding the canary, for failure messages.
std::string LinesWithCanary(const std::string& text) {
  std::string out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (CountCaseInsensitive(std::string(line), kCanary) > 0) absl::StrAppend(&out, "  ", line, "\n");
  }
  return out;
}

class LogCanaryTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    auto source = TestServer::Start();
    ASSERT_TRUE(source.ok()) << source.status();
    source_ = *std::move(source);
    source_->Stop();
    scratch_ = MakeTempDir("canary");
  }

  void TearDown() override {
    if (source_ == nullptr) return;
    server_.reset();
    if (!HasFailure()) {
      std::filesystem::remove_all(scratch_);
      std::filesystem::remove_all(source_->directory());
    }
  }

  std::unique_ptr<TestServer> source_;
  std::string scratch_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_P(LogCanaryTest, NoReferralContentReachesTheServerLog) {
  const std::string format = GetParam();
  ServerProcess::Options options;
  options.config_path = source_->config_path();
  options.log_dir = scratch_;
  options.pki_directory = source_->pki().directory();
  // The most verbose level: nothing may leak even there.
  options.extra_args = {"--log-level", "debug", "--log-format", format};
  auto started = ServerProcess::Start(std::move(options));
  ASSERT_TRUE(started.ok()) << started.status();
  server_ = *std::move(started);

  auto police = server_->Client(kPolice);
  auto council = server_->Client(kCityCouncil);
  int calls = 0;

  // Valid creates, read back by both parties.
  std::vector<std::string> names;
  for (int i = 0; i < 3; ++i) {
    auto created = police.CreateReferral(CanaryReferral(), absl::StrCat("canary-", i));
    ++calls;
    ASSERT_TRUE(created.ok()) << created.status();
    EXPECT_THAT(created->incident_narrative(), HasSubstr(Canary("narrative")));
    names.push_back(created->name());
  }
  for (const std::string& name : names) {
    for (auto* client : {&police, &council}) {
      auto got = client->GetReferral(name);
      ++calls;
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(got->victim().given_name(), Canary("given"));
    }
  }
  for (auto* client : {&police, &council}) {
    auto page = client->ListReferrals(v1::ListReferralsRequest());
    ++calls;
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_EQ(page->referrals_size(), 3);
  }

  // A lifecycle change and a case update (each stored with its replay
  // response and event-log copies), then a retry of each and of a create,
  // answered from what was stored.
  {
    auto got = council.GetReferral(names[0]);
    ++calls;
    ASSERT_TRUE(got.ok()) << got.status();
    v1::AcceptReferralRequest accept;
    accept.set_name(names[0]);
    accept.set_etag(got->etag());
    accept.set_request_id("canary-accept");
    auto accepted = council.AcceptReferral(accept);
    ++calls;
    ASSERT_TRUE(accepted.ok()) << accepted.status();
    auto again = council.AcceptReferral(accept);
    ++calls;
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(again->victim().given_name(), Canary("given"));
    v1::AddCaseUpdateRequest update;
    update.set_parent(names[0]);
    update.set_etag(accepted->etag());
    update.set_request_id("canary-update");
    update.mutable_update()->set_kind(v1::CaseUpdate::CONTACT_ATTEMPT);
    update.mutable_update()->set_text(Canary("case-update"));
    auto added = council.AddCaseUpdate(update);
    ++calls;
    ASSERT_TRUE(added.ok()) << added.status();
    auto replayed = council.AddCaseUpdate(update);
    ++calls;
    ASSERT_TRUE(replayed.ok()) << replayed.status();
    EXPECT_EQ(replayed->text(), Canary("case-update"));
    auto recreated = police.CreateReferral(CanaryReferral(), "canary-0");
    ++calls;
    ASSERT_TRUE(recreated.ok()) << recreated.status();
    EXPECT_EQ(recreated->name(), names[0]);
  }

  // Invalid requests, each carrying canaries (and one marker that must not
  // even be stored, since nothing invalid is).
  auto rejected = [] {
    v1::Referral r = CanaryReferral();
    r.set_incident_narrative(Canary("rejected-narrative"));
    return r;
  };
  std::vector<std::pair<std::string, v1::Referral>> invalid;
  {
    v1::Referral r = rejected();
    r.set_area(Canary("area"));
    invalid.push_back({"bad-area", r});
  }
  {
    v1::Referral r = rejected();
    r.mutable_strands(0)->set_strand(Canary("strand"));
    invalid.push_back({"bad-strand", r});
  }
  {
    v1::Referral r = rejected();
    r.clear_recipient_agencies();
    r.add_recipient_agencies("agencies/canary-91c2-agency");
    r.add_recipient_agencies(absl::StrCat("agencies/", Canary("not an id")));
    invalid.push_back({"bad-recipients", r});
  }
  {
    v1::Referral r = rejected();
    r.mutable_victim()->set_birth_date(Canary("dob"));
    r.set_online(false);  // platform without online
    invalid.push_back({"bad-dob", r});
  }
  {
    v1::Referral r = rejected();
    std::string long_text;
    while (long_text.size() <= 40 * 1024) absl::StrAppend(&long_text, Canary("long"), " ");
    r.set_incident_narrative(long_text);
    r.mutable_victim()->set_phone(long_text.substr(0, 100));
    invalid.push_back({"too-long", r});
  }
  // A reused request id with different content.
  invalid.push_back({"canary-0", rejected()});
  for (const auto& [request_id, referral] : invalid) {
    auto r = police.CreateReferral(referral, request_id);
    ++calls;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << request_id << ": " << r.status();
  }
  v1::ListReferralsRequest bad_filter;
  bad_filter.mutable_filter()->add_areas(Canary("filter-area"));
  bad_filter.mutable_filter()->add_strands(Canary("filter-strand"));
  EXPECT_EQ(police.ListReferrals(bad_filter).status().code(), absl::StatusCode::kInvalidArgument);
  ++calls;
  // A party that may not create at all.
  auto suspended = client::ReferralClient::Connect(
      AgencyConnection(source_->pki(), kSuspended, server_->address()));
  ASSERT_TRUE(suspended.ok());
  EXPECT_FALSE(suspended->CreateReferral(CanaryReferral(), "canary-suspended").ok());

  auto code = server_->Terminate(absl::Seconds(10));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);

  const std::string out = server_->Stdout();
  const std::string err = server_->Stderr();
  EXPECT_EQ(CountCaseInsensitive(err, kCanary), 0) << "canary in stderr:\n" << LinesWithCanary(err);
  EXPECT_EQ(CountCaseInsensitive(out, kCanary), 0) << "canary in stdout:\n" << LinesWithCanary(out);

  // Logging was on: one rpc event per call, failures included.
  const bool json = format == "json";
  const std::string rpc_event = json ? "\"event\":\"rpc\"" : "event=rpc";
  int rpc_events = 0;
  for (size_t at = err.find(rpc_event); at != std::string::npos; at = err.find(rpc_event, at + 1)) ++rpc_events;
  EXPECT_GE(rpc_events, calls) << err;
  EXPECT_THAT(err, HasSubstr(json ? "\"method\":\"CreateReferral\"" : "method=CreateReferral"));
  EXPECT_THAT(err, HasSubstr(json ? "\"method\":\"GetReferral\"" : "method=GetReferral"));
  EXPECT_THAT(err, HasSubstr(json ? "\"method\":\"ListReferrals\"" : "method=ListReferrals"));
  EXPECT_THAT(err, HasSubstr(json ? "\"code\":\"INVALID_ARGUMENT\"" : "code=INVALID_ARGUMENT"));

  // Encryption at rest: the database, its WAL and its shared memory hold
  // none of it (every stored copy of a document is sealed)...
  const std::string db_path = source_->config().storage().sqlite_path();
  const std::string db =
      ReadFileOrEmpty(db_path) + ReadFileOrEmpty(db_path + "-wal") + ReadFileOrEmpty(db_path + "-shm");
  ASSERT_FALSE(db.empty());
  EXPECT_EQ(CountCaseInsensitive(db, kCanary), 0) << "a canary is stored in plaintext in " << db_path;
  // ...yet the canaries were real data, stored durably: a new server on the
  // same files (and key) reads every field back.
  ServerProcess::Options again;
  again.config_path = source_->config_path();
  again.log_dir = scratch_;
  again.pki_directory = source_->pki().directory();
  auto restarted = ServerProcess::Start(std::move(again));
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  server_ = *std::move(restarted);
  auto got = server_->Client(kPolice).GetReferral(names[0]);  // the sender sees every class
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->victim().given_name(), Canary("given"));
  EXPECT_THAT(got->incident_narrative(), HasSubstr(Canary("narrative")));
  ASSERT_GE(got->subjects_size(), 1);
  EXPECT_EQ(got->subjects(0).name(), Canary("subject-name"));
  v1::ListCaseUpdatesRequest list_updates;
  list_updates.set_parent(names[0]);
  auto updates = server_->Client(kCityCouncil).ListCaseUpdates(list_updates);
  ASSERT_TRUE(updates.ok()) << updates.status();
  ASSERT_GE(updates->updates_size(), 1);
  EXPECT_EQ(updates->updates(updates->updates_size() - 1).text(), Canary("case-update"));
}

INSTANTIATE_TEST_SUITE_P(Formats, LogCanaryTest, ::testing::Values("text", "json"),
                         [](const auto& info) { return std::string(info.param); });

// In JSON mode every line the server writes is one JSON object, including
// gRPC's own lines about refused handshakes (no certificate, a foreign CA),
// which reach the log as "grpc_log" events instead of free text.
TEST(JsonLogTest, EveryLineIsOneJsonObjectThroughRefusedHandshakes) {
  auto source = TestServer::Start();
  ASSERT_TRUE(source.ok()) << source.status();
  (*source)->Stop();
  const std::string scratch = MakeTempDir("json-log");
  ServerProcess::Options options;
  options.config_path = (*source)->config_path();
  options.log_dir = scratch;
  options.pki_directory = (*source)->pki().directory();
  options.extra_args = {"--log-format", "json", "--log-level", "debug"};
  auto server = ServerProcess::Start(std::move(options));
  ASSERT_TRUE(server.ok()) << server.status();

  auto refused_with = [&](const TestPki::ClientCert& cert) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = (*source)->pki().root_ca_pem();
    ssl.pem_cert_chain = cert.cert_chain_pem;
    ssl.pem_private_key = cert.key_pem;
    auto channel = grpc::CreateChannel((*server)->address(), grpc::SslCredentials(ssl));
    return !channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(3));
  };
  EXPECT_TRUE(refused_with({}));  // no client certificate
  auto foreign = (*source)->pki().Issue(kPolice, Variant::kForeignCa);
  ASSERT_TRUE(foreign.ok()) << foreign.status();
  EXPECT_TRUE(refused_with(*foreign));
  auto expired = (*source)->pki().Issue(kPolice, Variant::kExpired);
  ASSERT_TRUE(expired.ok()) << expired.status();
  EXPECT_TRUE(refused_with(*expired));
  ASSERT_TRUE((*server)->Client(kPolice).CreateReferral(ValidReferral(), "json-log-1").ok());
  auto code = (*server)->Terminate(absl::Seconds(10));
  ASSERT_TRUE(code.ok()) << code.status();

  const std::string err = (*server)->Stderr();
  int lines = 0;
  bool grpc_lines = false;
  std::set<std::string> refusal_reasons;
  int rpc_events = 0;
  for (absl::string_view line : absl::StrSplit(err, '\n', absl::SkipEmpty())) {
    ++lines;
    google::protobuf::Struct parsed;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(std::string(line), &parsed).ok())
        << "not one JSON object: " << line;
    EXPECT_TRUE(parsed.fields().contains("event")) << line;
    EXPECT_TRUE(parsed.fields().contains("ts")) << line;
    if (!parsed.fields().contains("event")) continue;
    const std::string event = parsed.fields().at("event").string_value();
    const auto& f = parsed.fields();
    if (event == "grpc_log") {
      grpc_lines = true;
      EXPECT_TRUE(f.contains("line") && f.at("line").has_number_value()) << line;
    }
    if (event == "tls_handshake_refused") {
      refusal_reasons.insert(f.at("reason").string_value());
      EXPECT_TRUE(f.contains("verify_code") && f.at("verify_code").has_number_value()) << line;
    }
    if (event == "serving") {
      EXPECT_TRUE(f.at("port").has_number_value()) << line;
    }
    if (event == "rpc") {
      ++rpc_events;
      // Numbers are numbers, and every call line names its call.
      EXPECT_TRUE(f.contains("latency_ms") && f.at("latency_ms").has_number_value()) << line;
      EXPECT_TRUE(f.contains("call_id") && f.at("call_id").string_value().size() == 16) << line;
    }
  }
  EXPECT_GT(lines, 5);
  EXPECT_GE(rpc_events, 1);
  EXPECT_TRUE(grpc_lines) << "gRPC logged nothing about the refused handshakes:\n" << err;
  // Each refused handshake is a refx event with its reason.
  EXPECT_TRUE(refusal_reasons.count("NO_CLIENT_CERTIFICATE")) << err;
  // gRPC 1.51 logs only OpenSSL's "certificate verify failed" for an
  // expired certificate (no X.509 code unless tls.crl_directory is set).
  EXPECT_TRUE(refusal_reasons.count("CERTIFICATE_INVALID")) << err;
  EXPECT_EQ((*server)->Stdout(), "");
  std::filesystem::remove_all(scratch);
}

}  // namespace
}  // namespace refx::testing
