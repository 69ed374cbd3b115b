// `refx` against a server whose clock the test drives: the overdue and
// awaiting-my-response lists, and the partnership's reports (`refx report
// counts | response-times | tensions`) as tables, CSV and JSON. Part of
// refx_cli_test (cli_test_support.h).
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/process/cli_test_support.h"

namespace refx::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// A server whose clock the test drives, starting three days ago.
class CliClockTest : public CliTest {
 protected:
  void SetUp() override {
    auto server = TestServer::StartOnClock(&clock_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    dir_ = MakeTempDir("cli");
  }
  FakeClock clock_{absl::Now() - absl::Hours(72)};
};

// The clock is moved to the present, so referrals made "then" are overdue
// both by the server's clock (the filter) and by the CLI's own (the OVERDUE
// marker).
TEST_F(CliClockTest, ListOverdueAndAwaiting) {
  auto create = [&](const std::string& priority) {
    CommandResult r = Refx(kPolice, {"create", "--report-type", "hate-crime", "--strand", "race:perceived",
                                     "--perceived-by", "victim", "--channel", "police", "--area", "leicester",
                                     "--narrative", "Shouted at outside the library.", "--victim-given-name", "Sam",
                                     "--consent", "given", "--recipient", kCityCouncil, "--priority", priority,
                                     "--output", "json"});
    EXPECT_EQ(r.exit_code, kExitOk) << r.Describe();
    v1::Referral created;
    EXPECT_TRUE(ParseJson(r.out, &created).ok()) << r.Describe();
    return created;
  };
  const v1::Referral urgent = create("urgent");
  const v1::Referral routine = create("routine");
  EXPECT_EQ(urgent.priority(), v1::PRIORITY_URGENT);
  clock_.Set(absl::Now());

  CommandResult overdue = Refx(kCityCouncil, {"list", "--overdue"});
  ASSERT_EQ(overdue.exit_code, kExitOk) << overdue.Describe();
  EXPECT_THAT(overdue.out, HasSubstr("DUE")) << overdue.Describe();
  EXPECT_THAT(overdue.out, HasSubstr(urgent.name())) << overdue.Describe();
  EXPECT_THAT(overdue.out, HasSubstr("OVERDUE")) << overdue.Describe();
  EXPECT_THAT(overdue.out, Not(HasSubstr(routine.name()))) << overdue.Describe();

  CommandResult awaiting = Refx(kCityCouncil, {"list", "--awaiting", "--output", "json"});
  ASSERT_EQ(awaiting.exit_code, kExitOk) << awaiting.Describe();
  EXPECT_THAT(awaiting.out, HasSubstr(urgent.name()));
  EXPECT_THAT(awaiting.out, HasSubstr(routine.name()));
  CommandResult sender = Refx(kPolice, {"list", "--awaiting", "--output", "json"});
  ASSERT_EQ(sender.exit_code, kExitOk) << sender.Describe();
  EXPECT_THAT(sender.out, Not(HasSubstr("referrals/"))) << sender.Describe();

  CommandResult help = RefxBare({"list", "--help"});
  EXPECT_THAT(help.out, HasSubstr("--overdue"));
  EXPECT_THAT(help.out, HasSubstr("refx list --awaiting --overdue --all"));
}

// `refx report counts` for an oversight group: the server's clock is moved
// into the first quarter of 2026, then past its end.
TEST_F(CliClockTest, ReportCountsAsATableCsvAndJsonWithWithheldCountsMarked) {
  clock_.Set(absl::FromCivil(absl::CivilSecond(2026, 2, 2, 12, 0, 0), absl::UTCTimeZone()));
  for (int i = 0; i < 9; ++i) CreatedByPolice("Shouted at outside the library.");
  clock_.Set(absl::FromCivil(absl::CivilSecond(2026, 4, 2, 12, 0, 0), absl::UTCTimeZone()));
  const char* kOversight = "asb-hate-prevent-strategy-group";
  const std::vector<std::string> query = {"report", "counts", "--period", "2026-Q1", "--by", "area", "--scope",
                                          "partnership"};

  CommandResult table = Refx(kOversight, query);
  ASSERT_EQ(table.exit_code, kExitOk) << table.Describe();
  EXPECT_THAT(table.out, HasSubstr("2026-Q1, referrals (whole partnership)"));
  EXPECT_THAT(table.out, ::testing::ContainsRegex("leicester +10\n"));  // 9, rounded
  EXPECT_THAT(table.out, HasSubstr("* withheld. Counts from 1 to 7 are withheld"));
  EXPECT_THAT(table.out, HasSubstr("releases/"));

  std::vector<std::string> csv_args = query;
  csv_args.push_back("--csv");
  CommandResult csv = Refx(kOversight, csv_args);
  ASSERT_EQ(csv.exit_code, kExitOk) << csv.Describe();
  EXPECT_THAT(csv.out, StartsWith(",Count\n"));
  EXPECT_THAT(csv.out, HasSubstr("\nleicester,10\n"));
  EXPECT_THAT(csv.out, HasSubstr("\nTotal,10\n"));

  std::vector<std::string> json_args = query;
  json_args.insert(json_args.end(), {"--output", "json"});
  CommandResult json = Refx(kOversight, json_args);
  ASSERT_EQ(json.exit_code, kExitOk) << json.Describe();
  v1::CountReferralsResponse release;
  ASSERT_TRUE(ParseJson(json.out, &release).ok()) << json.Describe();
  EXPECT_EQ(release.period(), "2026-Q1");
  EXPECT_EQ(release.scope(), v1::PARTNERSHIP);

  // The city council may count only its own referrals.
  CommandResult denied = Refx(kCityCouncil, query);
  EXPECT_EQ(denied.exit_code, kExitAuth) << denied.Describe();
  EXPECT_THAT(denied.err, HasSubstr("own referrals")) << denied.Describe();
  CommandResult own = Refx(kCityCouncil, {"report", "counts", "--period", "2026-Q1", "--by", "area,report-type"});
  EXPECT_EQ(own.exit_code, kExitOk) << own.Describe();
  EXPECT_THAT(own.out, HasSubstr("your agency's referrals"));

  // Mistakes are caught before any call, and `--help` teaches.
  CommandResult bad = Refx(kOversight, {"report", "counts", "--period", "2026-Q1", "--by", "postcode"});
  EXPECT_NE(bad.exit_code, kExitOk);
  EXPECT_THAT(bad.err, HasSubstr("--by")) << bad.Describe();
  CommandResult off_grid = Refx(kOversight, {"report", "counts", "--period", "2026-03", "--by", "area"});
  EXPECT_EQ(off_grid.exit_code, kExitInvalid) << off_grid.Describe();
  EXPECT_THAT(off_grid.err, HasSubstr("by quarter only")) << off_grid.Describe();
  CommandResult help = RefxBare({"report", "counts", "--help"});
  EXPECT_THAT(help.out, HasSubstr("refx report counts --period 2026-Q3 --by area,strand"));
}

TEST_F(CliClockTest, ReportResponseTimesAsTablesLongCsvAndJson) {
  clock_.Set(absl::FromCivil(absl::CivilSecond(2026, 2, 2, 12, 0, 0), absl::UTCTimeZone()));
  for (int i = 0; i < 9; ++i) CreatedByPolice("Shouted at outside the library.");
  clock_.Set(absl::FromCivil(absl::CivilSecond(2026, 4, 2, 12, 0, 0), absl::UTCTimeZone()));
  const char* kOversight = "asb-hate-prevent-strategy-group";
  const std::vector<std::string> query = {"report", "response-times", "--period", "2026-Q1", "--scope",
                                          "partnership"};

  // Nine referrals to the city council, none answered by the quarter's
  // end, all past their five working days: shown as 10, rounded.
  CommandResult table = Refx(kOversight, query);
  ASSERT_EQ(table.exit_code, kExitOk) << table.Describe();
  EXPECT_THAT(table.out, HasSubstr("2026-Q1, referrals created in it, as at its end (whole partnership)"));
  EXPECT_THAT(table.out, HasSubstr("awaiting, overdue"));
  EXPECT_THAT(table.out, HasSubstr("median hours"));
  EXPECT_THAT(table.out, ::testing::ContainsRegex("unitary council +0 +0 +0 +0 +0 +10 +0 +10 +\\*\n"));
  EXPECT_THAT(table.out, HasSubstr("Medians are withheld unless"));

  std::vector<std::string> csv_args = query;
  csv_args.push_back("--csv");
  CommandResult csv = Refx(kOversight, csv_args);
  ASSERT_EQ(csv.exit_code, kExitOk) << csv.Describe();
  EXPECT_THAT(csv.out, StartsWith("table,recipient agency type,column,value\n"));
  EXPECT_THAT(csv.out, HasSubstr("\nfirst response,unitary council,\"awaiting, overdue\",10\n"));
  EXPECT_THAT(csv.out, HasSubstr("\nfirst response,unitary council,median hours,*\n"));
  EXPECT_THAT(csv.out, HasSubstr("\ncompletion,unitary council,not completed,10\n"));

  std::vector<std::string> json_args = query;
  json_args.insert(json_args.end(), {"--output", "json"});
  CommandResult json = Refx(kOversight, json_args);
  ASSERT_EQ(json.exit_code, kExitOk) << json.Describe();
  v1::ReportResponseTimesResponse release;
  ASSERT_TRUE(ParseJson(json.out, &release).ok()) << json.Describe();
  EXPECT_EQ(release.period(), "2026-Q1");
  EXPECT_EQ(release.first_response().medians_size(), release.first_response().rows_size());

  CommandResult denied = Refx(kCityCouncil, query);
  EXPECT_EQ(denied.exit_code, kExitAuth) << denied.Describe();
  CommandResult not_ended = Refx(kOversight, {"report", "response-times", "--period", "2026-Q2"});
  EXPECT_EQ(not_ended.exit_code, kExitInvalid) << not_ended.Describe();
  EXPECT_THAT(not_ended.err, HasSubstr("has not ended")) << not_ended.Describe();
  CommandResult help = RefxBare({"report", "response-times", "--help"});
  EXPECT_THAT(help.out, HasSubstr("as at the period's end"));
}

TEST_F(CliClockTest, ReportTensionsListsAlertsAsBandsInTableCsvAndJson) {
  // Quiet weeks, then twelve race referrals in Leicester in 2026-W14.
  for (int week = 2; week < 14; ++week) {
    clock_.Set(absl::FromCivil(absl::CivilDay(2026, 1, 7) + 7 * (week - 2), absl::UTCTimeZone()));
    CreatedByPolice("Shouted at outside the library.");
  }
  for (int i = 0; i < 12; ++i) {
    clock_.Set(absl::FromCivil(absl::CivilSecond(2026, 4, 1, 10, i, 0), absl::UTCTimeZone()));
    CreatedByPolice("Shouted at outside the library.");
  }
  clock_.Set(absl::FromCivil(absl::CivilSecond(2026, 4, 20, 12, 0, 0), absl::UTCTimeZone()));
  const char* kOversight = "asb-hate-prevent-strategy-group";
  const std::vector<std::string> query = {"report", "tensions", "--first-week", "2026-W14", "--last-week",
                                          "2026-W15"};

  CommandResult table = Refx(kOversight, query);
  ASSERT_EQ(table.exit_code, kExitOk) << table.Describe();
  EXPECT_THAT(table.out, HasSubstr("1 alert in 2026-W14 to 2026-W15"));
  EXPECT_THAT(table.out, ::testing::ContainsRegex("2026-W14 +leicester +race +10 to 19 +1 to 2 a week +no\n"));
  EXPECT_THAT(table.out, HasSubstr("conditional binomial test"));

  std::vector<std::string> csv_args = query;
  csv_args.push_back("--csv");
  CommandResult csv = Refx(kOversight, csv_args);
  ASSERT_EQ(csv.exit_code, kExitOk) << csv.Describe();
  EXPECT_EQ(csv.out,
            "week,area,strand,count,baseline,name,acknowledged_by,acknowledged_at,note\n"
            "2026-W14,leicester,race,10 to 19,1 to 2 a week,tensionAlerts/2026-W14/leicester/race,,,\n");

  // The tensions group acknowledges it with a note, by the name listed
  // (with or without its collection prefix); then the listing shows it.
  CommandResult acknowledged = Refx(kOversight, {"report", "acknowledge", "2026-W14/leicester/race", "--note",
                                                 "Raised at the monitoring meeting, patrols arranged",
                                                 "--request-id", "cli-ack-1", "--output", "json"});
  ASSERT_EQ(acknowledged.exit_code, kExitOk) << acknowledged.Describe();
  v1::TensionAlert alert;
  ASSERT_TRUE(ParseJson(acknowledged.out, &alert).ok()) << acknowledged.Describe();
  EXPECT_EQ(alert.acknowledgement().agency(), absl::StrCat("agencies/", kOversight));
  CommandResult acknowledged_csv = Refx(kOversight, csv_args);
  EXPECT_THAT(acknowledged_csv.out,
              HasSubstr("tensionAlerts/2026-W14/leicester/race,agencies/asb-hate-prevent-strategy-group,"
                        "2026-04-20T12:00:00Z,\"Raised at the monitoring meeting, patrols arranged\"\n"));
  CommandResult acknowledged_table = Refx(kOversight, query);
  EXPECT_THAT(acknowledged_table.out, HasSubstr("agencies/asb-hate-prevent-strategy-group 2026-04-20"));
  // Once only (exit 7 names the first); not by a role without the grant
  // (exit 4); not an alert that was never raised (exit 3); a note is needed.
  CommandResult twice = Refx("hate-prevent-delivery-group",
                             {"report", "acknowledge", "tensionAlerts/2026-W14/leicester/race", "--note", "Seen"});
  EXPECT_EQ(twice.exit_code, kExitConflict) << twice.Describe();
  EXPECT_THAT(twice.err, HasSubstr("acknowledged already, by agencies/asb-hate-prevent-strategy-group"));
  CommandResult dpo = Refx("llr-information-governance",
                           {"report", "acknowledge", "2026-W14/leicester/race", "--note", "Seen"});
  EXPECT_EQ(dpo.exit_code, kExitAuth) << dpo.Describe();
  CommandResult never = Refx(kOversight, {"report", "acknowledge", "2026-W15/leicester/race", "--note", "Seen"});
  EXPECT_EQ(never.exit_code, kExitNotFound) << never.Describe();
  CommandResult no_note = Refx(kOversight, {"report", "acknowledge", "2026-W14/leicester/race"});
  EXPECT_EQ(no_note.exit_code, kExitUsage) << no_note.Describe();

  std::vector<std::string> json_args = query;
  json_args.insert(json_args.end(), {"--output", "json"});
  CommandResult json = Refx(kOversight, json_args);
  ASSERT_EQ(json.exit_code, kExitOk) << json.Describe();
  v1::ListTensionAlertsResponse listed;
  ASSERT_TRUE(ParseJson(json.out, &listed).ok()) << json.Describe();
  ASSERT_EQ(listed.alerts_size(), 1);
  EXPECT_EQ(listed.alerts(0).week(), "2026-W14");

  CommandResult denied = Refx(kCityCouncil, query);
  EXPECT_EQ(denied.exit_code, kExitAuth) << denied.Describe();
  CommandResult not_ended = Refx(kOversight, {"report", "tensions", "--last-week", "2026-W17"});
  EXPECT_EQ(not_ended.exit_code, kExitInvalid) << not_ended.Describe();
  CommandResult help = RefxBare({"report", "tensions", "--help"});
  EXPECT_THAT(help.out, HasSubstr("never exact counts"));
  EXPECT_THAT(help.out, HasSubstr("--follow"));

  // --follow streams alerts as weeks end (WatchTensionAlerts), the ended
  // weeks from --first-week first; one JSON line per alert.
  CommandResult follow = Refx(kOversight, {"report", "tensions", "--follow", "--first-week", "2026-W14", "--max-alerts",
                                           "1", "--output", "json"});
  ASSERT_EQ(follow.exit_code, kExitOk) << follow.Describe();
  v1::TensionAlert followed;
  ASSERT_TRUE(ParseJson(follow.out, &followed).ok()) << follow.Describe();
  EXPECT_EQ(followed.name(), "tensionAlerts/2026-W14/leicester/race");
  EXPECT_EQ(followed.acknowledgement().agency(), absl::StrCat("agencies/", kOversight));
  EXPECT_THAT(follow.err, HasSubstr("testing weeks from 2026-W14"));
  CommandResult follow_denied = Refx(kCityCouncil, {"report", "tensions", "--follow"});
  EXPECT_EQ(follow_denied.exit_code, kExitAuth) << follow_denied.Describe();
  CommandResult follow_bounded = Refx(kOversight, {"report", "tensions", "--follow", "--last-week", "2026-W15"});
  EXPECT_NE(follow_bounded.exit_code, kExitOk) << follow_bounded.Describe();
  EXPECT_THAT(follow_bounded.err, HasSubstr("--follow has no last week"));
}

}  // namespace
}  // namespace refx::testing
