// Several refx-server replicas on one PostgreSQL database, as real child
// processes: a change made through one replica reaches a watcher on the
// other live (LISTEN/NOTIFY) and on resume; accepts of one referral racing
// through both replicas resolve by etag (exactly one wins); the event log
// stays one gapless sequence and the audit chain one intact chain; the
// key-encryption key rotates with replicas restarted one at a time under
// load, and a data key rotates with every value moved to it while both
// replicas serve, with no failed call.
//
// PostgreSQL only (the test server of scripts/postgres.sh; required in CI).
#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/process/process_helpers.h"
#include "tests/testing/postgres_fixture.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/test_database.h"

namespace refx::testing {
namespace {

using Response = v1::WatchReferralsResponse;

class ReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    REFX_SKIP_UNLESS_POSTGRES();
    auto storage = NewPostgresDatabase();
    ASSERT_TRUE(storage.ok()) << storage.status();
    // The TestServer writes a complete config (PKI, keys, partnership) on
    // the new database, and creates the schema and the signed audit head.
    TestServer::Options options;
    options.customize = [&](config::v1::ServerConfig* c) { *c->mutable_storage() = *storage; };
    auto source = TestServer::Start(options);
    ASSERT_TRUE(source.ok()) << source.status();
    source_ = *std::move(source);
    source_->Stop();
    scratch_ = MakeTempDir("replicas");
    for (int i = 0; i < 2; ++i) {
      ServerProcess::Options server;
      server.config_path = source_->config_path();
      server.log_dir = absl::StrCat(scratch_, "/replica-", i);
      std::filesystem::create_directories(server.log_dir);
      server.pki_directory = source_->pki().directory();
      auto replica = ServerProcess::Start(std::move(server));
      ASSERT_TRUE(replica.ok()) << replica.status();
      replicas_.push_back(*std::move(replica));
    }
  }

  v1::Referral Create(ServerProcess* replica, const std::string& request_id) {
    auto created = replica->Client(kPolice).CreateReferral(ValidReferral(kCityCouncil), request_id);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : v1::Referral();
  }

  std::unique_ptr<TestServer> source_;
  std::string scratch_;
  std::vector<std::unique_ptr<ServerProcess>> replicas_;
};

// Collects a watch on its own thread.
class Watcher {
 public:
  Watcher(client::ReferralClient client, v1::WatchReferralsRequest request) : client_(std::move(client)) {
    thread_ = std::thread([this, request] {
      client_.Watch(request, [this](const Response& m) {
        std::lock_guard<std::mutex> lock(mu_);
        if (m.kind() == Response::SUBSCRIBED) {
          subscribed_.Notify();
        } else {
          events_.push_back(m);
        }
        return true;
      }, &cancel_).IgnoreError();
    });
  }
  ~Watcher() {
    cancel_.Cancel();
    thread_.join();
  }
  bool WaitSubscribed() { return subscribed_.WaitForNotificationWithTimeout(absl::Seconds(20)); }
  std::vector<Response> WaitEvents(size_t n, absl::Duration limit = absl::Seconds(20)) {
    const absl::Time end = absl::Now() + limit;
    while (absl::Now() < end) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (events_.size() >= n) return events_;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }

 private:
  client::ReferralClient client_;
  client::WatchCancellation cancel_;
  absl::Notification subscribed_;
  std::mutex mu_;
  std::vector<Response> events_;
  std::thread thread_;
};

