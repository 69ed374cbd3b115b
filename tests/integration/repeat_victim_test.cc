// Repeat victims end to end: three agencies refer the same victim, written
// differently each time, and each referral shows how many earlier referrals
// across the partnership (last 12 months) share a victim token; an unrelated
// victim and a referral older than 12 months do not count; the count is a
// SAFEGUARDING_RISK fact that redaction trims; and the token table holds
// keyed HMACs only, never an identifier in plaintext.

#include <filesystem>
#include <fstream>
#include <iterator>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/postgres_fixture.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/test_database.h"

namespace refx::testing {
namespace {

constexpr char kHealth[] = "nhs-hate-crime-healthcare-partnership";

// Canary identifiers: distinctive enough that finding them means a leak.
constexpr char kCanaryGiven[] = "Zebedee";
constexpr char kCanaryFamily[] = "Quixotic-Canary";
constexpr char kCanaryBirth[] = "1987-06-05";
constexpr char kCanaryPhone[] = "07700 900456";
constexpr char kCanaryEmail[] = "Zebedee.Canary@example.org";

v1::Referral ForVictim(const std::string& recipient, const std::string& given, const std::string& family,
                       const std::string& birth, const std::string& phone, const std::string& email) {
  v1::Referral r = ValidReferral(recipient);
  r.mutable_victim()->set_given_name(given);
  r.mutable_victim()->set_family_name(family);
  r.mutable_victim()->set_birth_date(birth);
  r.mutable_victim()->set_phone(phone);
  r.mutable_victim()->set_email(email);
  return r;
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class RepeatVictimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = TestServer::StartOnClock(&clock_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  v1::Referral Create(const std::string& agency, const v1::Referral& r, const std::string& request_id) {
    auto created = server_->Client(agency).CreateReferral(r, request_id);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : v1::Referral();
  }

  // Early enough that 13 months later the test's certificates (issued now,
  // valid for 90 days) have not expired by the server's clock.
  FakeClock clock_{absl::Now() - absl::Hours(24 * 340)};
  std::unique_ptr<TestServer> server_;
};

TEST_F(RepeatVictimTest, CountsEarlierReferralsOfTheSameVictimAcrossAgencies) {
  // Thirteen months before the rest: too old to count.
  const v1::Referral old = Create(kPolice, ForVictim(kCityCouncil, kCanaryGiven, kCanaryFamily, kCanaryBirth,
                                                     kCanaryPhone, ""), "old");
  ASSERT_TRUE(old.has_repeat_victim_count());
  EXPECT_EQ(old.repeat_victim_count(), 0);
  clock_.Advance(absl::Hours(24 * 396));

  // Police: name, date of birth and phone as written on the crime report.
  const v1::Referral first = Create(kPolice, ForVictim(kCityCouncil, kCanaryGiven, kCanaryFamily, kCanaryBirth,
                                                       kCanaryPhone, ""), "first");
  clock_.Advance(absl::Hours(1));
  // The city council: the same person by phone in international form.
  const v1::Referral second =
      Create(kCityCouncil, ForVictim(kPolice, "Z.", "Q", "", "+44 7700 900-456", ""), "second");
  clock_.Advance(absl::Hours(1));
  // The NHS partnership: upper-case, spaced-out name with the birth date,
  // the phone as dialled from abroad, and an email nobody else recorded.
  const v1::Referral third = Create(kHealth,
                                    ForVictim(kCityCouncil, "  ZEBEDEE ", "quixotic canary", kCanaryBirth,
                                              "0044 (0)7700 900 456", kCanaryEmail),
                                    "third");
  // Someone else entirely.
  const v1::Referral other =
      Create(kPolice, ForVictim(kCityCouncil, "Alex", "Unrelated", "1970-01-01", "07700 900999", ""), "other");

  EXPECT_EQ(first.repeat_victim_count(), 0);  // the 13-month-old one is outside the window
  EXPECT_EQ(second.repeat_victim_count(), 1);
  // The NHS partnership's role is not granted values derived from other
  // agencies' referrals: its own create does not tell it the victim is known
  // to two other agencies (the council, which is, reads it below).
  EXPECT_FALSE(third.has_repeat_victim_count());
  EXPECT_EQ(other.repeat_victim_count(), 0);
  ASSERT_TRUE(other.has_repeat_victim_count());

  // Reading it later gives the count stored at create.
  auto again = server_->Client(kCityCouncil).GetReferral(third.name());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->repeat_victim_count(), 2);

  // The token table: hex HMACs, referral ids and times only. Every cell of
  // every row is checked against every canary, raw and normalised.
  const std::string db_path = server_->config().storage().sqlite_path();
  const std::vector<std::string> canaries = {
      kCanaryGiven, kCanaryFamily, kCanaryBirth, kCanaryPhone, kCanaryEmail, "07700900456", "7700900456",
      absl::AsciiStrToLower(kCanaryEmail), "zebedee", "quixotic", "canary"};
  int rows = 0;
  for (const auto& row :
       TestDatabase(server_->config().storage()).Rows("SELECT token, referral_id, create_time_us FROM victim_tokens")) {
    ++rows;
    const std::string& token = row[0];
    EXPECT_EQ(token.size(), 64u);
    EXPECT_EQ(token.find_first_not_of("0123456789abcdef"), std::string::npos) << token;
    for (const std::string& cell : row) {
      for (const std::string& canary : canaries) {
        EXPECT_EQ(absl::AsciiStrToLower(cell).find(absl::AsciiStrToLower(canary)), std::string::npos) << canary;
      }
    }
  }
  // old: phone + name-dob; first: the same 2; second: phone; third: phone,
  // email and name-dob; other: phone + name-dob.
  EXPECT_EQ(rows, 2 + 2 + 1 + 3 + 2);

  // The whole file and its WAL: the normalised identifiers the tokens are
  // made from never reach disk in any form (the normalised forms exist only
  // in memory during a create), and the identifiers as each agency wrote
  // them are there only sealed (encryption at rest).
  if (SuiteBackendIsPostgres()) return;  // the bytes of the SQLite file and WAL
  const std::string bytes = ReadBytes(db_path) + ReadBytes(db_path + "-wal");
  ASSERT_FALSE(bytes.empty());
  for (const char* normalised : {"phone:07700900456", "email:zebedee.canary@example.org",
                                 "name-dob:zebedee quixotic canary|1987-06-05", "refx-victim-v1|"}) {
    EXPECT_EQ(bytes.find(normalised), std::string::npos) << normalised;
  }
  EXPECT_EQ(bytes.find(kCanaryPhone), std::string::npos) << "the phone as written is stored in plaintext";
}

TEST_F(RepeatVictimTest, TheCountIsTrimmedForReadersTheAgreementDoesNotShareRiskWith) {
  v1::Referral r = ForVictim(kCityCouncil, "Pat", "Repeat", "1980-02-03", "07700 900777", "");
  Create(kPolice, r, "one");
  // Refused consent, shared under a basis the police's grant accepts and
  // the councils' does not: the council gets routing facts only.
  r.mutable_victim()->mutable_consent()->set_status(v1::Consent::REFUSED);
  r.mutable_victim()->mutable_consent()->set_lawful_basis("dpa-2018-sch1-para10");
  const v1::Referral second = Create(kPolice, r, "two");
  auto as_council = server_->Client(kCityCouncil).GetReferral(second.name());
  ASSERT_TRUE(as_council.ok()) << as_council.status();
  EXPECT_FALSE(as_council->has_repeat_victim_count());
  EXPECT_EQ(second.repeat_victim_count(), 1);  // the police sender may see it
  // With consent, the council sees it.
  r.mutable_victim()->mutable_consent()->set_status(v1::Consent::GIVEN);
  r.mutable_victim()->mutable_consent()->clear_lawful_basis();
  const v1::Referral third = Create(kPolice, r, "three");
  auto shared = server_->Client(kCityCouncil).GetReferral(third.name());
  ASSERT_TRUE(shared.ok()) << shared.status();
  ASSERT_TRUE(shared->has_repeat_victim_count());
  EXPECT_EQ(shared->repeat_victim_count(), 2);
}

TEST(RepeatVictimKeyTest, ANamedKeyFileThatCannotBeReadStopsTheServer) {
  TestServer::Options missing;
  missing.customize = [](config::v1::ServerConfig* c) { c->set_victim_token_key_file("/nonexistent/victim.key"); };
  auto refused = TestServer::Start(missing);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.status().message()),
              ::testing::HasSubstr("victim_token_key_file: /nonexistent/victim.key cannot be read"));

