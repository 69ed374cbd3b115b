// `refx-admin demo seed` (issue 15): synthetic referrals written into a
// test server's own empty database through the core, then served by it.
// The database must be refused while the server writes it and once it
// holds referrals; the result must verify, reproduce from its seed, carry
// the planted rise the tensions monitor then finds, and report without one
// synthetic value (names, addresses, narratives) in any release or page.
// REFX_REPORT_SCREENSHOT names where to keep the rendered report (the
// README's docs/report-example.png).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/process/cli_test_support.h"

namespace refx::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kOversight[] = "asb-hate-prevent-strategy-group";
constexpr char kChromium[] = "/usr/bin/chromium";
// A fixed end, so the weeks and quarters are known: the last ended quarter
// is 2026-Q3, whose last whole ISO week is 2026-W39.
constexpr char kEnd[] = "2026-11-20T12:00:00Z";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Values the seed writes into identity and free-text fields, which no
// report may carry.
void ExpectNoSyntheticValue(const std::string& text, const std::string& what) {
  for (const char* value : {"example.org", "demo-victim", "synthetic demo", "Demo", "Tomasz", "Priya"}) {
    EXPECT_FALSE(absl::StrContains(text, value)) << what << " carries " << value;
  }
}

class DemoSeedTest : public CliTest {
 protected:
  // The README's demo (5,000 referrals over 18 months) unless told smaller,
  // with a fixed end and seed.
  std::vector<std::string> Seed(const std::string& config, const std::string& referrals = "5000",
                                const std::string& months = "18") const {
    return {kAdminBinary, "demo", "seed", "--config", config, "--referrals", referrals, "--months", months,
            "--end", kEnd, "--seed", "7", "--output", "json"};
  }

  // A copy of the server's config whose database is `name` in the test's
  // directory (the key files stay the server's).
  std::string ConfigWithDatabase(const std::string& name) {
    std::string config = ReadAll(server_->config_path());
    config = absl::StrReplaceAll(config, {{server_->config().storage().sqlite_path(), dir_ + "/" + name + "/refx.db"}});
    EXPECT_TRUE(WriteStringToFile(dir_ + "/" + name + ".yaml", config));
    return dir_ + "/" + name + ".yaml";
  }
};