TEST_F(ReplicasTest, AChangeOnOneReplicaReachesAWatcherOnTheOtherLiveAndOnResume) {
  v1::WatchReferralsRequest from_now;
  from_now.set_start_at_head(true);
  Watcher on_b(replicas_[1]->Client(kCityCouncil), from_now);
  ASSERT_TRUE(on_b.WaitSubscribed());

  const v1::Referral created = Create(replicas_[0].get(), "replica-watch-1");
  auto events = on_b.WaitEvents(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind(), Response::REFERRAL_CREATED);
  EXPECT_EQ(events[0].referral().name(), created.name());
  const int64_t sequence = events[0].sequence();
  EXPECT_GT(sequence, 0);

  // An accept through B reaches a watcher on A.
  Watcher on_a(replicas_[0]->Client(kPolice), from_now);
  ASSERT_TRUE(on_a.WaitSubscribed());
  v1::AcceptReferralRequest accept;
  accept.set_name(created.name());
  accept.set_request_id("replica-watch-accept");
  accept.set_etag(created.etag());
  ASSERT_TRUE(replicas_[1]->Client(kCityCouncil).AcceptReferral(accept).ok());
  auto on_a_events = on_a.WaitEvents(1);
  ASSERT_EQ(on_a_events.size(), 1u);
  EXPECT_EQ(on_a_events[0].sequence(), sequence + 1);

  // Resuming from before the create, on either replica, gives both events
  // in order with the same sequences.
  for (auto& replica : replicas_) {
    v1::WatchReferralsRequest resume;
    resume.set_after_sequence(sequence - 1);
    Watcher resumed(replica->Client(kCityCouncil), resume);
    auto replayed = resumed.WaitEvents(2);
    ASSERT_EQ(replayed.size(), 2u);
    EXPECT_EQ(replayed[0].sequence(), sequence);
    EXPECT_EQ(replayed[1].sequence(), sequence + 1);
    EXPECT_EQ(replayed[1].kind(), Response::REFERRAL_CHANGED);
  }
}

TEST_F(ReplicasTest, EightAcceptsRacingThroughBothReplicasHaveExactlyOneWinner) {
  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    const v1::Referral created = Create(replicas_[round % 2].get(), absl::StrCat("replica-race-", round));
    std::atomic<int> won{0}, lost{0}, other{0};
    std::vector<std::thread> racers;
    for (int i = 0; i < 8; ++i) {
      racers.emplace_back([&, i] {
        v1::AcceptReferralRequest accept;
        accept.set_name(created.name());
        accept.set_request_id(absl::StrCat("race-", round, "-", i));
        accept.set_etag(created.etag());
        auto result = replicas_[i % 2]->Client(kCityCouncil).AcceptReferral(accept);
        if (result.ok()) {
          ++won;
        } else if (result.status().code() == absl::StatusCode::kAborted ||
                   result.status().code() == absl::StatusCode::kFailedPrecondition) {
          ++lost;
        } else {
          ++other;
          ADD_FAILURE() << result.status();
        }
      });
    }
    for (auto& t : racers) t.join();
    EXPECT_EQ(won.load(), 1);
    EXPECT_EQ(lost.load(), 7);
    EXPECT_EQ(other.load(), 0);
  }

  // One event per change (5 creates, 5 accepts), numbered 1..10 without a
  // gap, and one intact audit chain whichever replica verifies it.
  TestDatabase db(source_->config().storage());
  EXPECT_EQ(db.Int("SELECT count(*) FROM referral_events"), 10);
  EXPECT_EQ(db.Int("SELECT max(sequence) FROM referral_events"), 10);
  EXPECT_EQ(db.Int("SELECT count(*) FROM audit_events"), db.Int("SELECT max(sequence) FROM audit_events"));
  for (auto& replica : replicas_) {
    auto verdict = replica->Client(kDpo).VerifyAuditChain(v1::VerifyAuditChainRequest());
    ASSERT_TRUE(verdict.ok()) << verdict.status();
    EXPECT_TRUE(verdict->intact()) << verdict->problem();
    EXPECT_GT(verdict->events_checked(), 10);
  }
}

