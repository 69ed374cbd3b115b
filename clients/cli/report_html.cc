#include "clients/cli/report_html.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "clients/cli/html_text.h"
#include "clients/cli/output.h"

namespace refx::cli {
namespace {

// Okabe and Ito's palette: distinguishable with every common colour-vision
// deficiency.
constexpr const char* kPalette[] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442"};
constexpr int kWidth = 680, kLabelWidth = 210, kBar = 18, kGap = 6;


std::string ValueText(const refx::v1::ReleasedCount& count) {
  return count.withheld() ? "withheld" : absl::StrCat(count.value());
}

struct Bar {
  std::string label;
  refx::v1::ReleasedCount count;
};

// The bars of a one-way release: every row but the total, leaving out the
// catch-all rows (`unlisted`, `not shared`) when they hold a released 0.
std::vector<Bar> BarsOf(const refx::v1::CountReferralsResponse& release, int column = 0) {
  std::vector<Bar> bars;
  for (const auto& row : release.rows()) {
    if (row.label() == "Total" || column >= row.counts_size()) continue;
    const auto& count = row.counts(column);
    if ((row.label() == "unlisted" || row.label() == "not shared") && !count.withheld() && count.value() == 0) {
      continue;
    }
    bars.push_back({row.label(), count});
  }
  return bars;
}

std::string TotalOf(const refx::v1::CountReferralsResponse& release) {
  for (const auto& row : release.rows()) {
    if (row.label() == "Total" && row.counts_size() > 0) return ValueText(row.counts(row.counts_size() - 1));
  }
  return "withheld";
}

// A horizontal bar chart with its data as a table: the SVG is titled and
// described for screen readers, and the table is the text alternative.
std::string BarChart(const std::string& id, const std::string& title, const std::string& note,
                     const std::vector<Bar>& bars, const char* colour) {
  int64_t max = 1;
  for (const Bar& b : bars) max = std::max<int64_t>(max, b.count.value());
  const int height = static_cast<int>(bars.size()) * (kBar + kGap) + kGap;
  const int span = kWidth - kLabelWidth - 70;
  std::string svg = absl::StrFormat(
      "<svg role=\"img\" aria-labelledby=\"%s-title %s-desc\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">"
      "<title id=\"%s-title\">%s</title><desc id=\"%s-desc\">%s</desc>",
      id, id, kWidth, height, kWidth, height, id, HtmlEscape(title), id, HtmlEscape(note));
  int y = kGap;
  for (const Bar& b : bars) {
    absl::StrAppendFormat(&svg, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" class=\"label\">%s</text>",
                          kLabelWidth - 8, y + kBar - 5, HtmlEscape(b.label));
    if (b.count.withheld()) {
      absl::StrAppendFormat(&svg,
                            "<rect x=\"%d\" y=\"%d\" width=\"60\" height=\"%d\" fill=\"url(#withheld)\" "
                            "stroke=\"#555\"/><text x=\"%d\" y=\"%d\" class=\"value\">withheld</text>",
                            kLabelWidth, y, kBar, kLabelWidth + 66, y + kBar - 5);
    } else {
      const int w = static_cast<int>(span * b.count.value() / max);
      absl::StrAppendFormat(&svg,
                            "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>"
                            "<text x=\"%d\" y=\"%d\" class=\"value\">%d</text>",
                            kLabelWidth, y, w, kBar, colour, kLabelWidth + w + 6, y + kBar - 5, b.count.value());
    }
    y += kBar + kGap;
  }
  svg += "</svg>";
  std::string table = "<table><thead><tr><th scope=\"col\"></th><th scope=\"col\">Count</th></tr></thead><tbody>";
  for (const Bar& b : bars) {
    absl::StrAppend(&table, "<tr><th scope=\"row\">", HtmlEscape(b.label), "</th><td>", ValueText(b.count),
                    "</td></tr>");
  }
  table += "</tbody></table>";
  return absl::StrCat("<figure id=\"", id, "\"><h2>", HtmlEscape(title), "</h2>", svg, "<figcaption>", HtmlEscape(note),
                      "</figcaption><details><summary>The figures</summary>", table, "</details></figure>");
}

// Areas down, periods across (oldest first), one small column chart per
// area on a common scale: the trend on the agreement's release grid (12
// months, 4 quarters or 3 years), legible whatever the number of periods.
std::string TrendChart(const std::vector<refx::v1::CountReferralsResponse>& periods, const std::string& grid) {
  const std::string id = "trend";
  const std::string title = absl::StrCat("Referrals per area, ", grid, " by ", grid);
  std::vector<std::string> areas;
  std::map<std::string, std::vector<refx::v1::ReleasedCount>> by_area;
  for (const auto& p : periods) {
    for (const Bar& b : BarsOf(p)) {
      if (!by_area.count(b.label)) areas.push_back(b.label);
      by_area[b.label].resize(periods.size());
    }
  }
  for (size_t i = 0; i < periods.size(); ++i) {
    for (const Bar& b : BarsOf(periods[i])) by_area[b.label][i] = b.count;
  }
  int64_t max = 1;
  for (const auto& [area, counts] : by_area) {
    for (const auto& c : counts) max = std::max<int64_t>(max, c.value());
  }
  const int n = std::max<int>(1, static_cast<int>(periods.size()));
  const int row = 46, tall = 36;
  const int column = (kWidth - kLabelWidth - 10) / n;
  const int bar = std::max(3, column - 4);
  const int height = static_cast<int>(areas.size()) * row + 24;
  std::vector<std::string> names;
  for (const auto& p : periods) names.push_back(p.period());
  const std::string note =
      absl::StrCat(absl::StrJoin(names, ", "), ", oldest first, on one scale (largest ", max,
                   "); the agreement releases counts by ", grid, ", so the trend is drawn by ", grid, ".");
  std::string svg = absl::StrFormat(
      "<svg role=\"img\" aria-labelledby=\"%s-title %s-desc\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">"
      "<title id=\"%s-title\">%s</title><desc id=\"%s-desc\">%s</desc>",
      id, id, kWidth, height, kWidth, height, id, HtmlEscape(title), id, HtmlEscape(note));
  int y = 0;
  for (const std::string& area : areas) {
    const int base = y + row - 6;
    absl::StrAppendFormat(&svg,
                          "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" class=\"label\">%s</text>"
                          "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#999\"/>",
                          kLabelWidth - 8, base - 4, HtmlEscape(area), kLabelWidth, base, kLabelWidth + column * n,
                          base);
    for (int i = 0; i < static_cast<int>(periods.size()); ++i) {
      const auto& c = by_area[area][i];
      const int x = kLabelWidth + column * i + 2;
      if (c.withheld()) {
        absl::StrAppendFormat(&svg,
                              "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"10\" fill=\"url(#withheld)\" "
                              "stroke=\"%s\"><title>%s %s: withheld</title></rect>",
                              x, base - 10, bar, kPalette[0], HtmlEscape(area), HtmlEscape(names[i]));
      } else {
        const int h = static_cast<int>(tall * c.value() / max);
        absl::StrAppendFormat(&svg,
                              "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\">"
                              "<title>%s %s: %d</title></rect>",
                              x, base - h, bar, h, kPalette[0], HtmlEscape(area), HtmlEscape(names[i]), c.value());
      }
    }
    y += row;
  }
  if (!names.empty()) {  // the first and last periods under the columns
    absl::StrAppendFormat(&svg,
                          "<text x=\"%d\" y=\"%d\" class=\"value\">%s</text>"
                          "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" class=\"value\">%s</text>",
                          kLabelWidth, y + 16, HtmlEscape(names.front()), kLabelWidth + column * n, y + 16,
                          HtmlEscape(names.back()));
  }
  svg += "</svg>";
  std::string table = "<table><thead><tr><th scope=\"col\"></th>";
  for (const auto& name : names) absl::StrAppend(&table, "<th scope=\"col\">", HtmlEscape(name), "</th>");
  table += "</tr></thead><tbody>";
  for (const std::string& area : areas) {
    absl::StrAppend(&table, "<tr><th scope=\"row\">", HtmlEscape(area), "</th>");
    for (const auto& c : by_area[area]) absl::StrAppend(&table, "<td>", ValueText(c), "</td>");
    table += "</tr>";
  }
  table += "</tbody></table>";
  return absl::StrCat("<figure id=\"", id, "\"><h2>", HtmlEscape(title), "</h2>", svg, "<figcaption>", HtmlEscape(note),
                      "</figcaption><details><summary>The figures</summary>", table, "</details></figure>");
}

std::string ResponseChart(const refx::v1::ReportResponseTimesResponse& times) {
  const auto& table = times.first_response();
  std::vector<Bar> bars;
  std::string median = "withheld";
  for (int r = 0; r < table.rows_size(); ++r) {
    if (table.rows(r).label() != "Total") continue;
    for (int c = 0; c + 1 < table.column_labels_size() && c < table.rows(r).counts_size(); ++c) {
      bars.push_back({table.column_labels(c), table.rows(r).counts(c)});
    }
    if (r < table.medians_size() && !table.medians(r).withheld()) {
      median = absl::StrCat(table.medians(r).hours(), " hours");
    }
  }
  return BarChart("response", "How fast partners responded",
                  absl::StrCat("Referrals created in ", times.period(),
                               " by time to the first response (accept, decline or redirect), as at the period's "
                               "end. Median time to a first response: ",
                               median, "."),
                  bars, kPalette[2]);
}

std::string TensionTimeline(const refx::v1::ListTensionAlertsResponse& tensions) {
  const std::string id = "tensions";
  const std::string title = "Community tension alerts";
  const std::string note = absl::StrCat(tensions.alerts_size(), tensions.alerts_size() == 1 ? " alert" : " alerts",
                                        " in ", tensions.first_week(), " to ", tensions.last_week(), ". ",
                                        tensions.method());
  // Weeks along the axis, in order, from the first to the last.
  std::vector<std::string> weeks;
  for (const auto& a : tensions.alerts()) {
    if (std::find(weeks.begin(), weeks.end(), a.week()) == weeks.end()) weeks.push_back(a.week());
  }
  const int height = 70 + 16 * tensions.alerts_size();
  std::string svg = absl::StrFormat(
      "<svg role=\"img\" aria-labelledby=\"%s-title %s-desc\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">"
      "<title id=\"%s-title\">%s</title><desc id=\"%s-desc\">%s</desc>",
      id, id, kWidth, height, kWidth, height, id, HtmlEscape(title), id, HtmlEscape(note));
  absl::StrAppendFormat(&svg, "<line x1=\"20\" y1=\"30\" x2=\"%d\" y2=\"30\" stroke=\"#333\"/>"
                              "<text x=\"20\" y=\"20\" class=\"value\">%s</text>"
                              "<text x=\"%d\" y=\"20\" text-anchor=\"end\" class=\"value\">%s</text>",
                        kWidth - 20, HtmlEscape(tensions.first_week()), kWidth - 20, HtmlEscape(tensions.last_week()));
  // Each alert's dot at its week's place among the weeks that alerted.
  int y = 50;
  for (int i = 0; i < tensions.alerts_size(); ++i) {
    const auto& a = tensions.alerts(i);
    const size_t at = std::find(weeks.begin(), weeks.end(), a.week()) - weeks.begin();
    const int x = 30 + static_cast<int>((kWidth - 60) * (weeks.size() <= 1 ? 0.5 : static_cast<double>(at) /
                                                                                        (weeks.size() - 1)));
    absl::StrAppendFormat(&svg, "<circle cx=\"%d\" cy=\"30\" r=\"6\" fill=\"%s\"/>"
                                "<text x=\"%d\" y=\"%d\" class=\"value\">%s: %s, %s (%s; baseline %s)</text>",
                          x, kPalette[5], 20, y, HtmlEscape(a.week()), HtmlEscape(a.area()), HtmlEscape(a.strand()),
                          HtmlEscape(a.count_band()), HtmlEscape(a.baseline_band()));
    y += 16;
  }
  svg += "</svg>";
  // What the tensions group did about each alert it acknowledged.
  std::string acknowledged;
  for (const auto& a : tensions.alerts()) {
    if (!a.has_acknowledgement()) continue;
    absl::StrAppend(&acknowledged, "<li>", HtmlEscape(a.week()), ", ", HtmlEscape(a.area()), ", ", HtmlEscape(a.strand()),
                    ": acknowledged by ", HtmlEscape(a.acknowledgement().agency()), " on ",
                    HtmlEscape(FormatTimestamp(a.acknowledgement().acknowledge_time()).substr(0, 10)), ": ",
                    HtmlEscape(a.acknowledgement().note()), "</li>");
  }
  if (!acknowledged.empty()) acknowledged = absl::StrCat("<ul class=\"acknowledged\">", acknowledged, "</ul>");
  return absl::StrCat("<figure id=\"", id, "\"><h2>", HtmlEscape(title), "</h2>", svg, "<figcaption>", HtmlEscape(note),
                      "</figcaption>", acknowledged, "</figure>");
}

}  // namespace

std::string RenderReportHtml(const ReportBundle& b) {
  std::string html = absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en-GB\"><head><meta charset=\"utf-8\">"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>Hate referrals, ",
      HtmlEscape(b.period), "</title><style>"
      "body{font-family:sans-serif;margin:2em auto;max-width:46em;color:#111;line-height:1.4}"
      "h1{font-size:1.5em}h2{font-size:1.15em;margin-bottom:.3em}figure{margin:2em 0}"
      "figcaption{font-size:.9em;color:#333}svg{max-width:100%;height:auto;display:block}"
      ".label,.value{font-size:12px;fill:#111}table{border-collapse:collapse;margin:.5em 0}"
      "th,td{border:1px solid #999;padding:2px 8px;text-align:right}th[scope=row]{text-align:left}"
      ".rules{border-left:4px solid #0072B2;padding:.3em 1em;background:#f3f6fa}"
      "</style></head><body>"
      "<svg width=\"0\" height=\"0\" aria-hidden=\"true\" focusable=\"false\"><defs>"
      "<pattern id=\"withheld\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
      "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#fff\"/>"
      "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#555\" stroke-width=\"2\"/></pattern></defs></svg>"
      "<h1>Hate crime and hate incident referrals, ",
      HtmlEscape(b.period), "</h1><p>Referrals between the partners of the Leicester, Leicestershire and Rutland "
      "community safety partnership: ", TotalOf(b.by_area), " referrals created in ", HtmlEscape(b.period),
      ". Generated ", HtmlEscape(b.generated), " under ", HtmlEscape(b.by_area.agreement()), ".</p>");
  absl::StrAppend(&html, "<section class=\"rules\"><h2>How these figures are protected</h2><p>",
                  HtmlEscape(b.by_area.rules()), "</p><p>Hatched bars and \"withheld\" mark counts withheld to protect "
                  "the people behind them. Strand figures count mentions: a referral with several strands counts "
                  "once under each.</p></section>");
  absl::StrAppend(&html, BarChart("area", "Referrals by area", absl::StrCat("Total: ", TotalOf(b.by_area), "."),
                                  BarsOf(b.by_area), kPalette[0]));
  if (!b.area_trend.empty()) absl::StrAppend(&html, TrendChart(b.area_trend, b.grid));
  absl::StrAppend(&html, BarChart("strand", "Strand mix", "Strand mentions: a referral with two strands counts twice.",
                                  BarsOf(b.by_strand), kPalette[1]));
  absl::StrAppend(&html, BarChart("report-type", "Hate crimes and hate incidents",
                                  absl::StrCat("Total: ", TotalOf(b.by_report_type), "."), BarsOf(b.by_report_type),
                                  kPalette[3]));
  absl::StrAppend(&html, BarChart("channel", "How reports were made",
                                  "Reporting channel, third-party reporting centres included.", BarsOf(b.by_channel),
                                  kPalette[4]));
  absl::StrAppend(&html, ResponseChart(b.response_times));
  absl::StrAppend(&html, TensionTimeline(b.tensions));
  absl::StrAppend(&html, "<p>Releases: ", HtmlEscape(b.by_area.release()), ", ", HtmlEscape(b.by_strand.release()), ", ",
                  HtmlEscape(b.by_report_type.release()), ", ", HtmlEscape(b.by_channel.release()), ", ",
                  HtmlEscape(b.response_times.release()), ".</p></body></html>\n");
  return html;
}

}  // namespace refx::cli
