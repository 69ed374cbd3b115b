// `refx report summary --html`: the partnership report as one HTML file,
// rendered in headless Chromium (Debian's `chromium`). The page must render
// without a console error or a refused fetch, show every chart with its
// title, keep withheld counts withheld, and carry no script, external
// reference or value of a free-text or identity field.
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/agreement_test_support.h"
#include "tests/process/cli_test_support.h"

namespace refx::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kChromium[] = "/usr/bin/chromium";
constexpr char kNameCanary[] = "Qzhtmlcanary";

absl::Time London(int y, int m, int d, int hh) {
  absl::TimeZone tz;
  EXPECT_TRUE(absl::LoadTimeZone("Europe/London", &tz));
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, 0, 0), tz);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class ReportHtmlTest : public CliTest {
 protected:
  void SetUp() override {
    auto server = TestServer::StartOnClock(&clock_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    dir_ = MakeTempDir("report-html");
  }

  void Create(const std::string& recipient, const std::string& area, const std::string& strand, bool online,
              v1::ReportType type) {
    v1::Referral r = ValidReferral(recipient);
    r.set_area(area);
    r.mutable_strands(0)->set_strand(strand);
    r.set_online(online);
    r.set_report_type(type);
    r.mutable_victim()->set_given_name(kNameCanary);
    r.set_incident_narrative("QZHTMLNARRATIVE shouted at in the street");
    auto created = server_->Client(kPolice).CreateReferral(r, absl::StrCat("html-", ++counter_));
    ASSERT_TRUE(created.ok()) << created.status();
  }

  FakeClock clock_{London(2025, 10, 6, 9)};
};

TEST_F(ReportHtmlTest, TheReportRendersInChromiumWithEveryChartAndNothingWithheldShown) {
  ASSERT_TRUE(std::filesystem::exists(kChromium)) << "install Debian's chromium (scripts/install-deps.sh)";
  // A year of referrals: 12 a quarter to the city council, 3 to Blaby in
  // the first quarter of 2026 (withheld), and a spike of race hate in
  // Leicester in March.
  for (int q = 0; q < 3; ++q) {
    for (int i = 0; i < 12; ++i) {
      clock_.Set(London(2025, 10, 6, 9) + absl::Hours(24 * 91 * q) + absl::Hours(40 * i));
      Create(kCityCouncil, "leicester", i % 3 == 0 ? "sexual_orientation" : "race", i % 4 == 0,
             i % 2 == 0 ? v1::HATE_CRIME : v1::HATE_INCIDENT);
    }
  }
  for (int i = 0; i < 3; ++i) {
    clock_.Set(London(2026, 2, 10, 9) + absl::Hours(i));
    Create(kBlaby, "blaby", "disability", true, v1::HATE_INCIDENT);
  }
  for (int i = 0; i < 10; ++i) {
    clock_.Set(London(2026, 3, 4, 9) + absl::Minutes(i));
    Create(kCityCouncil, "leicester", "race", false, v1::HATE_CRIME);
  }
  clock_.Set(London(2026, 7, 2, 9));

  const std::string html_path = dir_ + "/q1.html";
  CommandResult wrote = Refx("asb-hate-prevent-strategy-group",
                             {"report", "summary", "--period", "2026-Q1", "--html", html_path});
  ASSERT_EQ(wrote.exit_code, kExitOk) << wrote.Describe();
  EXPECT_THAT(wrote.out, HasSubstr("wrote " + html_path));
  EXPECT_THAT(wrote.out, HasSubstr("8 releases"));
  // Each release asked once, so audited once: four tables of the quarter,
  // the three quarters before it by area, and the response times.
  CommandResult audit = Refx("llr-information-governance",
                             {"--output", "json", "audit", "list", "--agency", "asb-hate-prevent-strategy-group",
                              "--action", "DISCLOSURE", "--all"});
  ASSERT_EQ(audit.exit_code, kExitOk) << audit.Describe();
  EXPECT_EQ(CountCaseInsensitive(audit.out, "ReportingService.CountReferrals\""), 7) << audit.out;
  EXPECT_EQ(CountCaseInsensitive(audit.out, "ReportingService.ReportResponseTimes\""), 1) << audit.out;
  const std::string html = ReadAll(html_path);

  // Self-contained: no script, no reference to anywhere else.
  EXPECT_FALSE(absl::StrContains(html, "<script"));
  EXPECT_FALSE(absl::StrContains(html, "http:"));
  EXPECT_FALSE(absl::StrContains(html, "https:"));
  EXPECT_FALSE(absl::StrContains(html, "src="));
  EXPECT_FALSE(absl::StrContains(html, "href="));
  EXPECT_FALSE(std::regex_search(html, std::regex("url\\((?!#)")));
  EXPECT_THAT(html, HasSubstr("default-src 'none'"));
  // No free text or identity, ever.
  EXPECT_FALSE(absl::StrContains(html, kNameCanary));
  EXPECT_FALSE(absl::StrContains(html, "QZHTMLNARRATIVE"));

  // Rendered by a real browser: the DOM it built, and what it logged.
  CommandResult dom = RunCommand({kChromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                  "--enable-logging=stderr", "--v=0", "--dump-dom", "file://" + html_path},
                                 dir_, {}, absl::Seconds(90));
  ASSERT_EQ(dom.exit_code, 0) << dom.Describe();
  for (const char* title : {"How these figures are protected", "Referrals by area",
                            "Referrals per area, quarter by quarter", "Strand mix", "Hate crimes and hate incidents",
                            "How reports were made", "How fast partners responded", "Community tension alerts"}) {
    EXPECT_THAT(dom.out, HasSubstr(absl::StrCat(">", title, "<"))) << title;
  }
  for (const char* chart : {"area", "trend", "strand", "report-type", "channel", "response", "tensions"}) {
    EXPECT_THAT(dom.out, HasSubstr(absl::StrCat("<title id=\"", chart, "-title\">"))) << chart;
  }
  // Blaby's 3 is withheld, in the chart and in its table.
  EXPECT_THAT(dom.out, HasSubstr("<th scope=\"row\">blaby</th><td>withheld</td>"));
  EXPECT_THAT(dom.out, HasSubstr("Counts from 1 to 7 are withheld"));
  // The March spike is on the timeline, as bands.
  EXPECT_THAT(dom.out, ::testing::ContainsRegex("2026-W10: leicester, race \\(10 to 19; baseline"));
  // No console message of any kind (a refused fetch or a script error
  // would be one).
  EXPECT_FALSE(absl::StrContains(dom.err, "CONSOLE")) << dom.err;
  EXPECT_FALSE(absl::StrContains(dom.err, "Refused to")) << dom.err;

  // It paints (the README's screenshot comes from the seeded demo instead,
  // tests/process/demo_seed_test.cc).
  const std::string png = dir_ + "/q1.png";
  CommandResult shot = RunCommand({kChromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                   "--hide-scrollbars", "--window-size=900,2600", "--screenshot=" + png,
                                   "file://" + html_path},
                                  dir_, {}, absl::Seconds(90));
  ASSERT_EQ(shot.exit_code, 0) << shot.Describe();
  ASSERT_TRUE(std::filesystem::exists(png));
  EXPECT_GT(std::filesystem::file_size(png), 20000u);

  // Refusals pass through: a role without REPORT_READ, a quarter not ended.
  CommandResult denied = Refx("nhs-hate-crime-healthcare-partnership", {"report", "summary", "--period", "2026-Q1", "--html",
                                                   dir_ + "/denied.html"});
  EXPECT_EQ(denied.exit_code, kExitAuth) << denied.Describe();
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/denied.html"));
  CommandResult not_ended = Refx("asb-hate-prevent-strategy-group",
                                 {"report", "summary", "--period", "2026-Q3", "--html", dir_ + "/q3.html"});
  EXPECT_EQ(not_ended.exit_code, kExitInvalid) << not_ended.Describe();
  CommandResult bad =
      Refx("asb-hate-prevent-strategy-group", {"report", "summary", "--period", "2026-7", "--html", dir_ + "/x.html"});
  EXPECT_NE(bad.exit_code, kExitOk);
  EXPECT_THAT(bad.err, HasSubstr("--period")) << bad.Describe();
  // A month beside LLR's quarterly grid is refused by the server.
  CommandResult off_grid = Refx("asb-hate-prevent-strategy-group",
                                {"report", "summary", "--period", "2026-03", "--html", dir_ + "/march.html"});
  EXPECT_NE(off_grid.exit_code, kExitOk);
  EXPECT_THAT(off_grid.err, HasSubstr("releases tables by quarter only")) << off_grid.Describe();
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/march.html"));
}

// Under an agreement that releases by month, the report is a month's and
// its trend per area the twelve months up to it, each month released (and
// audited) once; a quarter is refused beside that grid.
TEST_F(ReportHtmlTest, UnderAMonthlyGridTheTrendIsTwelveMonths) {
  ReloadAgreementWith(*server_, "-monthly", [](config::v1::Agreement& a) {
    a.mutable_statistical_disclosure()->set_release_period(config::v1::RELEASE_PERIOD_MONTH);
  });
  // Ten referrals in Leicester each month from October 2025 to March 2026.
  for (int month = 0; month < 6; ++month) {
    for (int i = 0; i < 10; ++i) {
      clock_.Set(absl::FromCivil(absl::CivilSecond(2025, 10 + month, 3, 9, i, 0), absl::UTCTimeZone()));
      Create(kCityCouncil, "leicester", "race", false, v1::HATE_CRIME);
    }
  }
  // After the ISO week March ends in (2026-W14) has ended too.
  clock_.Set(London(2026, 4, 7, 9));
  const std::string html_path = dir_ + "/march.html";
  CommandResult wrote =
      Refx("asb-hate-prevent-strategy-group", {"report", "summary", "--period", "2026-03", "--html", html_path});
  ASSERT_EQ(wrote.exit_code, kExitOk) << wrote.Describe();
  // Four tables of the month, the eleven months before it by area, and the
  // response times.
  EXPECT_THAT(wrote.out, HasSubstr("16 releases"));
  const std::string html = ReadAll(html_path);
  EXPECT_THAT(html, HasSubstr(">Referrals per area, month by month<"));
  EXPECT_THAT(html, HasSubstr("2025-04, 2025-05, 2025-06, 2025-07, 2025-08, 2025-09, 2025-10, 2025-11, 2025-12, "
                              "2026-01, 2026-02, 2026-03, oldest first"));
  EXPECT_THAT(html, HasSubstr("the agreement releases counts by month"));
  // Each month of Leicester's ten, none before October.
  EXPECT_THAT(html, HasSubstr("<title>leicester 2026-03: 10</title>"));
  EXPECT_THAT(html, HasSubstr("<title>leicester 2025-10: 10</title>"));
  EXPECT_THAT(html, HasSubstr("<title>leicester 2025-09: 0</title>"));
  EXPECT_THAT(html, HasSubstr("<th scope=\"col\">2025-04</th>"));
  EXPECT_FALSE(absl::StrContains(html, kNameCanary));
  CommandResult quarter = Refx("asb-hate-prevent-strategy-group",
                               {"report", "summary", "--period", "2026-Q1", "--html", dir_ + "/q1.html"});
  EXPECT_NE(quarter.exit_code, kExitOk);
  EXPECT_THAT(quarter.err, HasSubstr("releases tables by month only")) << quarter.Describe();
}

}  // namespace
}  // namespace refx::testing
