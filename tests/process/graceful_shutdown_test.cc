// SIGTERM as Kubernetes sends it during a rolling update, against the real
// refx-server binary: an idle client's open connection does not hold the
// server for the whole grace period; a call in flight is finished (and
// answered) before the server exits; an open watch stream is ended with
// WATCH_RESUME so its subscriber reconnects elsewhere.
#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/status_details.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/process/process_helpers.h"
#include "tests/testing/server_fixture.h"

namespace refx::testing {
namespace {

using ::testing::HasSubstr;

class GracefulShutdownTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The TestServer writes a complete config; a long grace makes waiting
    // for it (the old behaviour) stand out against the 2 s the test allows.
    auto source = TestServer::Start({[](config::v1::ServerConfig* c) {
      c->mutable_limits()->set_shutdown_grace_seconds(20);
    }});
    ASSERT_TRUE(source.ok()) << source.status();
    source_ = *std::move(source);
    source_->Stop();
    scratch_ = MakeTempDir("graceful");
    auto server = StartServer();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  // refx-server as a child process on the TestServer's files.
  absl::StatusOr<std::unique_ptr<ServerProcess>> StartServer() {
    ServerProcess::Options options;
    options.config_path = source_->config_path();
    options.log_dir = scratch_;
    options.pki_directory = source_->pki().directory();
    return ServerProcess::Start(std::move(options));
  }

  void TearDown() override {
    server_.reset();
    if (!HasFailure()) std::filesystem::remove_all(scratch_);
  }

  std::unique_ptr<TestServer> source_;
  std::string scratch_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(GracefulShutdownTest, AnIdleConnectedClientDoesNotHoldTheServerForTheGrace) {
  auto client = server_->Client(kPolice);
  ASSERT_TRUE(client.WhoAmI().ok());  // the connection is open, and stays open, idle
  const absl::Time signalled = absl::Now();
  server_->process().Signal(SIGTERM);
  ASSERT_TRUE(server_->process().WaitFor(absl::Seconds(10))) << server_->Stderr();
  const absl::Duration took = absl::Now() - signalled;
  EXPECT_EQ(server_->process().exit_code(), 0) << server_->Stderr();
  EXPECT_LT(took, absl::Seconds(2)) << "SIGTERM with an idle client took " << took;
  EXPECT_THAT(server_->Stderr(), HasSubstr("event=server_stopped"));
}

TEST_F(GracefulShutdownTest, ACallInFlightCompletesAndThenTheServerExits) {
  // Hold SQLite's write lock from outside, so the server's commit of the
  // create below waits (its busy timeout is 5 s): a call truly in flight.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(source_->config().storage().sqlite_path().c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  absl::StatusOr<v1::Referral> created = absl::UnknownError("not run");
  absl::Notification answered;
  std::thread call([&] {
    created = server_->Client(kPolice, absl::Seconds(15)).CreateReferral(ValidReferral(), "in-flight-1");
    answered.Notify();
  });
  absl::SleepFor(absl::Milliseconds(500));  // the create reaches the writer and waits on the lock
  ASSERT_FALSE(answered.HasBeenNotified()) << created.status();
  server_->process().Signal(SIGTERM);
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_TRUE(server_->process().Running()) << "exited with a call in flight";
  ASSERT_EQ(sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  const absl::Time released = absl::Now();
  call.join();
  ASSERT_TRUE(created.ok()) << created.status() << "\n" << server_->Stderr();
  ASSERT_TRUE(server_->process().WaitFor(absl::Seconds(10))) << server_->Stderr();
  EXPECT_LT(absl::Now() - released, absl::Seconds(2));
  EXPECT_EQ(server_->process().exit_code(), 0) << server_->Stderr();

  // What was answered is there after a restart.
  auto again = StartServer();
  ASSERT_TRUE(again.ok()) << again.status();
  auto got = (*again)->Client(kCityCouncil).GetReferral(created->name());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->etag(), created->etag());
}

TEST_F(GracefulShutdownTest, AnOpenWatchStreamEndsWithWatchResumeAndDoesNotHoldTheServer) {
  auto client = server_->Client(kCityCouncil, absl::Seconds(30));
  absl::Status ended;
  absl::Notification done;
  std::atomic<bool> subscribed{false};
  std::thread watcher([&] {
    v1::WatchReferralsRequest request;
    ended = client.Watch(request, [&](const v1::WatchReferralsResponse&) {
      subscribed = true;
      return true;
    });
    done.Notify();
  });
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!subscribed && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(20));
  ASSERT_TRUE(subscribed.load());
  const absl::Time signalled = absl::Now();
  server_->process().Signal(SIGTERM);
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  watcher.join();
  EXPECT_EQ(ended.code(), absl::StatusCode::kUnavailable) << ended;
  EXPECT_EQ(ErrorReasonOf(ended), "WATCH_RESUME") << ended;
  ASSERT_TRUE(server_->process().WaitFor(absl::Seconds(10))) << server_->Stderr();
  EXPECT_LT(absl::Now() - signalled, absl::Seconds(2));
  EXPECT_EQ(server_->process().exit_code(), 0) << server_->Stderr();
}

}  // namespace
}  // namespace refx::testing
