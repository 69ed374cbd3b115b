// refx-server's start-up as an operator meets it: a bad config, a missing
// file or a malformed partnership stops the binary with exit code 1 and a
// message naming the key and the file to fix; --check-config says OK for a
// good config without starting anything.
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/yaml_proto.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "refx/config/v1/partnership.pb.h"
#include "tests/process/process_helpers.h"
#include "tests/testing/server_fixture.h"

namespace refx::testing {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

std::string ToJson(const google::protobuf::Message& m) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(m, &json, options).ok());
  return json;
}

class ServerStartupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto source = TestServer::Start();
    ASSERT_TRUE(source.ok()) << source.status();
    source_ = *std::move(source);
    source_->Stop();
    dir_ = MakeTempDir("startup");
  }

  void TearDown() override {
    if (source_ == nullptr) return;
    if (!HasFailure()) {
      std::filesystem::remove_all(dir_);
      std::filesystem::remove_all(source_->directory());
    }
  }

  // A copy of the working config, changed by `edit`, written to dir_/NAME.
  std::string WriteConfig(const std::string& name,
                          const std::function<void(config::v1::ServerConfig*)>& edit) {
    config::v1::ServerConfig c = source_->config();
    // A database of its own, so the tests can see whether one was created.
    c.mutable_storage()->set_sqlite_path(dir_ + "/" + name + ".db");
    edit(&c);
    const std::string path = dir_ + "/" + name;
    EXPECT_TRUE(WriteStringToFile(path, ToJson(c)));
    return path;
  }

  // refx-server with `args`, always on a kernel-chosen loopback port in case
  // it unexpectedly starts (it is then killed at the timeout).
  CommandResult RunServer(std::vector<std::string> args, const std::string& cwd = "") {
    std::vector<std::string> argv = {kServerBinary};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--listen");
    argv.push_back("127.0.0.1:0");
    return RunCommand(argv, dir_, {}, absl::Seconds(10), cwd);
  }

  std::unique_ptr<TestServer> source_;
  std::string dir_;
};

TEST_F(ServerStartupTest, UnknownConfigKeyIsNamedWithItsFile) {
  const std::string path = dir_ + "/typo.yaml";
  ASSERT_TRUE(WriteStringToFile(path, "storage: {sqlite_pth: x}\n"));
  for (bool check_only : {false, true}) {
    std::vector<std::string> args = {"--config", path};
    if (check_only) args.push_back("--check-config");
    CommandResult r = RunServer(args);
    EXPECT_EQ(r.exit_code, 1) << r.Describe();
    EXPECT_THAT(r.err, HasSubstr("storage.sqlite_pth")) << r.Describe();
    EXPECT_THAT(r.err, HasSubstr("unknown key")) << r.Describe();
    EXPECT_THAT(r.err, HasSubstr(path)) << r.Describe();
    EXPECT_THAT(r.out, Not(HasSubstr("OK"))) << r.Describe();
  }
}

TEST_F(ServerStartupTest, MissingServerCertificateIsNamedWithItsPath) {
  const std::string missing = dir_ + "/no-such-dir/server.pem";
  const std::string path =
      WriteConfig("no-cert.yaml", [&](auto* c) { c->mutable_tls()->set_server_cert_file(missing); });
  for (bool check_only : {false, true}) {
    std::vector<std::string> args = {"--config", path};
    if (check_only) args.push_back("--check-config");
    CommandResult r = RunServer(args);
    EXPECT_EQ(r.exit_code, 1) << r.Describe();
    EXPECT_THAT(r.err, HasSubstr("tls.server_cert_file")) << r.Describe();
    EXPECT_THAT(r.err, HasSubstr(missing)) << r.Describe();
  }
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/no-cert.yaml.db"));
}

TEST_F(ServerStartupTest, CertificateFileWithoutPemIsNamed) {
  const std::string garbage = dir_ + "/garbage.pem";
  ASSERT_TRUE(WriteStringToFile(garbage, "this is not a certificate\n"));
  const std::string path =
      WriteConfig("bad-cert.yaml", [&](auto* c) { c->mutable_tls()->set_server_cert_file(garbage); });
  CommandResult r = RunServer({"--config", path});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("tls.server_cert_file")) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr(garbage)) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("no PEM certificate")) << r.Describe();
}

TEST_F(ServerStartupTest, MissingPartnershipFileIsNamedWithItsPath) {
  const std::string missing = dir_ + "/absent-partnership.yaml";
  const std::string path = WriteConfig("no-partnership.yaml", [&](auto* c) { c->set_partnership_file(missing); });
  for (bool check_only : {false, true}) {
    std::vector<std::string> args = {"--config", path};
    if (check_only) args.push_back("--check-config");
    CommandResult r = RunServer(args);
    EXPECT_EQ(r.exit_code, 1) << r.Describe();
    EXPECT_THAT(r.err, HasSubstr("partnership_file")) << r.Describe();
    EXPECT_THAT(r.err, HasSubstr(missing)) << r.Describe();
  }
}

