// `refx-admin backup` and `restore` as an operator runs them: a backup taken
// while the server serves and writes is a whole, owner-only copy whose audit
// chain verifies (head signature included); restore never overwrites a
// database, refuses a tampered backup before writing anything, and a server
// started on the restored file (with the same keys) serves what was backed up.
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/process/process_helpers.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/test_database.h"

namespace refx::testing {
namespace {

using ::testing::HasSubstr;

int ModeOf(const std::string& path) {
  struct stat info;
  return ::stat(path.c_str(), &info) == 0 ? static_cast<int>(info.st_mode & 07777) : -1;
}

class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = TestServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    config_ = server_->config();
    scratch_ = MakeTempDir("backup");
    public_key_ = (std::filesystem::path(config_.audit_signing_key_file()).parent_path() / "audit-signing.pub").string();
    ASSERT_TRUE(std::filesystem::exists(public_key_)) << public_key_;
  }

  CommandResult Admin(std::vector<std::string> args) {
    args.insert(args.begin(), kAdminBinary);
    return RunCommand(args, scratch_, {}, absl::Seconds(60));
  }

  std::unique_ptr<TestServer> server_;
  config::v1::ServerConfig config_;
  std::string scratch_;
  std::string public_key_;
};

TEST_F(BackupTest, BackupWhileServingThenRestoreServesTheSameReferrals) {
  std::vector<v1::Referral> created;
  for (int i = 0; i < 5; ++i) {
    auto r = server_->Client(kPolice).CreateReferral(ValidReferral(), absl::StrCat("backup-", i));
    ASSERT_TRUE(r.ok()) << r.status();
    created.push_back(*r);
  }
  // Writes keep going while the backup runs.
  std::atomic<bool> stop{false};
  std::atomic<int> during{0};
  std::thread writer([&] {
    auto police = server_->Client(kPolice);
    for (int i = 0; !stop; ++i) {
      if (police.CreateReferral(ValidReferral(), absl::StrCat("during-", i)).ok()) ++during;
    }
  });
  const std::string backup = scratch_ + "/refx-backup.db";
  CommandResult made = Admin({"backup", "--db", "sqlite:" + config_.storage().sqlite_path(), "--out", backup,
                              "--public-key", public_key_, "--output", "json"});
  stop = true;
  writer.join();
  ASSERT_EQ(made.exit_code, 0) << made.Describe();
  EXPECT_THAT(made.out, HasSubstr("\"headSignatureVerified\":true"));
  EXPECT_THAT(made.err, HasSubstr("pages"));  // progress
  EXPECT_EQ(ModeOf(backup), 0600);
  EXPECT_FALSE(std::filesystem::exists(backup + "-wal"));
  EXPECT_GT(during.load(), 0) << "no write ran during the backup";

  // Never overwritten.
  CommandResult again = Admin({"backup", "--db", config_.storage().sqlite_path(), "--out", backup});
  EXPECT_EQ(again.exit_code, 2) << again.Describe();
  EXPECT_THAT(again.err, HasSubstr("never overwritten"));

  // Restore refuses the live database, and writes nothing there.
  const int64_t live_rows = TestDatabase(config_.storage()).Int("SELECT count(*) FROM referrals");
  CommandResult onto_live = Admin({"restore", "--from", backup, "--db", config_.storage().sqlite_path()});
  EXPECT_EQ(onto_live.exit_code, 1) << onto_live.Describe();
  EXPECT_THAT(onto_live.err, HasSubstr("never overwrites"));
  EXPECT_EQ(TestDatabase(config_.storage()).Int("SELECT count(*) FROM referrals"), live_rows);

  const std::string restored = scratch_ + "/restored/refx.db";
  CommandResult put_back = Admin({"restore", "--from", backup, "--db", restored, "--public-key", public_key_});
  ASSERT_EQ(put_back.exit_code, 0) << put_back.Describe();
  EXPECT_THAT(put_back.out, HasSubstr("audit chain intact on both ends"));
  EXPECT_THAT(put_back.out, HasSubstr("head signature verified"));
  EXPECT_EQ(ModeOf(restored), 0600);

  // A server on the restored file, with the same keys, serves the same referrals.
  server_->Stop();
  TestServer::Options on_restored;
  on_restored.customize = [&](config::v1::ServerConfig* c) {
    c->mutable_storage()->set_sqlite_path(restored);
    c->mutable_storage()->set_encryption_key_file(config_.storage().encryption_key_file());
    c->set_audit_key_file(config_.audit_key_file());
    c->set_audit_signing_key_file(config_.audit_signing_key_file());
    c->set_victim_token_key_file(config_.victim_token_key_file());
  };
  auto second = TestServer::Start(on_restored);
  ASSERT_TRUE(second.ok()) << second.status();
  for (const auto& r : created) {
    auto got = (*second)->Client(kCityCouncil).GetReferral(r.name());
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->etag(), r.etag());
  }
  (*second)->Stop();
  CommandResult verified = Admin({"audit", "verify", "--db", restored, "--public-key", public_key_});
  EXPECT_EQ(verified.exit_code, 0) << verified.Describe();
}

TEST_F(BackupTest, ATamperedBackupIsNotRestored) {
  ASSERT_TRUE(server_->Client(kPolice).CreateReferral(ValidReferral(), "tamper-1").ok());
  ASSERT_TRUE(server_->Client(kPolice).CreateReferral(ValidReferral(), "tamper-2").ok());
  const std::string backup = scratch_ + "/backup.db";
  ASSERT_EQ(Admin({"backup", "--db", config_.storage().sqlite_path(), "--out", backup}).exit_code, 0);
  {
    config::v1::StorageConfig copy;
    copy.set_sqlite_path(backup);
    TestDatabase db(copy, /*writable=*/true);
    db.Exec("UPDATE audit_events SET method = 'tampered' WHERE sequence = 1");
  }
  const std::string restored = scratch_ + "/restored.db";
  CommandResult refused = Admin({"restore", "--from", backup, "--db", restored, "--public-key", public_key_});
  EXPECT_EQ(refused.exit_code, 1) << refused.Describe();
  EXPECT_THAT(refused.err, HasSubstr("broken at event 1"));
  EXPECT_THAT(refused.err, HasSubstr("nothing was restored"));
  EXPECT_FALSE(std::filesystem::exists(restored));
}

TEST_F(BackupTest, PostgresIsBackedUpWithPgDumpAndBadArgumentsAreNamed) {
  CommandResult pg = Admin({"backup", "--db", "postgres:host=db dbname=refx", "--out", scratch_ + "/x.db"});
  EXPECT_EQ(pg.exit_code, 2) << pg.Describe();
  EXPECT_THAT(pg.err, HasSubstr("pg_dump"));
  CommandResult missing = Admin({"backup", "--db", scratch_ + "/absent.db", "--out", scratch_ + "/y.db"});
  EXPECT_EQ(missing.exit_code, 2) << missing.Describe();
  EXPECT_THAT(missing.err, HasSubstr("does not exist"));
  EXPECT_FALSE(std::filesystem::exists(scratch_ + "/y.db"));
  CommandResult help = Admin({"restore", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, HasSubstr("Never overwrites a database"));
}

}  // namespace
}  // namespace refx::testing
