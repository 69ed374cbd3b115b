// `refx-admin storage copy` as an operator runs it: a database made by a
// real server on SQLite is copied into an empty PostgreSQL database, a
// server started on the copy (with the same keys) serves the same
// referrals and verifies the same intact audit chain, a second copy into
// the now non-empty target is refused, and the list of copied tables is
// the SQLite schema's.
//
// PostgreSQL only (the test server of scripts/postgres.sh; required in CI).
#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/store_copy.h"
#include "tests/process/process_helpers.h"
#include "tests/testing/postgres_fixture.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/test_database.h"

namespace refx::testing {
namespace {

using ::testing::HasSubstr;

TEST(StorageCopyTest, SqliteToPostgresRoundTripKeepsReferralsAndTheAuditChain) {
  REFX_SKIP_UNLESS_POSTGRES();
  auto source = TestServer::Start();
  ASSERT_TRUE(source.ok()) << source.status();
  std::string accepted_name;
  {
    client::ReferralClient police = (*source)->Client(kPolice);
    client::ReferralClient council = (*source)->Client(kCityCouncil);
    for (int i = 0; i < 5; ++i) {
      auto created = police.CreateReferral(ValidReferral(), absl::StrCat("copy-", i));
      ASSERT_TRUE(created.ok()) << created.status();
      if (i == 2) {
        v1::AcceptReferralRequest accept;
        accept.set_name(created->name());
        accept.set_request_id("copy-accept");
        accept.set_etag(created->etag());
        ASSERT_TRUE(council.AcceptReferral(accept).ok());
        accepted_name = created->name();
      }
    }
    ASSERT_TRUE(council.ListReferrals(v1::ListReferralsRequest()).ok());
  }
  const config::v1::ServerConfig source_config = (*source)->config();
  (*source)->Stop();
  const int64_t source_events = TestDatabase(source_config.storage()).Int("SELECT count(*) FROM audit_events");
  ASSERT_GE(source_events, 7);  // 5 creates, an accept, a list

  auto target = NewPostgresDatabase();
  ASSERT_TRUE(target.ok()) << target.status();
  const auto& pg = target->postgres();
  const std::string dsn =
      absl::StrCat("postgres:host=", pg.host(), " port=", pg.port(), " user=", pg.user(), " dbname=", pg.dbname());
  const std::vector<std::string> copy = {kAdminBinary, "storage", "copy", "--from",
                                         "sqlite:" + source_config.storage().sqlite_path(), "--to", dsn,
                                         "--password-file", pg.password_file(), "--sslmode", "disable",
                                         "--output", "json"};
  const std::string scratch = MakeTempDir("storage-copy");
  CommandResult copied = RunCommand(copy, scratch, {}, absl::Seconds(60));
  ASSERT_EQ(copied.exit_code, 0) << copied.Describe();
  EXPECT_THAT(copied.out, HasSubstr("\"copied\":true"));
  EXPECT_THAT(copied.out, HasSubstr("\"headSignatureVerified\":true"));
  EXPECT_THAT(copied.err, HasSubstr("audit_events:"));  // progress on stderr

  // A server on the copy, with the SQLite server's keys, serves the same data.
  TestServer::Options on_copy;
  on_copy.customize = [&](config::v1::ServerConfig* c) {
    *c->mutable_storage() = *target;
    // The data keys are copied wrapped; the key that unwraps them goes too.
    c->mutable_storage()->set_encryption_key_file(source_config.storage().encryption_key_file());
    c->set_audit_key_file(source_config.audit_key_file());
    c->set_audit_signing_key_file(source_config.audit_signing_key_file());
    c->set_victim_token_key_file(source_config.victim_token_key_file());
  };
  auto copy_server = TestServer::Start(on_copy);
  ASSERT_TRUE(copy_server.ok()) << copy_server.status();
  auto listed = (*copy_server)->Client(kPolice).ListReferrals(v1::ListReferralsRequest());
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->referrals_size(), 5);
  auto accepted = (*copy_server)->Client(kCityCouncil).GetReferral(accepted_name);
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_EQ(accepted->state(), v1::Referral::ACCEPTED);
  // A retried create is a replay on the copy too (its key came along).
  auto retried = (*copy_server)->Client(kPolice).CreateReferral(ValidReferral(), "copy-0");
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(TestDatabase(*target).Int("SELECT count(*) FROM referrals"), 5);
  auto verdict = (*copy_server)->Client("llr-information-governance").VerifyAuditChain();
  ASSERT_TRUE(verdict.ok()) << verdict.status();
  EXPECT_TRUE(verdict->intact()) << verdict->problem();
  EXPECT_GT(verdict->events_checked(), source_events);
  (*copy_server)->Stop();

