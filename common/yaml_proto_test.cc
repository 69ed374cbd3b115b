#include "common/yaml_proto.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "refx/config/v1/client_config.pb.h"
#include "refx/config/v1/server_config.pb.h"
#include "refx/v1/referral.pb.h"

namespace refx {
namespace {

using ::testing::HasSubstr;

TEST(YamlProtoTest, ParsesNestedTypedValues) {
  config::v1::ServerConfig config;
  ASSERT_TRUE(ParseYamlToProto(R"(
listen_address: 127.0.0.1:0
storage:
  sqlite_path: /tmp/x.db
  maxBatchSize: 12
development:
  enable_reflection: true
)",
                               "test.yaml", &config)
                  .ok());
  EXPECT_EQ(config.listen_address(), "127.0.0.1:0");
  EXPECT_EQ(config.storage().sqlite_path(), "/tmp/x.db");
  EXPECT_EQ(config.storage().max_batch_size(), 12);
  EXPECT_TRUE(config.development().enable_reflection());
}

TEST(YamlProtoTest, UnknownKeyIsNamedWithItsPath) {
  config::v1::ServerConfig config;
  absl::Status s = ParseYamlToProto("storage:\n  sqlite_pth: x\n", "server.yaml", &config);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("server.yaml"));
  EXPECT_THAT(s.message(), HasSubstr("storage.sqlite_pth: unknown key"));
}

// Found by fuzzing (fuzz/regressions/): a key that is a list or a mapping
// made yaml-cpp throw, which ended the process.
TEST(YamlProtoTest, KeysThatAreNotPlainNamesAreRefusedNotThrown) {
  config::v1::ServerConfig config;
  absl::Status s = ParseYamlToProto("? [a, b]\n: 1\n", "server.yaml", &config);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("a key must be a plain name"));
  config::v1::ClientConfig profiles;
  s = ParseYamlToProto("profiles:\n  ? {x: y}\n  : {server: a}\n", "config.yaml", &profiles);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("profiles: a key must be a plain name"));
}

TEST(YamlProtoTest, WrongTypesAreRefused) {
  config::v1::ServerConfig config;
  EXPECT_THAT(ParseYamlToProto("development:\n  enable_reflection: maybe\n", "f", &config).message(),
              HasSubstr("development.enable_reflection: expected true or false"));
  EXPECT_FALSE(ParseYamlToProto("limits:\n  worker_threads: lots\n", "f", &config).ok());
  EXPECT_THAT(ParseYamlToProto("storage: [1, 2]\n", "f", &config).message(),
              HasSubstr("storage: expected a mapping"));
}

TEST(YamlProtoTest, ParsesReferralWithEnumsListsAndTimestamps) {
  v1::Referral r;
  ASSERT_TRUE(ParseYamlToProto(R"(
report_type: HATE_CRIME
strands:
  - {strand: race, basis: PERCEIVED}
occur_time: "2026-11-01T10:00:00Z"
recipient_agencies: [agencies/leicester-city-council]
victim: {given_name: Sam, consent: {status: GIVEN}}
)",
                               "r.yaml", &r)
                  .ok());
  EXPECT_EQ(r.report_type(), v1::HATE_CRIME);
  ASSERT_EQ(r.strands_size(), 1);
  EXPECT_EQ(r.strands(0).basis(), v1::Strand::PERCEIVED);
  EXPECT_EQ(r.occur_time().seconds(), 1793527200);
  EXPECT_EQ(r.victim().consent().status(), v1::Consent::GIVEN);
}

TEST(YamlProtoTest, JsonInputIsAccepted) {
  v1::Referral r;
  ASSERT_TRUE(ParseYamlToProto(R"({"reportType": "HATE_INCIDENT", "online": true})", "r.json", &r).ok());
  EXPECT_EQ(r.report_type(), v1::HATE_INCIDENT);
  EXPECT_TRUE(r.online());
}

TEST(YamlProtoTest, BadValuesAreNamedByPathWithoutEchoingThem) {
  v1::Referral r;
  absl::Status s = ParseYamlToProto("report_type: ARSON-CANARY\n", "r", &r);
  EXPECT_THAT(s.message(), HasSubstr("report_type: unknown value; expected one of"));
  s = ParseYamlToProto("occur_time: yesterday-CANARY\n", "r", &r);
  EXPECT_THAT(s.message(), HasSubstr("occur_time: expected an RFC 3339 time"));
  s = ParseYamlToProto("location: {latitude: north-CANARY}\n", "r", &r);
  EXPECT_THAT(s.message(), HasSubstr("location.latitude: expected a number"));
  config::v1::ServerConfig config;
  s = ParseYamlToProto("limits: {worker_threads: 99999999999999999999}\n", "f", &config);
  EXPECT_FALSE(s.ok());
  for (const char* text : {"report_type: ARSON-CANARY\n", "occur_time: yesterday-CANARY\n",
                           "location: {latitude: north-CANARY}\n", "victim: {given_name: [CANARY]}\n"}) {
    EXPECT_THAT(std::string(ParseYamlToProto(text, "r", &r).message()), ::testing::Not(HasSubstr("CANARY")));
  }
}

TEST(YamlProtoTest, BadYamlIsRefused) {
  v1::Referral r;
  EXPECT_THAT(ParseYamlToProto("a: [1,\n", "bad.yaml", &r).message(), HasSubstr("bad.yaml: not valid YAML"));
}

TEST(YamlProtoTest, MissingFileIsNotFoundAndNamed) {
  config::v1::ServerConfig config;
  absl::Status s = ReadYamlFileToProto("/nonexistent/refx.yaml", &config);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("/nonexistent/refx.yaml"));
}

}  // namespace
}  // namespace refx