TEST_F(ServerStartupTest, PartnershipFlagOverridesTheConfigFile) {
  const std::string missing = dir_ + "/flag-partnership.yaml";
  CommandResult r = RunServer({"--config", source_->config_path(), "--partnership-file", missing, "--check-config"});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr(missing)) << r.Describe();
}

TEST_F(ServerStartupTest, AgencyWithUnknownAreaNamesTheFileAndKey) {
  config::v1::Partnership partnership;
  ASSERT_TRUE(ReadYamlFileToProto(source_->config().partnership_file(), &partnership).ok());
  ASSERT_GT(partnership.agencies_size(), 2);
  partnership.mutable_agencies(2)->add_areas("atlantis");
  const std::string bad = dir_ + "/bad-partnership.yaml";
  ASSERT_TRUE(WriteStringToFile(bad, ToJson(partnership)));
  const std::string path = WriteConfig("bad-partnership-server.yaml", [&](auto* c) { c->set_partnership_file(bad); });
  for (bool check_only : {false, true}) {
    std::vector<std::string> args = {"--config", path};
    if (check_only) args.push_back("--check-config");
    CommandResult r = RunServer(args);
    EXPECT_EQ(r.exit_code, 1) << r.Describe();
    EXPECT_THAT(r.err, HasSubstr(bad)) << r.Describe();
    EXPECT_THAT(r.err, HasSubstr("agencies[2].areas")) << r.Describe();
    EXPECT_THAT(r.err, HasSubstr("atlantis")) << r.Describe();
  }
}

TEST_F(ServerStartupTest, PartnershipWithUnknownKeyNamesTheFileAndKey) {
  // The working registry with one mistyped key on the first agency.
  config::v1::Partnership partnership;
  ASSERT_TRUE(ReadYamlFileToProto(source_->config().partnership_file(), &partnership).ok());
  const std::string bad = dir_ + "/typo-partnership.yaml";
  std::string yaml = ToJson(partnership);
  const size_t at = yaml.find("\"display_name\"", yaml.find("\"agencies\""));
  ASSERT_NE(at, std::string::npos);
  yaml.replace(at, 14, "\"display_nmae\"");
  ASSERT_TRUE(WriteStringToFile(bad, yaml));
  const std::string path = WriteConfig("typo-partnership-server.yaml", [&](auto* c) { c->set_partnership_file(bad); });
  CommandResult r = RunServer({"--config", path, "--check-config"});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr(bad)) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("agencies[0].display_nmae")) << r.Describe();
}

TEST_F(ServerStartupTest, CheckConfigOnAGoodConfigSaysOkAndTouchesNothing) {
  const std::string path = WriteConfig("good.yaml", [](auto*) {});
  CommandResult r = RunServer({"--config", path, "--check-config"});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("configuration OK")) << r.Describe();
  EXPECT_FALSE(r.timed_out);
  // A check only reads: no database is created.
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/good.yaml.db"));
}

TEST_F(ServerStartupTest, RelativePathsResolveAgainstTheConfigFilesDirectory) {
  // The TestServer directory holds partnership.yaml and pki/; a config there
  // with relative paths works from any working directory.
  const std::string path = source_->directory() + "/relative.yaml";
  ASSERT_TRUE(WriteStringToFile(path,
                                "partnership_file: partnership.yaml\n"
                                "tls:\n"
                                "  server_cert_file: pki/server.pem\n"
                                "  server_key_file: pki/server.key\n"
                                "  client_ca_file: pki/agency-ca.pem\n"
                                "storage: {sqlite_path: relative.db}\n"));
  ASSERT_TRUE(std::filesystem::exists(source_->directory() + "/pki/server.pem"))
      << "TestServer's PKI layout changed";
  CommandResult r = RunServer({"--config", path, "--check-config"}, /*cwd=*/"/");
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("configuration OK")) << r.Describe();
}

TEST_F(ServerStartupTest, BadLoggingLevelIsNamed) {
  const std::string path = WriteConfig("level.yaml", [](auto* c) { c->mutable_logging()->set_level("chatty"); });
  CommandResult r = RunServer({"--config", path});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("logging.level")) << r.Describe();
}

