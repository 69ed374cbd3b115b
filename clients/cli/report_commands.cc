// `refx report counts`, `response-times`, `tensions`, `acknowledge` and
// `summary`: protected aggregate tables and tension alerts
// (ReportingService), as a table, CSV, JSON or HTML. The server applies
// disclosure control; this prints what it released, withheld counts and
// medians as `*`, and the rules under the tables.
#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "clients/cli/commands_internal.h"
#include "clients/cli/report_html.h"
#include "common/status_details.h"
#include "core/reporting/iso_week.h"
#include "core/reporting/release_period.h"
#include "google/protobuf/struct.pb.h"

namespace refx::cli {
namespace {

using refx::client::ReferralClient;

std::string CountText(const refx::v1::ReleasedCount& count) {
  return count.withheld() ? "*" : absl::StrCat(count.value());
}

// A CSV field, quoted when it holds a comma, quote or line break.
std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

std::string MedianText(const refx::v1::ReleasedMedian& median) {
  return median.withheld() ? "*" : absl::StrCat(median.hours());
}

// Prints `grid` (a header line, then rows) as CSV or as aligned columns.
void PrintGrid(const std::vector<std::vector<std::string>>& grid, bool csv) {
  if (csv) {
    for (const auto& line : grid) {
      std::vector<std::string> fields;
      for (const auto& cell : line) fields.push_back(CsvField(cell));
      std::cout << absl::StrJoin(fields, ",") << "\n";
    }
    return;
  }
  std::vector<size_t> widths(grid[0].size(), 0);
  for (const auto& line : grid) {
    for (size_t i = 0; i < line.size() && i < widths.size(); ++i) widths[i] = std::max(widths[i], line[i].size());
  }
  for (const auto& line : grid) {
    for (size_t i = 0; i < line.size() && i < widths.size(); ++i) {
      const std::string pad(widths[i] - line[i].size(), ' ');
      std::cout << (i == 0 ? line[i] + pad : "  " + pad + line[i]);
    }
    std::cout << "\n";
  }
}

// A response-times table with its medians as the last column.
std::vector<std::vector<std::string>> TimesGrid(const refx::v1::ResponseTimesTable& table, const std::string& name) {
  std::vector<std::vector<std::string>> grid;
  std::vector<std::string> header = {name};
  for (const auto& label : table.column_labels()) header.push_back(Sanitize(label));
  header.push_back("median hours");
  grid.push_back(header);
  for (int r = 0; r < table.rows_size(); ++r) {
    std::vector<std::string> line = {Sanitize(table.rows(r).label())};
    for (const auto& count : table.rows(r).counts()) line.push_back(CountText(count));
    line.push_back(r < table.medians_size() ? MedianText(table.medians(r)) : "*");
    grid.push_back(line);
  }
  return grid;
}

// Both tables in one long CSV: table, recipient agency type, column, value.
void AppendTimesCsv(const refx::v1::ResponseTimesTable& table, const std::string& name,
                    std::vector<std::vector<std::string>>* csv) {
  for (int r = 0; r < table.rows_size(); ++r) {
    const std::string row = Sanitize(table.rows(r).label());
    for (int c = 0; c < table.rows(r).counts_size() && c < table.column_labels_size(); ++c) {
      csv->push_back({name, row, Sanitize(table.column_labels(c)), CountText(table.rows(r).counts(c))});
    }
    if (r < table.medians_size()) csv->push_back({name, row, "median hours", MedianText(table.medians(r))});
  }
}

}  // namespace

void AddReport(CLI::App* app, CommandLine* f) {
  f->report = app->add_subcommand("report", "Protected aggregate reports (roles the agreement grants REPORT_READ)");
  f->report->require_subcommand(1);
  f->report_counts = f->report->add_subcommand("counts", "Counts of referrals created in one ended period");
  CLI::App* c = f->report_counts;
  c->add_option("--period", f->report_period, "A month (2026-07), quarter (2026-Q3) or year (2026), as the "
                                              "agreement's release grid says; it must have ended")
      ->required();
  c->add_option("--by", f->report_by,
                "One or two of: area, strand, report-type, channel, online, recipient-type, repeat-victim, "
                "outcome (rows,columns; a strand table has the strands as its columns, counted as mentions, and "
                "its rows' totals in referrals)")
      ->required();
  c->add_option("--scope", f->report_scope, "own: your agency's referrals (default); partnership: every referral "
                                            "(REPORT_PARTNERSHIP)")
      ->check(CLI::IsMember({"own", "partnership"}));
  c->add_flag("--csv", f->report_csv, "Print CSV (withheld counts as *) instead of a table");
  c->footer(
      "Counts 1 to 7 are withheld and the rest rounded to 5 (the agreement's statistical_disclosure);\n"
      "further counts are withheld where the totals would give a withheld one away. `*` marks a\n"
      "withheld count. The rules applied are printed with every release; `-o json` returns the\n"
      "release as the API sends it, with its release id (which the audit log records).\n\n"
      "EXAMPLES\n"
      "  refx report counts --period 2026-Q3 --by area,strand --scope partnership --profile oversight\n"
      "  refx report counts --period 2026-Q3 --by report-type --csv > q3.csv\n");
  f->report_response_times = f->report->add_subcommand(
      "response-times", "How fast referrals created in one ended period were answered and completed");
  CLI::App* t = f->report_response_times;
  t->add_option("--period", f->report_period, "A month, quarter or year on the agreement's release grid, ended")
      ->required();
  t->add_option("--scope", f->report_scope, "own (default) or partnership (REPORT_PARTNERSHIP)")
      ->check(CLI::IsMember({"own", "partnership"}));
  t->add_flag("--csv", f->report_csv, "Print both tables as one long CSV: table, recipient agency type, column, "
                                      "value (withheld as *)");
  t->footer(
      "Per type of recipient agency: referrals created in the period by time to the first response\n"
      "(accept, decline or redirect), withdrawn unanswered, or still awaiting one at the period's\n"
      "end (overdue or not yet due); the same by time to completion; and the median hours to each.\n"
      "Everything is as at the period's end, so a release never changes. Counts are protected as for\n"
      "`refx report counts`; a median is shown only when the released counts show at least the\n"
      "threshold of referrals behind it.\n\n"
      "EXAMPLES\n"
      "  refx report response-times --period 2026-Q3 --scope partnership --profile oversight\n"
      "  refx report response-times --period 2026-Q3 -o json | jq '.firstResponse.medians'\n");
  f->report_tensions = f->report->add_subcommand(
      "tensions", "Community-tension alerts: weeks unusually high for an area and strand (REPORT_PARTNERSHIP)");
  CLI::App* w = f->report_tensions;
  w->add_option("--first-week", f->report_first_week, "First ISO week, e.g. 2026-W14 (default: 12 weeks before "
                                                       "the last)");
  w->add_option("--last-week", f->report_last_week, "Last ISO week, ended (default: the last ended week)");
  w->add_flag("--csv", f->report_csv, "Print CSV: week, area, strand, count band, baseline band, name, "
                                      "acknowledged by, acknowledged at, note");
  w->add_flag("--follow", f->report_follow,
              "Stay connected and print each week's alerts when the week ends (from --first-week, default\n"
              "the week in progress), reconnecting by itself where the stream left off");
  w->add_option("--max-alerts", f->report_max_alerts, "With --follow: exit after this many alerts (0: never)")
      ->check(CLI::NonNegativeNumber);
  w->footer(
      "Each area and strand, and online hate per strand, is counted by ISO week (Monday to Sunday,\n"
      "Europe/London) and a week alerts when its count is unusually high against the weeks before it,\n"
      "by the agreement's tension_monitoring test (printed with the alerts). Counts and baselines are\n"
      "bands, never exact counts. At most 104 weeks at a time. Each alert shows whether the tensions\n"
      "group has acknowledged it (`refx report acknowledge`); its note is in the CSV and JSON.\n\n"
      "EXAMPLES\n"
      "  refx report tensions --profile oversight\n"
      "  refx report tensions --first-week 2026-W01 --last-week 2026-W26 --csv > alerts.csv\n"
      "  refx report tensions --follow -o json | my-alerting-hook      # one JSON line per alert\n\n"
      "With --follow, each week is tested when it ends (Monday 00:00); a line on stderr says which week\n"
      "was tested, so a week without alerts is visibly checked too.\n");
  f->report_acknowledge = f->report->add_subcommand(
      "acknowledge", "Acknowledge a community-tension alert with a note (the tensions group: TENSION_ACKNOWLEDGE)");
  CLI::App* k = f->report_acknowledge;
  k->add_option("alert", f->tension_alert,
                "The alert: tensionAlerts/WEEK/AREA/STRAND or WEEK/AREA/STRAND, as `refx report tensions` lists it")
      ->required();
  k->add_option("--note", f->tension_note,
                "What the group did (at most 1024 bytes). Every role that lists alerts sees it: actions and "
                "decisions, never a name")
      ->required();
  k->add_option("--request-id", f->request_id, "Idempotency key; a retry with the same id is safe (default: new)");
  k->footer(
      "One acknowledgement per alert; a second, from anyone, is refused (exit 7) and names the first.\n"
      "The alert must be one `refx report tensions` lists (exit 3 otherwise).\n\n"
      "EXAMPLE\n"
      "  refx report acknowledge 2026-W39/charnwood/religion_or_belief --profile oversight \\\n"
      "      --note \"Raised at the tension monitoring meeting; reassurance visits arranged\"\n");
  f->report_summary =
      f->report->add_subcommand("summary", "One period's partnership report as a self-contained HTML file with charts");
  CLI::App* h = f->report_summary;
  h->add_option("--period", f->report_period,
                "An ended period on the agreement's release grid: a quarter (2026-Q3; LLR), or a month (2026-07) or "
                "year (2026) where the agreement releases by month or year")
      ->required();
  h->add_option("--html", f->report_html, "Write the report here (one HTML file: no scripts, no fetches)")
      ->required();
  h->add_option("--scope", f->report_summary_scope, "partnership (default) or own")
      ->check(CLI::IsMember({"own", "partnership"}));
  h->footer(
      "Asks the server for the period's releases (counts by area, strand, report type and channel; the\n"
      "area counts of the period and those before it: 12 months, 4 quarters or 3 years, so the trend is\n"
      "drawn on the agreement's grid; response times; the period's tension alerts) and draws them as\n"
      "inline SVG charts, each with its figures as a table. Withheld counts stay withheld: the file holds\n"
      "only what the server released, and states the rules applied. Every release is audited as usual.\n"
      "Tension alerts need REPORT_PARTNERSHIP.\n\n"
      "EXAMPLES\n"
      "  refx report summary --period 2026-Q3 --html q3.html --profile oversight\n"
      "  refx report summary --period 2026-07 --html july.html   # under an agreement releasing by month\n");
  for (CLI::App* sub :
       {f->report, f->report_counts, f->report_response_times, f->report_tensions, f->report_acknowledge,
        f->report_summary}) {
    sub->fallthrough();
  }
}

absl::StatusOr<refx::v1::CountReferralsRequest> BuildCountRequest(const CommandLine& f) {
  static const std::map<std::string, refx::v1::ReportDimension> kDimensions = {
      {"area", refx::v1::AREA},       {"strand", refx::v1::STRAND},
      {"report-type", refx::v1::REPORT_TYPE}, {"channel", refx::v1::REPORTING_CHANNEL},
      {"online", refx::v1::ONLINE},           {"recipient-type", refx::v1::RECIPIENT_AGENCY_TYPE},
      {"repeat-victim", refx::v1::REPEAT_VICTIM}, {"outcome", refx::v1::OUTCOME}};
  refx::v1::CountReferralsRequest request;
  request.set_period(f.report_period);
  for (absl::string_view part : absl::StrSplit(f.report_by, ',', absl::SkipWhitespace())) {
    auto it = kDimensions.find(absl::AsciiStrToLower(absl::StripAsciiWhitespace(part)));
    if (it == kDimensions.end()) {
      return InvalidArgumentError("invalid --by",
                                  {{"--by", "each of: area, strand, report-type, channel, online, recipient-type, repeat-victim, "
                                             "outcome"}});
    }
    request.add_dimensions(it->second);
  }
  request.set_scope(f.report_scope == "partnership" ? refx::v1::PARTNERSHIP : refx::v1::OWN_REFERRALS);
  return request;
}

int RunReportCounts(ReferralClient& client, const CommandLine& f, const refx::v1::CountReferralsRequest& request,
                    OutputFormat format) {
  auto release = client.CountReferrals(request);
  if (!release.ok()) return Fail(release.status(), format, false);
  if (format == OutputFormat::kJson) {
    std::cout << RenderJson(*release);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> grid;
  std::vector<std::string> header = {""};
  for (const auto& label : release->column_labels()) header.push_back(Sanitize(label));
  grid.push_back(header);
  for (const auto& row : release->rows()) {
    std::vector<std::string> line = {Sanitize(row.label())};
    for (const auto& count : row.counts()) line.push_back(CountText(count));
    grid.push_back(line);
  }
  if (f.report_csv) {
    PrintGrid(grid, /*csv=*/true);
    return kExitOk;
  }
  std::cout << Sanitize(release->period()) << ", " << Sanitize(release->unit()) << " ("
            << (release->scope() == refx::v1::PARTNERSHIP ? "whole partnership" : "your agency's referrals")
            << ")\n";
  PrintGrid(grid, /*csv=*/false);
  std::cout << "* withheld. " << Sanitize(release->rules()) << "\n"
            << Sanitize(release->release()) << " under " << Sanitize(release->agreement()) << "\n";
  return kExitOk;
}

int RunReportResponseTimes(ReferralClient& client, const CommandLine& f, OutputFormat format) {
  refx::v1::ReportResponseTimesRequest request;
  request.set_period(f.report_period);
  request.set_scope(f.report_scope == "partnership" ? refx::v1::PARTNERSHIP : refx::v1::OWN_REFERRALS);
  auto release = client.ReportResponseTimes(request);
  if (!release.ok()) return Fail(release.status(), format, false);
  if (format == OutputFormat::kJson) {
    std::cout << RenderJson(*release);
    return kExitOk;
  }
  if (f.report_csv) {
    std::vector<std::vector<std::string>> csv = {{"table", "recipient agency type", "column", "value"}};
    AppendTimesCsv(release->first_response(), "first response", &csv);
    AppendTimesCsv(release->completion(), "completion", &csv);
    PrintGrid(csv, /*csv=*/true);
    return kExitOk;
  }
  const auto first = TimesGrid(release->first_response(), "first response");
  const auto completion = TimesGrid(release->completion(), "completion");
  std::cout << Sanitize(release->period()) << ", referrals created in it, as at its end ("
            << (release->scope() == refx::v1::PARTNERSHIP ? "whole partnership" : "your agency's referrals")
            << ")\n";
  PrintGrid(first, /*csv=*/false);
  std::cout << "\n";
  PrintGrid(completion, /*csv=*/false);
  std::cout << "* withheld. " << Sanitize(release->rules()) << "\n"
            << Sanitize(release->release()) << " under " << Sanitize(release->agreement()) << "\n";
  return kExitOk;
}

namespace {

std::string AlertLine(const refx::v1::TensionAlert& alert) {
  return absl::StrCat(Sanitize(alert.week()), "  ", Sanitize(alert.area()), "  ", Sanitize(alert.strand()), "  count ",
                      Sanitize(alert.count_band()), "  baseline ", Sanitize(alert.baseline_band()),
                      alert.has_acknowledgement() ? "  acknowledged" : "", "\n");
}

// `refx report tensions --follow`: WatchTensionAlerts, reconnecting from the
// next week to test after a resumable end.
int FollowTensions(ReferralClient& client, const CommandLine& f, OutputFormat format) {
  if (!f.report_last_week.empty()) {
    return Fail(absl::InvalidArgumentError("--follow has no last week: it runs until stopped (or --max-alerts)"),
                format, /*local=*/true);
  }
  refx::v1::WatchTensionAlertsRequest request;
  request.set_first_week(f.report_first_week);
  int alerts = 0;
  absl::Duration backoff = absl::Milliseconds(200);
  while (true) {
    absl::Status ended = client.WatchTensionAlerts(request, [&](const refx::v1::WatchTensionAlertsResponse& m) {
      using Response = refx::v1::WatchTensionAlertsResponse;
      if (m.kind() == Response::SUBSCRIBED || m.kind() == Response::WEEKS_CHECKED) {
        request.set_first_week(m.next_week());  // where a reconnection resumes
        backoff = absl::Milliseconds(200);
        if (m.kind() == Response::SUBSCRIBED) {
          std::cerr << "testing weeks from " << Sanitize(m.next_week()) << " as they end; " << Sanitize(m.method())
                    << "\n";
        } else {
          std::cerr << "tested through " << Sanitize(m.checked_through_week()) << "\n";
        }
        return true;
      }
      std::cout << (format == OutputFormat::kJson ? RenderJsonLine(m.alert()) : AlertLine(m.alert())) << std::flush;
      return f.report_max_alerts == 0 || ++alerts < f.report_max_alerts;
    });
    if (!refx::client::IsResumableWatchEnd(ended)) {
      if (!ended.ok()) return Fail(ended, format, false);
      return kExitOk;
    }
    std::cerr << "stream ended (" << absl::StatusCodeToString(ended.code()) << "); reconnecting from "
              << Sanitize(request.first_week()) << "\n";
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(10));
  }
}

}  // namespace

int RunReportTensions(ReferralClient& client, const CommandLine& f, OutputFormat format) {
  if (f.report_follow) return FollowTensions(client, f, format);
  refx::v1::ListTensionAlertsRequest request;
  request.set_first_week(f.report_first_week);
  request.set_last_week(f.report_last_week);
  auto listed = client.ListTensionAlerts(request);
  if (!listed.ok()) return Fail(listed.status(), format, false);
  if (format == OutputFormat::kJson) {
    std::cout << RenderJson(*listed);
    return kExitOk;
  }
  auto acknowledged_at = [](const refx::v1::TensionAlert& alert) {
    return alert.has_acknowledgement() ? FormatTimestamp(alert.acknowledgement().acknowledge_time()) : "";
  };
  if (f.report_csv) {
    std::vector<std::vector<std::string>> csv = {{"week", "area", "strand", "count", "baseline", "name",
                                                  "acknowledged_by", "acknowledged_at", "note"}};
    for (const auto& alert : listed->alerts()) {
      csv.push_back({Sanitize(alert.week()), Sanitize(alert.area()), Sanitize(alert.strand()),
                     Sanitize(alert.count_band()), Sanitize(alert.baseline_band()), Sanitize(alert.name()),
                     Sanitize(alert.acknowledgement().agency()), acknowledged_at(alert),
                     Sanitize(alert.acknowledgement().note())});
    }
    PrintGrid(csv, /*csv=*/true);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> grid = {{"week", "area", "strand", "count", "baseline", "acknowledged"}};
  for (const auto& alert : listed->alerts()) {
    const std::string by = alert.has_acknowledgement()
                               ? absl::StrCat(Sanitize(alert.acknowledgement().agency()), " ",
                                              acknowledged_at(alert).substr(0, 10))
                               : "no";
    grid.push_back({Sanitize(alert.week()), Sanitize(alert.area()), Sanitize(alert.strand()),
                    Sanitize(alert.count_band()), Sanitize(alert.baseline_band()), by});
  }
  std::cout << listed->alerts_size() << (listed->alerts_size() == 1 ? " alert" : " alerts") << " in "
            << Sanitize(listed->first_week()) << " to " << Sanitize(listed->last_week()) << " (" << listed->series()
            << " series tested each week)\n";
  if (listed->alerts_size() > 0) PrintGrid(grid, /*csv=*/false);
  std::cout << Sanitize(listed->method()) << "\nUnder " << Sanitize(listed->agreement()) << "\n";
  return kExitOk;
}

int RunReportAcknowledge(ReferralClient& client, const CommandLine& f, OutputFormat format) {
  refx::v1::AcknowledgeTensionAlertRequest request;
  request.set_name(absl::StartsWith(f.tension_alert, "tensionAlerts/") ? f.tension_alert
                                                                       : "tensionAlerts/" + f.tension_alert);
  request.set_note(f.tension_note);
  request.set_request_id(f.request_id);
  if (request.request_id().empty()) {
    auto id = NewRequestId();
    if (!id.ok()) return Fail(id.status(), format, /*local=*/false);
    request.set_request_id(*id);
  }
  auto acknowledged = client.AcknowledgeTensionAlert(request);
  if (!acknowledged.ok()) return Fail(acknowledged.status(), format, false, request.request_id());
  std::cout << (format == OutputFormat::kJson ? RenderJson(*acknowledged) : RenderKeyValues(*acknowledged));
  return kExitOk;
}

namespace {

// How many periods the trend per area shows, ending with the report's own.
int TrendLength(refx::core::reporting::PeriodKind kind) {
  switch (kind) {
    case refx::core::reporting::PeriodKind::kMonth:
      return 12;
    case refx::core::reporting::PeriodKind::kQuarter:
      return 4;
    case refx::core::reporting::PeriodKind::kYear:
      return 3;
  }
  return 1;
}

}  // namespace

int RunReportSummary(ReferralClient& client, const CommandLine& f, OutputFormat format) {
  const bool partnership = f.report_summary_scope != "own";
  const auto scope = partnership ? refx::v1::PARTNERSHIP : refx::v1::OWN_REFERRALS;
  // The partnership's calendar only names the periods here; the server
  // decides which are on its grid and ended.
  absl::TimeZone london;
  if (!absl::LoadTimeZone("Europe/London", &london)) london = absl::UTCTimeZone();
  const auto period = refx::core::reporting::ParseReleasePeriod(f.report_period, london);
  if (!period.ok()) {
    return Fail(InvalidArgumentError("invalid --period", {{"--period", std::string(period.status().message())}}),
                format, true);
  }
  ReportBundle bundle;
  bundle.period = period->label;
  bundle.grid = refx::core::reporting::PeriodKindName(period->kind);
  auto count = [&](std::vector<refx::v1::ReportDimension> dims,
                   const std::string& label) -> absl::StatusOr<refx::v1::CountReferralsResponse> {
    refx::v1::CountReferralsRequest request;
    request.set_period(label);
    request.set_scope(scope);
    for (auto d : dims) request.add_dimensions(d);
    return client.CountReferrals(request);
  };
  struct Table {
    refx::v1::ReportDimension dimension;
    refx::v1::CountReferralsResponse* out;
  };
  for (const Table& t : {Table{refx::v1::AREA, &bundle.by_area}, Table{refx::v1::STRAND, &bundle.by_strand},
                         Table{refx::v1::REPORT_TYPE, &bundle.by_report_type},
                         Table{refx::v1::REPORTING_CHANNEL, &bundle.by_channel}}) {
    auto release = count({t.dimension}, bundle.period);
    if (!release.ok()) return Fail(release.status(), format, false);
    *t.out = *std::move(release);
  }
  // The periods before, oldest first, then this one's by-area release again
  // (not asked twice: each release is audited and ledgered).
  for (int back = TrendLength(period->kind) - 1; back >= 1; --back) {
    const auto earlier = refx::core::reporting::PeriodBefore(*period, back, london);
    if (!earlier.ok()) continue;  // before the first year refx counts
    auto release = count({refx::v1::AREA}, earlier->label);
    if (!release.ok()) return Fail(release.status(), format, false);
    bundle.area_trend.push_back(*std::move(release));
  }
  bundle.area_trend.push_back(bundle.by_area);
  refx::v1::ReportResponseTimesRequest times;
  times.set_period(bundle.period);
  times.set_scope(scope);
  auto response_times = client.ReportResponseTimes(times);
  if (!response_times.ok()) return Fail(response_times.status(), format, false);
  bundle.response_times = *std::move(response_times);

  // The ISO weeks of the period that have ended.
  const absl::Time start = absl::FromUnixMicros(
      bundle.response_times.period_start().seconds() * 1000000 + bundle.response_times.period_start().nanos() / 1000);
  const absl::Time end = absl::FromUnixMicros(bundle.response_times.period_end().seconds() * 1000000 +
                                              bundle.response_times.period_end().nanos() / 1000);
  const auto first = refx::core::reporting::WeekOf(absl::ToCivilDay(start, london), london);
  auto last = refx::core::reporting::WeekOf(absl::ToCivilDay(end - absl::Seconds(1), london), london);
  if (absl::Now() < last.end) last = refx::core::reporting::WeeksAfter(last, -1, london);
  refx::v1::ListTensionAlertsRequest alerts;
  alerts.set_first_week(first.label);
  alerts.set_last_week(last.label);
  auto tensions = client.ListTensionAlerts(alerts);
  if (!tensions.ok()) return Fail(tensions.status(), format, false);
  bundle.tensions = *std::move(tensions);
  bundle.generated = absl::FormatTime(absl::RFC3339_sec, absl::Now(), absl::UTCTimeZone());

  const std::string html = RenderReportHtml(bundle);
  std::ofstream out(f.report_html, std::ios::binary | std::ios::trunc);
  out << html;
  out.close();
  if (!out) {
    return Fail(absl::UnavailableError(absl::StrCat("could not write ", f.report_html)), format, true);
  }
  // The period's four tables, the earlier periods of the trend, the
  // response times.
  const size_t releases = 4 + (bundle.area_trend.size() - 1) + 1;
  if (format == OutputFormat::kJson) {
    google::protobuf::Struct written;
    (*written.mutable_fields())["file"].set_string_value(f.report_html);
    (*written.mutable_fields())["bytes"].set_number_value(static_cast<double>(html.size()));
    std::cout << RenderJson(written);
  } else {
    std::cout << "wrote " << Sanitize(f.report_html) << " (" << html.size() << " bytes): " << bundle.period << ", "
              << releases << " releases and the tension alerts of " << first.label << " to " << last.label << "\n";
  }
  return kExitOk;
}

}  // namespace refx::cli