  const std::string dir = MakeTempDir("short-key");
  std::ofstream(dir + "/short.key") << "too short";
  std::filesystem::permissions(dir + "/short.key", std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  TestServer::Options short_key;
  short_key.customize = [&](config::v1::ServerConfig* c) { c->set_victim_token_key_file(dir + "/short.key"); };
  auto short_refused = TestServer::Start(short_key);
  ASSERT_FALSE(short_refused.ok());
  EXPECT_THAT(std::string(short_refused.status().message()), ::testing::HasSubstr("fewer than 32 bytes"));

  // A key others can read is refused however long it is: it must be
  // treated as disclosed.
  std::ofstream(dir + "/open.key") << std::string(32, 'k');
  std::filesystem::permissions(dir + "/open.key", std::filesystem::perms::owner_read |
                                                      std::filesystem::perms::owner_write |
                                                      std::filesystem::perms::group_read |
                                                      std::filesystem::perms::others_read);
  TestServer::Options open_key;
  open_key.customize = [&](config::v1::ServerConfig* c) { c->set_victim_token_key_file(dir + "/open.key"); };
  auto open_refused = TestServer::Start(open_key);
  ASSERT_FALSE(open_refused.ok());
  EXPECT_EQ(open_refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(open_refused.status().message()), ::testing::HasSubstr("mode 0644"));
}

TEST(RepeatVictimKeyTest, ALostDefaultKeyIsNotReplacedUnderExistingTokens) {
  auto server = TestServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  v1::Referral with_phone = ValidReferral();
  with_phone.mutable_victim()->set_phone("07700 900456");  // makes a token
  ASSERT_TRUE((*server)->Client(kPolice).CreateReferral(with_phone, "lost-key-1").ok());
  const std::string path = (*server)->config().victim_token_key_file();
  (*server)->Stop();
  ASSERT_TRUE(std::filesystem::remove(path));
  absl::Status restarted = (*server)->Restart();
  EXPECT_EQ(restarted.code(), absl::StatusCode::kFailedPrecondition) << restarted;
  EXPECT_THAT(std::string(restarted.message()), ::testing::HasSubstr("restore the key file"));
  EXPECT_FALSE(std::filesystem::exists(path)) << "a new key was made under existing tokens";
}

TEST(RepeatVictimKeyTest, TheDefaultKeyIsCreatedOwnerOnly) {
  auto server = TestServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string path = (*server)->config().victim_token_key_file();
  EXPECT_THAT(path, ::testing::EndsWith("/victim-token.key"));
  ASSERT_TRUE(std::filesystem::exists(path));
  EXPECT_EQ(std::filesystem::file_size(path), 32u);
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

}  // namespace
}  // namespace refx::testing