TEST_F(ServerStartupTest, ALimitThatIsNotPositiveIsNamed) {
  const std::vector<std::pair<std::string, std::function<void(config::v1::ServerConfig*)>>> cases = {
      {"limits.list_render_cache_entries", [](auto* c) { c->mutable_limits()->set_list_render_cache_entries(-1); }},
      {"limits.busy_calls_in_flight", [](auto* c) { c->mutable_limits()->set_busy_calls_in_flight(-1); }},
      {"limits.max_read_mask_paths", [](auto* c) { c->mutable_limits()->set_max_read_mask_paths(-3); }},
  };
  for (const auto& [key, edit] : cases) {
    const std::string path = WriteConfig(key + ".yaml", edit);
    CommandResult r = RunServer({"--config", path, "--check-config"});
    EXPECT_EQ(r.exit_code, 1) << r.Describe();
    EXPECT_THAT(r.err, HasSubstr(key + ": must be positive")) << r.Describe();
    EXPECT_THAT(r.out, Not(HasSubstr("OK"))) << r.Describe();
  }
}

TEST_F(ServerStartupTest, UsageErrorsAreRefusedBeforeAnythingStarts) {
  CommandResult unknown_flag = RunServer({"--no-such-flag"});
  // Usage errors are exit code 2, as the --help footer documents.
  EXPECT_EQ(unknown_flag.exit_code, 2) << unknown_flag.Describe();
  EXPECT_THAT(unknown_flag.err, HasSubstr("--no-such-flag")) << unknown_flag.Describe();

  const std::string absent = dir_ + "/absent.yaml";
  CommandResult no_file = RunServer({"--config", absent});
  EXPECT_EQ(no_file.exit_code, 2) << no_file.Describe();
  EXPECT_THAT(no_file.err, HasSubstr(absent)) << no_file.Describe();
}

// The README's quick start, with the real tools: refx-admin makes a
// development PKI, refx-server serves with it, and refx connects through the
// profile file refx-admin wrote.
TEST_F(ServerStartupTest, QuickStartFromRefxAdminDevPki) {
  const std::string pki = dir_ + "/dev-pki";
  CommandResult made = RunCommand({kAdminBinary, "dev-pki", pki, "--partnership",
                                   SourcePath("config/partnership.yaml")},
                                  dir_);
  ASSERT_EQ(made.exit_code, 0) << made.Describe();
  EXPECT_THAT(made.out, HasSubstr("Development PKI")) << made.Describe();
  for (const char* file : {"root-ca.pem", "agency-ca.pem", "server.pem", "server.key",
                           "agencies/leicestershire-police.pem", "agencies/leicestershire-police.key"}) {
    EXPECT_TRUE(std::filesystem::exists(pki + "/" + file)) << file;
  }

  // Running it again would replace the CAs: refused without --force.
  CommandResult again = RunCommand({kAdminBinary, "dev-pki", pki, "--partnership",
                                    SourcePath("config/partnership.yaml")},
                                   dir_);
  EXPECT_EQ(again.exit_code, 1) << again.Describe();
  EXPECT_THAT(again.err, HasSubstr("--force")) << again.Describe();

  const std::string config = dir_ + "/quickstart.yaml";
  ASSERT_TRUE(WriteStringToFile(config, absl::StrCat("partnership_file: ", SourcePath("config/partnership.yaml"),
                                                     "\n", "agreement_file: ", SourcePath("config/agreement.yaml"),
                                                     "\n"
                                                     "tls:\n"
                                                     "  server_cert_file: dev-pki/server.pem\n"
                                                     "  server_key_file: dev-pki/server.key\n"
                                                     "  client_ca_file: dev-pki/agency-ca.pem\n"
                                                     "storage: {sqlite_path: var/quickstart.db}\n"
                                                     "limits: {shutdown_grace_seconds: 1}\n")));
  ServerProcess::Options options;
  options.config_path = config;
  options.log_dir = dir_;
  options.pki_directory = pki;
  auto server = ServerProcess::Start(std::move(options));
  ASSERT_TRUE(server.ok()) << server.status();

  CommandResult whoami = RunCommand({kCliBinary, "--config", pki + "/profiles.yaml", "--profile",
                                     kCityCouncil, "--server", (*server)->address(), "whoami"},
                                    dir_);
  EXPECT_EQ(whoami.exit_code, 0) << whoami.Describe();
  EXPECT_THAT(whoami.out, HasSubstr("agencies/leicester-city-council")) << whoami.Describe();

  auto code = (*server)->Terminate(absl::Seconds(10));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << (*server)->Stderr();
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/var/quickstart.db"));
  // The start-up event names the malloc the binary runs on: jemalloc unless
  // the build turned it off (cmake/RefxTargets.cmake, ADR 11).
  EXPECT_THAT((*server)->Stderr(), ContainsRegex("event=server_started.* allocator=\"?" REFX_SERVER_ALLOCATOR))
      << (*server)->Stderr();
}

TEST_F(ServerStartupTest, HelpDocumentsExitCodes) {
  CommandResult r = RunCommand({kServerBinary, "--help"}, dir_);
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("Exit codes")) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("--check-config")) << r.Describe();
}

}  // namespace
}  // namespace refx::testing
