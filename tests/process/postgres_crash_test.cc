// Crashes under write load with PostgreSQL, 20 cycles each: kill -9 of one
// of two replicas on one database, and `pg_ctl stop -m immediate` of
// PostgreSQL itself under a running replica. After the faults heal, every
// create is retried by its request id until it succeeds (a Jepsen-style set
// workload: an unanswered write is indeterminate, never assumed lost), then:
// every request id is stored exactly once, no acknowledged write is missing,
// the event log is one gapless sequence and the audit chain is intact.
//
// PostgreSQL only (the kill -9 test uses the suite's test server; the
// immediate-stop test starts a private one with scripts/postgres.sh, so the
// suites running beside it are not stopped with it).
#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/process/process_helpers.h"
#include "tests/testing/postgres_fixture.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/test_database.h"

namespace refx::testing {
namespace {

constexpr int kCycles = 20;

// What each request id got: acknowledged at least once, or not (yet).
class Ledger {
 public:
  std::string Next(const std::string& prefix) {
    std::lock_guard<std::mutex> lock(mu_);
    std::string id = absl::StrCat(prefix, "-", ++counter_);
    acked_[id] = false;
    return id;
  }
  void Ack(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    acked_[id] = true;
  }
  std::vector<std::string> Unacked() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (const auto& [id, acked] : acked_) {
      if (!acked) out.push_back(id);
    }
    return out;
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return acked_.size();
  }
  int64_t acked() {
    std::lock_guard<std::mutex> lock(mu_);
    int64_t n = 0;
    for (const auto& [id, a] : acked_) n += a ? 1 : 0;
    return n;
  }

