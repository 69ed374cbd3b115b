// An in-process refx server for integration tests: real mTLS on a loopback
// port chosen by the kernel, a throwaway PKI made at test time, a real SQLite
// file in a fresh temporary directory, and the LLR partnership from
// config/partnership.yaml plus two test-only agencies (one suspended).
//
// Clients are the project's own client library over real TLS channels, so a
// test exercises exactly the path an agency's system takes.
#ifndef REFX_TESTS_TESTING_SERVER_FIXTURE_H_
#define REFX_TESTS_TESTING_SERVER_FIXTURE_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "clients/lib/referral_client.h"
#include "common/clock.h"
#include "google/protobuf/timestamp.pb.h"
#include "grpcpp/channel.h"
#include "gtest/gtest.h"
#include "refx/config/v1/server_config.pb.h"
#include "refx/v1/referral.pb.h"
#include "server/server.h"
#include "tests/testing/temp_files.h"  // MakeTempDir, SourcePath
#include "tests/testing/test_pki.h"

namespace refx::testing {

// Agencies of the test partnership.
inline constexpr char kPolice[] = "leicestershire-police";
inline constexpr char kCityCouncil[] = "leicester-city-council";
inline constexpr char kBlaby[] = "blaby-district-council";
inline constexpr char kSuspended[] = "test-suspended-agency";  // registered, suspended
inline constexpr char kUnregistered[] = "met-police";          // has a good cert, not a party
inline constexpr char kDpo[] = "llr-information-governance";   // the data protection officer

// grpc.health.v1.Health/Check for the whole server over `channel`; true if
// it answers SERVING (10 s deadline).
bool HealthServing(const std::shared_ptr<grpc::Channel>& channel);

// Polls `condition` every 100 ms for up to `limit`; its last answer.
template <typename Condition>
bool Eventually(Condition condition, absl::Duration limit = absl::Seconds(20)) {
  const absl::Time end = absl::Now() + limit;
  while (absl::Now() < end) {
    if (condition()) return true;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return condition();
}

// A protobuf Timestamp as absl::Time.
absl::Time FromProto(const google::protobuf::Timestamp& time);
// The fields an INVALID_ARGUMENT's BadRequest names, in its order.
std::vector<std::string> ViolatedFieldsOf(const absl::Status& status);

// The instant of a wall-clock time in London (Europe/London, as the
// agreement's calendar counts days): tests of deadlines and periods.
absl::Time LondonTime(int year, int month, int day, int hour = 12, int minute = 0);

// A referral that passes validation, from kPolice to `recipient`.
v1::Referral ValidReferral(const std::string& recipient = kCityCouncil);

// Name -> incident narrative of every referral `reader` lists: one page of
// up to 500, more than any test here stores. A failed list is a test
// failure and reads back nothing.
std::map<std::string, std::string> StoredNarratives(client::ReferralClient reader);

// Whether `stored` (as StoredNarratives reads it) is exactly `acknowledged`,
// the referrals a test got an OK for (name -> incident narrative): after a
// fault, no acknowledged write may be lost or read back different, and no
// refused one may be stored. A failure names the referrals, not their
// narratives, which may be large.
::testing::AssertionResult AcknowledgedReadBackWhole(const std::map<std::string, std::string>& acknowledged,
                                                     const std::map<std::string, std::string>& stored);

class TestServer {
 public:
  struct Options {
    // Adjusts the server config before start (limits, batch size, ...).
    std::function<void(config::v1::ServerConfig*)> customize;
    // The server's clock (e.g. a FakeClock driving deadlines); not owned,
    // must outlive the TestServer. Default: the system clock.
    const Clock* clock = nullptr;
  };

  static absl::StatusOr<std::unique_ptr<TestServer>> Start(Options options);
  static absl::StatusOr<std::unique_ptr<TestServer>> Start() { return Start(Options{}); }
  // A server whose clock the test moves (a FakeClock), otherwise as Start().
  static absl::StatusOr<std::unique_ptr<TestServer>> StartOnClock(const Clock* clock) {
    Options options;
    options.clock = clock;
    return Start(std::move(options));
  }
  ~TestServer();

  const TestPki& pki() const { return *pki_; }
  const std::string& directory() const { return directory_; }
  // The config the server runs with (defaults applied, paths resolved); also
  // written to directory()/server.yaml for subprocess tests.
  const config::v1::ServerConfig& config() const { return config_; }
  std::string config_path() const { return directory_ + "/server.yaml"; }
  std::string address() const;  // localhost:<port>
  server::RefxServer* server() { return server_.get(); }

  // A TLS channel presenting `cert` (or no certificate if cert_chain_pem is
  // empty), trusting the test root for the server.
  std::shared_ptr<grpc::Channel> Channel(const TestPki::ClientCert& cert) const;
  // A client of the given agency using its good certificate.
  client::ReferralClient Client(const std::string& agency_id) const;
  client::ReferralClient ClientWith(const TestPki::ClientCert& cert) const;

  // Stops the server and starts a new one on the same files (new port).
  absl::Status Restart();
  // The same with `config` from now on (e.g. a rotated key's settings).
  absl::Status Restart(const config::v1::ServerConfig& config);
  void Stop();

 private:
  TestServer() = default;
  absl::Status StartServer();

  std::string directory_;
  std::unique_ptr<TestPki> pki_;
  config::v1::ServerConfig config_;
  const Clock* clock_ = nullptr;
  std::unique_ptr<server::RefxServer> server_;
};

}  // namespace refx::testing

#endif  // REFX_TESTS_TESTING_SERVER_FIXTURE_H_
