// Several refx-server replicas on one PostgreSQL database, as real child
// processes: a change made through one replica reaches a watcher on the
// other live (LISTEN/NOTIFY) and on resume; accepts of one referral racing
// through both replicas resolve by etag (exactly one wins); the event log
// stays one gapless sequence and the audit chain one intact chain.
//
// PostgreSQL only (the test server of scripts/postgres.sh; required in CI).
#include <atomic>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "tests/process/process_helpers.h"
#include "tests/testing/postgres_fixture.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/test_database.h"

namespace refx::testing {
namespace {

using Response = v1::WatchReferralsResponse;
constexpr char kDpo[] = "llr-information-governance";

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

}  // namespace
}  // namespace refx::testing