// Key-encryption key rotation under load: replica A restarts on a new key
// (the old one listed as previous, so it re-wraps the data keys) while B
// keeps serving reads and writes; no call fails. Then B restarts on the new
// key alone, and the old key no longer opens the database.
TEST_F(ReplicasTest, TheKeyEncryptionKeyRotatesUnderLoadWithNoFailedCall) {
  const v1::Referral first = Create(replicas_[0].get(), "rotate-first");
  ASSERT_FALSE(first.name().empty());
  const config::v1::ServerConfig base = source_->config();
  const std::string new_key = scratch_ + "/data-encryption-2.key";
  {
    std::ofstream out(new_key, std::ios::binary);
    out << std::string(32, 'R');
  }
  std::filesystem::permissions(new_key, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  auto write_config = [&](const config::v1::ServerConfig& config, const std::string& name) {
    std::string json;
    google::protobuf::util::JsonPrintOptions print;
    print.preserve_proto_field_names = true;
    EXPECT_TRUE(google::protobuf::util::MessageToJsonString(config, &json, print).ok());
    const std::string path = absl::StrCat(scratch_, "/", name);
    std::ofstream(path) << json;
    return path;
  };
  config::v1::ServerConfig rotating = base;
  rotating.mutable_storage()->set_encryption_key_file(new_key);
  rotating.mutable_storage()->add_previous_encryption_key_files(base.storage().encryption_key_file());
  config::v1::ServerConfig rotated = base;
  rotated.mutable_storage()->set_encryption_key_file(new_key);
  const std::string rotating_path = write_config(rotating, "rotating.json");
  const std::string rotated_path = write_config(rotated, "rotated.json");
  auto restart = [&](int i, const std::string& config_path) {
    ASSERT_TRUE(replicas_[i]->Terminate(absl::Seconds(10)).ok());
    ServerProcess::Options server;
    server.config_path = config_path;
    server.log_dir = absl::StrCat(scratch_, "/replica-", i, "-rotated");
    std::filesystem::create_directories(server.log_dir);
    server.pki_directory = source_->pki().directory();
    auto replica = ServerProcess::Start(std::move(server));
    ASSERT_TRUE(replica.ok()) << replica.status();
    replicas_[i] = *std::move(replica);
  };

  std::atomic<bool> stop{false};
  std::atomic<int> calls{0};
  std::mutex mu;
  std::vector<std::string> failures;
  std::thread load([&] {
    auto police = replicas_[1]->Client(kPolice);
    for (int i = 0; !stop.load(); ++i) {
      const absl::Status read = police.GetReferral(first.name()).status();
      const absl::Status write =
          police.CreateReferral(ValidReferral(kCityCouncil), absl::StrCat("rotate-load-", i)).status();
      calls += 2;
      for (const absl::Status& s : {read, write}) {
        if (s.ok()) continue;
        std::lock_guard<std::mutex> lock(mu);
        failures.push_back(s.ToString());
      }
    }
  });
  restart(0, rotating_path);
  // A, on the new key, reads what was sealed before and what B seals now.
  auto on_a = replicas_[0]->Client(kPolice);
  EXPECT_TRUE(on_a.GetReferral(first.name()).ok());
  ASSERT_TRUE(Eventually([&] { return calls.load() >= 40; }));
  EXPECT_TRUE(on_a.CreateReferral(ValidReferral(kCityCouncil), "rotate-on-a").ok());
  stop = true;
  load.join();
  EXPECT_GE(calls.load(), 40);
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_TRUE(failures.empty()) << failures.size() << " failed calls, the first: " << failures.front();
  }
  auto listed = on_a.ListReferrals(v1::ListReferralsRequest());
  ASSERT_TRUE(listed.ok()) << listed.status();

  // B on the new key alone; both replicas read everything.
  restart(1, rotated_path);
  auto on_b = replicas_[1]->Client(kPolice);
  auto listed_on_b = on_b.ListReferrals(v1::ListReferralsRequest());
  ASSERT_TRUE(listed_on_b.ok()) << listed_on_b.status();
  EXPECT_EQ(listed_on_b->referrals_size(), listed->referrals_size());

  // The old key alone is refused now, naming the key it needs.
  ServerProcess::Options old;
  old.config_path = source_->config_path();
  old.log_dir = absl::StrCat(scratch_, "/old-key");
  std::filesystem::create_directories(old.log_dir);
  old.pki_directory = source_->pki().directory();
  auto refused = ServerProcess::Start(std::move(old));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("storage.encryption_key_file"), std::string::npos) << refused.status();
}

