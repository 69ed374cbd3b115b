// PostgreSQL going away and coming back, under a running server: while the
// database refuses connections, health is NOT_SERVING and calls fail with
// UNAVAILABLE (nothing half-written, nothing acknowledged); once it is back
// the server recovers by itself, and every create retried by its request id
// is stored exactly once. The outage is made in the test's own database
// (connections refused and the server's terminated), so suites running
// beside it on the same PostgreSQL are untouched.
//
// PostgreSQL only (the test server of scripts/postgres.sh; required in CI).
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "grpcpp/generic/generic_stub.h"
#include "tests/testing/postgres_fixture.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/test_database.h"

namespace refx::testing {
namespace {

TEST(PostgresOutageTest, UnreachableDatabaseIsNotServingAndUnavailableThenRecoversByItself) {
  REFX_SKIP_UNLESS_POSTGRES();
  auto storage = NewPostgresDatabase();
  ASSERT_TRUE(storage.ok()) << storage.status();
  TestServer::Options options;
  options.customize = [&](config::v1::ServerConfig* c) { *c->mutable_storage() = *storage; };
  auto server = TestServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel = (*server)->Channel((*server)->pki().Agency(kPolice));
  client::ReferralClient police = (*server)->Client(kPolice);
  ASSERT_TRUE(police.CreateReferral(ValidReferral(), "outage-before").ok());
  ASSERT_TRUE(HealthServing(channel));

  // An idle watch stream, open when the database goes away.
  absl::Status watch_end;
  absl::Notification watch_ended, subscribed;
  client::WatchCancellation cancel_watch;
  client::ReferralClient council = (*server)->Client(kCityCouncil);
  std::thread watcher([&] {
    v1::WatchReferralsRequest request;
    request.set_start_at_head(true);
    watch_end = council.Watch(request, [&](const v1::WatchReferralsResponse& m) {
      if (m.kind() == v1::WatchReferralsResponse::SUBSCRIBED) subscribed.Notify();
      return true;
    }, &cancel_watch);
    watch_ended.Notify();
  });
  struct JoinWatcher {
    std::thread* thread;
    client::WatchCancellation* cancel;
    ~JoinWatcher() {
      cancel->Cancel();
      thread->join();
    }
  } join_watcher{&watcher, &cancel_watch};
  ASSERT_TRUE(subscribed.WaitForNotificationWithTimeout(absl::Seconds(20)));

  const std::string db = storage->postgres().dbname();
  ASSERT_TRUE(RunPostgresSql("postgres", absl::StrCat("ALTER DATABASE ", db, " ALLOW_CONNECTIONS false")).ok());
  ASSERT_TRUE(RunPostgresSql("postgres", absl::StrCat("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                                      "WHERE datname = '", db, "'"))
                  .ok());

  // Every call fails UNAVAILABLE while the database is away; nothing is
  // acknowledged. Creates keep their request ids for the retry below.
  std::set<std::string> attempted;
  for (int i = 0; i < 6; ++i) {
    const std::string request_id = absl::StrCat("outage-", i);
    attempted.insert(request_id);
    auto created = police.CreateReferral(ValidReferral(), request_id);
    EXPECT_EQ(created.status().code(), absl::StatusCode::kUnavailable) << created.status();
    auto listed = police.ListReferrals(v1::ListReferralsRequest());
    EXPECT_EQ(listed.status().code(), absl::StatusCode::kUnavailable) << listed.status();
  }
  EXPECT_TRUE(Eventually([&] { return !HealthServing(channel); })) << "health stayed SERVING without its database";
  ASSERT_TRUE(watch_ended.WaitForNotificationWithTimeout(absl::Seconds(20))) << "the idle watch stayed open";
  EXPECT_TRUE(client::IsResumableWatchEnd(watch_end)) << watch_end;

  ASSERT_TRUE(RunPostgresSql("postgres", absl::StrCat("ALTER DATABASE ", db, " ALLOW_CONNECTIONS true")).ok());
  EXPECT_TRUE(Eventually([&] { return HealthServing(channel); })) << "the server did not recover by itself";
  EXPECT_TRUE(Eventually([&] { return police.ListReferrals(v1::ListReferralsRequest()).ok(); }));

  // Retried by request id, every create is stored exactly once.
  for (const std::string& request_id : attempted) {
    EXPECT_TRUE(Eventually([&] { return police.CreateReferral(ValidReferral(), request_id).ok(); })) << request_id;
    EXPECT_TRUE(police.CreateReferral(ValidReferral(), request_id).ok()) << "a retry is a replay";
  }
  TestDatabase check(*storage);
  EXPECT_EQ(check.Int("SELECT count(*) FROM referrals"), 1 + static_cast<int64_t>(attempted.size()));
  EXPECT_EQ(check.Int("SELECT count(*) FROM referral_events"), check.Int("SELECT max(sequence) FROM referral_events"));
  auto verdict = (*server)->Client("llr-information-governance").VerifyAuditChain();
  ASSERT_TRUE(verdict.ok()) << verdict.status();
  EXPECT_TRUE(verdict->intact()) << verdict->problem();
}

}  // namespace
}  // namespace refx::testing