 private:
  std::mutex mu_;
  int counter_ = 0;
  std::map<std::string, bool> acked_;
};

// Creates as fast as `replica` answers until stopped.
class Load {
 public:
  Load(Ledger* ledger, std::vector<ServerProcess*> replicas) {
    for (size_t i = 0; i < replicas.size() * 2; ++i) {
      ServerProcess* replica = replicas[i % replicas.size()];
      threads_.emplace_back([this, ledger, replica, i] {
        client::ReferralClient police = replica->Client(kPolice, absl::Seconds(5));
        while (!stop_.load()) {
          const std::string id = ledger->Next(absl::StrCat("w", i));
          if (police.CreateReferral(ValidReferral(), id).ok()) ledger->Ack(id);
        }
      });
    }
  }
  ~Load() { Stop(); }
  void Stop() {
    stop_.store(true);
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

// Retries every unanswered create until it succeeds, then checks the store.
void HealAndCheck(Ledger* ledger, ServerProcess* replica, const config::v1::StorageConfig& storage) {
  client::ReferralClient police = replica->Client(kPolice, absl::Seconds(10));
  for (const std::string& id : ledger->Unacked()) {
    bool done = false;
    for (int attempt = 0; attempt < 50 && !done; ++attempt) {
      done = police.CreateReferral(ValidReferral(), id).ok();
      if (!done) absl::SleepFor(absl::Milliseconds(200));
    }
    EXPECT_TRUE(done) << id;
    if (done) ledger->Ack(id);
  }
  TestDatabase db(storage);
  const int64_t ids = static_cast<int64_t>(ledger->size());
  EXPECT_EQ(db.Int("SELECT count(*) FROM create_requests"), ids) << "a request id stored twice, or lost";
  EXPECT_EQ(db.Int("SELECT count(*) FROM referrals"), ids);
  EXPECT_EQ(db.Int("SELECT count(*) FROM referral_events"), ids) << "one event per create";
  EXPECT_EQ(db.Int("SELECT max(sequence) FROM referral_events"), ids) << "a gap in the event log";
  EXPECT_EQ(db.Int("SELECT count(*) FROM audit_events"), db.Int("SELECT max(sequence) FROM audit_events"));
  // Answered at the first asking: every pooled read connection the last
  // restart cut is found closed, and reopened, before a read is sent on it.
  auto verdict = replica->Client(kDpo).VerifyAuditChain();
  ASSERT_TRUE(verdict.ok()) << verdict.status();
  EXPECT_TRUE(verdict->intact()) << verdict->problem();
}

absl::StatusOr<std::unique_ptr<ServerProcess>> StartReplica(const TestServer& source, const std::string& log_dir) {
  std::filesystem::create_directories(log_dir);
  ServerProcess::Options options;
  options.config_path = source.config_path();
  options.log_dir = log_dir;
  options.pki_directory = source.pki().directory();
  options.ready_timeout = absl::Seconds(30);
  return ServerProcess::Start(std::move(options));
}

TEST(PostgresCrashTest, KillNineOfAReplicaUnderWriteLoadTwentyTimes) {
  REFX_SKIP_UNLESS_POSTGRES();
  auto storage = NewPostgresDatabase();
  ASSERT_TRUE(storage.ok()) << storage.status();
  TestServer::Options options;
  options.customize = [&](config::v1::ServerConfig* c) { *c->mutable_storage() = *storage; };
  auto source = TestServer::Start(options);
  ASSERT_TRUE(source.ok()) << source.status();
  (*source)->Stop();
  const std::string scratch = MakeTempDir("pg-kill");
  auto a = StartReplica(**source, scratch + "/a-0");
  auto b = StartReplica(**source, scratch + "/b");
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  std::unique_ptr<ServerProcess> victim = *std::move(a);
  std::unique_ptr<ServerProcess> survivor = *std::move(b);
  Ledger ledger;
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    SCOPED_TRACE(absl::StrCat("cycle ", cycle));
    {
      Load load(&ledger, {victim.get(), survivor.get()});
      absl::SleepFor(absl::Milliseconds(150 + 37 * (cycle % 7)));
      victim->Crash();
      absl::SleepFor(absl::Milliseconds(50));
    }
    auto restarted = StartReplica(**source, absl::StrCat(scratch, "/a-", cycle + 1));
    ASSERT_TRUE(restarted.ok()) << restarted.status();
    victim = *std::move(restarted);
  }
  EXPECT_GT(ledger.acked(), kCycles);
  HealAndCheck(&ledger, survivor.get(), *storage);
}

TEST(PostgresCrashTest, ImmediateStopOfPostgresUnderWriteLoadTwentyTimes) {
  REFX_SKIP_UNLESS_POSTGRES();
  const std::string scratch = MakeTempDir("pg-immediate");
  const std::string script = SourcePath("scripts/postgres.sh");
  CommandResult started = RunCommand({"/bin/bash", script, "start"}, scratch, {}, absl::Seconds(120));
  ASSERT_EQ(started.exit_code, 0) << started.Describe();
  std::map<std::string, std::string> vars;
  for (absl::string_view line : absl::StrSplit(started.out, '\n', absl::SkipEmpty())) {
    if (!absl::ConsumePrefix(&line, "export ")) continue;
    std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
    vars[kv.first] = kv.second;
  }
  const std::string dir = vars["REFX_TEST_POSTGRES_DIR"];
  ASSERT_FALSE(dir.empty()) << started.out;
  struct StopCluster {
    std::string script, dir, scratch;
    ~StopCluster() { RunCommand({"/bin/bash", script, "stop", dir}, scratch, {}, absl::Seconds(60)); }
  } stop_cluster{script, dir, scratch};

  config::v1::StorageConfig storage;
  storage.set_backend("postgres");
  auto* pg = storage.mutable_postgres();
  pg->set_host(dir);
  pg->set_port(std::stoi(vars["REFX_TEST_POSTGRES_PORT"]));
  pg->set_user("refx");
  pg->set_dbname("postgres");
  pg->set_password_file(vars["REFX_TEST_POSTGRES_PASSWORD_FILE"]);
  pg->set_sslmode("disable");
  TestServer::Options options;
  options.customize = [&](config::v1::ServerConfig* c) { *c->mutable_storage() = storage; };
  auto source = TestServer::Start(options);
  ASSERT_TRUE(source.ok()) << source.status();
  (*source)->Stop();
  auto replica = StartReplica(**source, scratch + "/replica");
  ASSERT_TRUE(replica.ok()) << replica.status();

  Ledger ledger;
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    SCOPED_TRACE(absl::StrCat("cycle ", cycle));
    Load load(&ledger, {replica->get()});
    absl::SleepFor(absl::Milliseconds(150 + 37 * (cycle % 7)));
    CommandResult crashed = RunCommand({"/bin/bash", script, "crash", dir}, scratch, {}, absl::Seconds(60));
    ASSERT_EQ(crashed.exit_code, 0) << crashed.Describe();
    absl::SleepFor(absl::Milliseconds(100));
    CommandResult resumed = RunCommand({"/bin/bash", script, "resume", dir}, scratch, {}, absl::Seconds(120));
    ASSERT_EQ(resumed.exit_code, 0) << resumed.Describe();
    // The replica recovers by itself: a create succeeds again.
    const int64_t before = ledger.acked();
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (ledger.acked() == before && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(50));
    EXPECT_GT(ledger.acked(), before) << "no create succeeded after PostgreSQL came back";
  }
  EXPECT_TRUE((*replica)->process().Running()) << "the replica died with its database";
  HealAndCheck(&ledger, replica->get(), storage);
}

}  // namespace
}  // namespace refx::testing
