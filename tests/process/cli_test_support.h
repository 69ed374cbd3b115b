// What the `refx` CLI suites share (cli_test.cc, cli_workflow_test.cc): the
// exit codes a user is promised, JSON output parsed strictly, and a fixture
// running the binary against an in-process server over real mutual TLS.
#ifndef REFX_TESTS_PROCESS_CLI_TEST_SUPPORT_H_
#define REFX_TESTS_PROCESS_CLI_TEST_SUPPORT_H_

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/process/process_helpers.h"
#include "tests/testing/server_fixture.h"

namespace refx::testing {

// Exit codes documented in `refx --help` (clients/cli/output.h).
inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitNotFound = 3;
inline constexpr int kExitAuth = 4;
inline constexpr int kExitInvalid = 5;
inline constexpr int kExitUnavailable = 6;
inline constexpr int kExitConflict = 7;

// Strict: a field the proto does not know fails the parse, so the CLI's JSON
// output cannot drift from the API unnoticed.
template <typename Message>
absl::Status ParseJson(const std::string& json, Message* message) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(json, message, options);
  return status.ok() ? absl::OkStatus() : absl::InvalidArgumentError(std::string(status.message()));
}

// A fresh server and working directory per test; both are kept when the test
// fails, for a look at what the CLI left behind.
class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = TestServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    dir_ = MakeTempDir("cli");
  }

  void TearDown() override {
    if (server_ == nullptr) return;
    const std::string server_dir = server_->directory();
    server_.reset();
    if (!HasFailure()) {
      std::filesystem::remove_all(dir_);
      std::filesystem::remove_all(server_dir);
    }
  }

  std::string Address() const { return absl::StrCat("127.0.0.1:", server_->server()->port()); }

  // `refx --server ... --ca-file ... --cert-file AGENCY --key-file AGENCY ARGS`.
  CommandResult Refx(const std::string& agency, std::vector<std::string> args,
                     const std::map<std::string, std::optional<std::string>>& env = {}) {
    const TestPki& pki = server_->pki();
    std::vector<std::string> argv = {kCliBinary,
                                     "--server",
                                     Address(),
                                     "--ca-file",
                                     pki.root_ca_pem_path(),
                                     "--cert-file",
                                     pki.agency_cert_chain_path(agency),
                                     "--key-file",
                                     pki.agency_key_path(agency)};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, dir_, env);
  }

  // `refx ARGS` with nothing added.
  CommandResult RefxBare(std::vector<std::string> args,
                         const std::map<std::string, std::optional<std::string>>& env = {},
                         const std::string& cwd = "") {
    std::vector<std::string> argv = {kCliBinary};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, dir_, env, absl::Seconds(20), cwd);
  }

  // A referral created by the police through the client library.
  v1::Referral CreatedByPolice(const std::string& narrative) {
    v1::Referral r = ValidReferral(kCityCouncil);
    r.set_incident_narrative(narrative);
    auto created = server_->Client(kPolice).CreateReferral(r, absl::StrCat("lib-", ++counter_));
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : v1::Referral();
  }

  std::unique_ptr<TestServer> server_;
  std::string dir_;
  int counter_ = 0;
};

}  // namespace refx::testing

#endif  // REFX_TESTS_PROCESS_CLI_TEST_SUPPORT_H_