  // refx-admin verifies the copy offline and checkpoints it, as it does a
  // SQLite file, and holds it to that checkpoint.
  const std::string public_key =
      std::filesystem::path(source_config.audit_signing_key_file()).replace_extension(".pub").string();
  const std::vector<std::string> on_postgres = {"--db", dsn, "--password-file", pg.password_file(), "--sslmode",
                                                "disable", "--public-key", public_key};
  auto admin = [&](std::vector<std::string> args) {
    args.insert(args.begin(), kAdminBinary);
    args.insert(args.end(), on_postgres.begin(), on_postgres.end());
    return RunCommand(args, scratch, {}, absl::Seconds(60));
  };
  CommandResult verified = admin({"audit", "verify"});
  ASSERT_EQ(verified.exit_code, 0) << verified.Describe();
  EXPECT_THAT(verified.out, HasSubstr("audit chain intact"));
  EXPECT_THAT(verified.out, HasSubstr("head signature verified"));
  EXPECT_THAT(verified.out, HasSubstr(pg.dbname()));
  const std::string checkpoint = scratch + "/checkpoint.json";
  CommandResult checkpointed = admin({"audit", "checkpoint", "--out", checkpoint});
  ASSERT_EQ(checkpointed.exit_code, 0) << checkpointed.Describe();
  CommandResult against = admin({"audit", "verify", "--checkpoint", checkpoint, "--output", "json"});
  ASSERT_EQ(against.exit_code, 0) << against.Describe();
  EXPECT_THAT(against.out, HasSubstr("\"intact\":true"));
  // A tail cut off the copy is caught against the checkpoint.
  TestDatabase(*target).Exec("DELETE FROM audit_events WHERE sequence = (SELECT MAX(sequence) FROM audit_events)");
  CommandResult cut = admin({"audit", "verify", "--checkpoint", checkpoint});
  EXPECT_EQ(cut.exit_code, 1) << cut.Describe();
  EXPECT_THAT(cut.out, HasSubstr("BROKEN"));

  // The target now holds data: a second copy is refused and changes nothing.
  const int64_t events_before = TestDatabase(*target).Int("SELECT count(*) FROM audit_events");
  CommandResult again = RunCommand(copy, scratch, {}, absl::Seconds(60));
  EXPECT_EQ(again.exit_code, 1) << again.Describe();
  EXPECT_THAT(again.err, HasSubstr("the target is not empty"));
  EXPECT_EQ(TestDatabase(*target).Int("SELECT count(*) FROM audit_events"), events_before);

  // A password in the DSN is refused before anything connects.
  CommandResult with_password =
      RunCommand({kAdminBinary, "storage", "copy", "--from", "sqlite:" + source_config.storage().sqlite_path(),
                  "--to", dsn + " password=QZSECRETCANARY"},
                 scratch);
  EXPECT_EQ(with_password.exit_code, 2) << with_password.Describe();
  EXPECT_THAT(with_password.err, HasSubstr("carries a password"));
  EXPECT_THAT(with_password.err, ::testing::Not(HasSubstr("QZSECRETCANARY")));
}

TEST(StorageCopyTest, EveryTableOfTheSchemaIsCopied) {
  auto server = TestServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  config::v1::StorageConfig sqlite;
  sqlite.set_backend("sqlite");
  sqlite.set_sqlite_path((*server)->config().storage().sqlite_path());
  if (sqlite.sqlite_path().empty()) GTEST_SKIP();
  std::set<std::string> schema;
  for (const auto& row : TestDatabase(sqlite).Rows(
           "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
           "AND name != 'schema_migrations'")) {
    schema.insert(row[0]);
  }
  const auto& copied = storage::CopiedTables();
  EXPECT_EQ(schema, std::set<std::string>(copied.begin(), copied.end()));
}

}  // namespace
}  // namespace refx::testing