TEST_F(DemoSeedTest, SeedsAnEmptyDatabaseThatTheServerReportsOnWithoutASyntheticValue) {
  const bool sqlite = server_->config().storage().backend() != "postgres";
  if (sqlite) {
    // The server has the file open for writing: a second writer would fork
    // the audit chain, so the seed is refused and writes nothing.
    CommandResult busy = RunCommand(Seed(server_->config_path()), dir_);
    EXPECT_EQ(busy.exit_code, 1) << busy.Describe();
    EXPECT_THAT(busy.err, HasSubstr("open for writing by another process")) << busy.Describe();
  }
  server_->Stop();

  CommandResult seeded = RunCommand(Seed(server_->config_path()), dir_, {}, absl::Seconds(300));
  ASSERT_EQ(seeded.exit_code, 0) << seeded.Describe();
  // 5,000 referrals and the planted rise (1 in 200 more), each with its
  // lifecycle.
  EXPECT_THAT(seeded.out, HasSubstr("\"referrals\":5025,"));
  EXPECT_THAT(seeded.out, HasSubstr("\"spike\":{\"area\":\"charnwood\",\"strand\":\"religion_or_belief\","
                                    "\"week\":\"2026-W39\",\"referrals\":25}"));
  EXPECT_THAT(seeded.err, HasSubstr("changes written")) << "progress on stderr";

  // Demo data never goes beside referrals already there.
  CommandResult again = RunCommand(Seed(server_->config_path()), dir_);
  EXPECT_EQ(again.exit_code, 1) << again.Describe();
  EXPECT_THAT(again.err, HasSubstr("already holds referrals"));
  EXPECT_THAT(again.out, ::testing::IsEmpty());

  if (sqlite) {
    // Every change was audited, and the chain and its signed head verify.
    CommandResult verify = RunCommand({kAdminBinary, "audit", "verify", "--db", server_->config().storage().sqlite_path(),
                                       "--output", "json"},
                                      dir_);
    EXPECT_EQ(verify.exit_code, 0) << verify.Describe();
    EXPECT_THAT(verify.out, HasSubstr("\"intact\":true")) << verify.Describe();

    // The same seed gives the same demo: two more databases, same plan.
    CommandResult first = RunCommand(Seed(ConfigWithDatabase("first"), "300", "6"), dir_);
    CommandResult second = RunCommand(Seed(ConfigWithDatabase("second"), "300", "6"), dir_);
    ASSERT_EQ(first.exit_code, 0) << first.Describe();
    ASSERT_EQ(second.exit_code, 0) << second.Describe();
    EXPECT_THAT(first.out, HasSubstr("\"referrals\":312,"));
    EXPECT_EQ(absl::StrReplaceAll(second.out, {{"/second/", "/first/"}}), first.out);
  }

  // The server opens the seeded database as its own.
  ASSERT_TRUE(server_->Restart().ok());
  CommandResult counts = Refx(kOversight, {"--output", "json", "report", "counts", "--period", "2026-Q3", "--by",
                                           "area,strand", "--scope", "partnership"});
  ASSERT_EQ(counts.exit_code, kExitOk) << counts.Describe();
  v1::CountReferralsResponse by_area;
  ASSERT_TRUE(ParseJson(counts.out, &by_area).ok()) << counts.out;
  const auto& total_row = by_area.rows(by_area.rows_size() - 1);
  ASSERT_EQ(total_row.label(), "Total");
  // About a sixth of 18 months' referrals, plus the rise, in mentions.
  EXPECT_GT(total_row.counts(total_row.counts_size() - 1).value(), 700);
  EXPECT_LT(total_row.counts(total_row.counts_size() - 1).value(), 1200);
  ExpectNoSyntheticValue(counts.out, "counts");

  CommandResult response = Refx(kOversight, {"report", "response-times", "--period", "2026-Q3", "--scope",
                                             "partnership"});
  ASSERT_EQ(response.exit_code, kExitOk) << response.Describe();
  ExpectNoSyntheticValue(response.out, "response times");

  // The monitor finds the planted rise, and nothing in Charnwood's religion
  // series in the other weeks.
  CommandResult tensions = Refx(kOversight, {"report", "tensions", "--first-week", "2026-W27", "--last-week",
                                             "2026-W46", "--csv"});
  ASSERT_EQ(tensions.exit_code, kExitOk) << tensions.Describe();
  EXPECT_THAT(tensions.out, HasSubstr("2026-W39,charnwood,religion_or_belief,"));
  EXPECT_EQ(CountCaseInsensitive(tensions.out, "charnwood,religion_or_belief"), 1) << tensions.out;
  ExpectNoSyntheticValue(tensions.out, "tensions");
  // The tensions group acknowledges it; the report shows what it did.
  CommandResult acknowledged =
      Refx(kOversight, {"report", "acknowledge", "2026-W39/charnwood/religion_or_belief", "--note",
                        "Raised at the tension monitoring meeting; reassurance visits with faith leaders arranged"});
  ASSERT_EQ(acknowledged.exit_code, kExitOk) << acknowledged.Describe();

  // The quarter's HTML report, rendered by a real browser.
  const std::string html_path = dir_ + "/demo-q3.html";
  CommandResult wrote = Refx(kOversight, {"report", "summary", "--period", "2026-Q3", "--html", html_path});
  ASSERT_EQ(wrote.exit_code, kExitOk) << wrote.Describe();
  const std::string html = ReadAll(html_path);
  ExpectNoSyntheticValue(html, "the HTML report");
  EXPECT_THAT(html, HasSubstr("2026-W39: charnwood, religion_or_belief"));
  EXPECT_THAT(html, HasSubstr("2026-W39, charnwood, religion_or_belief: acknowledged by "
                              "agencies/asb-hate-prevent-strategy-group"));
  ASSERT_TRUE(std::filesystem::exists(kChromium)) << "install Debian's chromium (scripts/install-deps.sh)";
  const std::string png = dir_ + "/demo-q3.png";
  CommandResult shot = RunCommand({kChromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                   "--hide-scrollbars", "--window-size=900,2800", "--screenshot=" + png,
                                   "file://" + html_path},
                                  dir_, {}, absl::Seconds(90));
  ASSERT_EQ(shot.exit_code, 0) << shot.Describe();
  EXPECT_GT(std::filesystem::file_size(png), 50000u);
  if (const char* keep = std::getenv("REFX_REPORT_SCREENSHOT"); keep != nullptr && *keep != '\0') {
    std::filesystem::copy_file(png, keep, std::filesystem::copy_options::overwrite_existing);
  }
}

TEST_F(DemoSeedTest, RefusesArgumentsItCannotUseAndSaysWhy) {
  server_->Stop();
  CommandResult future = RunCommand({kAdminBinary, "demo", "seed", "--config", server_->config_path(), "--end",
                                     "2999-01-01T00:00:00Z"},
                                    dir_);
  EXPECT_EQ(future.exit_code, 2) << future.Describe();
  EXPECT_THAT(future.err, HasSubstr("--end is in the future"));
  CommandResult months = RunCommand({kAdminBinary, "demo", "seed", "--config", server_->config_path(), "--months",
                                     "1"},
                                    dir_);
  EXPECT_EQ(months.exit_code, 2) << months.Describe();
  EXPECT_THAT(months.err, HasSubstr("--months"));
  CommandResult no_config = RunCommand({kAdminBinary, "demo", "seed", "--config", dir_ + "/absent.yaml"}, dir_);
  EXPECT_EQ(no_config.exit_code, 2) << no_config.Describe();
  CommandResult help = RunCommand({kAdminBinary, "demo", "seed", "--help"}, dir_);
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, HasSubstr("Refused on a database whose event log holds anything"));
  // Nothing was written by any of them: the server starts on an empty log.
  ASSERT_TRUE(server_->Restart().ok());
  CommandResult list = Refx(kPolice, {"--output", "json", "list"});
  ASSERT_EQ(list.exit_code, kExitOk) << list.Describe();
  EXPECT_THAT(list.out, ::testing::Not(HasSubstr("referrals/")));
}

}  // namespace
}  // namespace refx::testing
