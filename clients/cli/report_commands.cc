// `refx report counts`: a protected aggregate table (ReportingService), as
// a table, CSV or JSON. The server applies disclosure control; this prints
// what it released, withheld counts as `*`, and the rules under the table.
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "clients/cli/commands_internal.h"
#include "common/status_details.h"

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

}  // namespace

void AddReport(CLI::App* app, CommandLine* f) {
  f->report = app->add_subcommand("report", "Protected aggregate reports (roles the agreement grants REPORT_READ)");
  f->report->require_subcommand(1);
  f->report_counts = f->report->add_subcommand("counts", "Counts of referrals created in one ended period");
  CLI::App* c = f->report_counts;
  c->add_option("--period", f->report_period, "A month (2026-07), quarter (2026-Q3) or year (2026), as the "
                                              "agreement's release grid says; it must have ended")
      ->required();
  c->add_option("--by", f->report_by, "One or two of: area, strand, report-type, channel, online (rows,columns)")
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
  for (CLI::App* sub : {f->report, f->report_counts}) sub->fallthrough();
}

absl::StatusOr<refx::v1::CountReferralsRequest> BuildCountRequest(const CommandLine& f) {
  static const std::map<std::string, refx::v1::ReportDimension> kDimensions = {
      {"area", refx::v1::AREA},       {"strand", refx::v1::STRAND},
      {"report-type", refx::v1::REPORT_TYPE}, {"channel", refx::v1::REPORTING_CHANNEL},
      {"online", refx::v1::ONLINE}};
  refx::v1::CountReferralsRequest request;
  request.set_period(f.report_period);
  for (absl::string_view part : absl::StrSplit(f.report_by, ',', absl::SkipWhitespace())) {
    auto it = kDimensions.find(absl::AsciiStrToLower(absl::StripAsciiWhitespace(part)));
    if (it == kDimensions.end()) {
      return InvalidArgumentError("invalid --by",
                                  {{"--by", "each of: area, strand, report-type, channel, online"}});
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
    for (const auto& line : grid) {
      std::vector<std::string> fields;
      for (const auto& cell : line) fields.push_back(CsvField(cell));
      std::cout << absl::StrJoin(fields, ",") << "\n";
    }
    return kExitOk;
  }
  std::vector<size_t> widths(grid[0].size(), 0);
  for (const auto& line : grid) {
    for (size_t i = 0; i < line.size() && i < widths.size(); ++i) widths[i] = std::max(widths[i], line[i].size());
  }
  std::cout << Sanitize(release->period()) << ", " << Sanitize(release->unit()) << " ("
            << (release->scope() == refx::v1::PARTNERSHIP ? "whole partnership" : "your agency's referrals")
            << ")\n";
  for (const auto& line : grid) {
    for (size_t i = 0; i < line.size() && i < widths.size(); ++i) {
      const std::string pad(widths[i] - line[i].size(), ' ');
      std::cout << (i == 0 ? line[i] + pad : "  " + pad + line[i]);
    }
    std::cout << "\n";
  }
  std::cout << "* withheld. " << Sanitize(release->rules()) << "\n"
            << Sanitize(release->release()) << " under " << Sanitize(release->agreement()) << "\n";
  return kExitOk;
}

}  // namespace refx::cli