// A new data key made and every value moved to it by `refx-admin keys
// rotate` and `keys reencrypt`, run against the shared database while both
// replicas serve creates and reads of referrals sealed under either key:
// no call fails, and afterwards nothing is left under the old key.
TEST_F(ReplicasTest, ADataKeyRotatesAndEveryValueMovesUnderLoadWithNoFailedCall) {
  const v1::Referral first = Create(replicas_[0].get(), "rekey-first");
  ASSERT_FALSE(first.name().empty());
  std::atomic<bool> stop{false};
  std::atomic<int> calls{0};
  std::mutex mu;
  std::vector<std::string> failures;
  std::vector<std::string> created;  // on B, read on A
  std::thread load([&] {
    auto on_a = replicas_[0]->Client(kPolice);
    auto on_b = replicas_[1]->Client(kPolice);
    for (int i = 0; !stop.load(); ++i) {
      auto made = on_b.CreateReferral(ValidReferral(kCityCouncil), absl::StrCat("rekey-load-", i));
      std::vector<absl::Status> results = {made.status(), on_a.GetReferral(first.name()).status()};
      if (made.ok()) results.push_back(on_a.GetReferral(made->name()).status());
      calls += static_cast<int>(results.size());
      for (const absl::Status& s : results) {
        if (s.ok()) continue;
        std::lock_guard<std::mutex> lock(mu);
        failures.push_back(s.ToString());
      }
    }
  });
  ASSERT_TRUE(Eventually([&] { return calls.load() >= 30; }));
  const std::string config = source_->config_path();
  CommandResult rotated = RunCommand({kAdminBinary, "keys", "rotate", "--config", config, "--output", "json"}, scratch_);
  ASSERT_EQ(rotated.exit_code, 0) << rotated.Describe();
  EXPECT_NE(rotated.out.find("\"keyId\":2"), std::string::npos) << rotated.out;
  // Past the replicas' next health checks (every 2 s), so they seal with key 2.
  const int calls_at_rotation = calls.load();
  ASSERT_TRUE(Eventually([&] { return calls.load() >= calls_at_rotation + 60; }));
  absl::SleepFor(absl::Seconds(3));
  CommandResult moved = RunCommand({kAdminBinary, "keys", "reencrypt", "--config", config, "--page-size", "25"},
                                   scratch_, {}, absl::Seconds(120));
  ASSERT_EQ(moved.exit_code, 0) << moved.Describe();
  EXPECT_NE(moved.out.find("to data key 2"), std::string::npos) << moved.out;
  EXPECT_NE(moved.err.find("pass 1  case_updates"), std::string::npos) << moved.err;  // progress, per table
  stop = true;
  load.join();
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_TRUE(failures.empty()) << failures.size() << " failed calls, the first: " << failures.front();
  }
  // Nothing left under key 1: a second run finds only key 2 and moves nothing.
  CommandResult again =
      RunCommand({kAdminBinary, "keys", "reencrypt", "--config", config, "--output", "json"}, scratch_, {},
                 absl::Seconds(120));
  ASSERT_EQ(again.exit_code, 0) << again.Describe();
  EXPECT_NE(again.out.find("\"valuesRewritten\":0"), std::string::npos) << again.out;
  EXPECT_EQ(again.out.find("\"1\":"), std::string::npos) << again.out;
  EXPECT_NE(again.out.find("\"2\":"), std::string::npos) << again.out;
  // Both replicas read everything, old and new.
  auto listed = replicas_[1]->Client(kPolice).ListReferrals(v1::ListReferralsRequest());
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_GE(listed->referrals_size(), 10);
  EXPECT_TRUE(replicas_[0]->Client(kPolice).GetReferral(first.name()).ok());
}

}  // namespace
}  // namespace refx::testing
