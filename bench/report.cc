#include "bench/report.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace refx::bench {
namespace {

std::string JsonString(const std::string& text) {
  std::string out = "\"";
  for (const unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string JsonNumber(double value) {
  if (!std::isfinite(value)) return "null";
  return absl::StrFormat("%.6g", value);
}

std::string JsonOptional(const std::optional<double>& value) {
  return value.has_value() ? JsonNumber(*value) : "null";
}

std::optional<bool> Met(const Target& t) {
  if (!t.measured.has_value()) return std::nullopt;
  return t.higher_is_better ? *t.measured >= t.goal : *t.measured <= t.goal;
}

}  // namespace

std::string FormatTable(const Report& report) {
  std::string out = absl::StrFormat(
      "refx-bench (%s): %s; %d CPUs; warm-up %.1f s, measure %.1f s per row; echo payload %.0f bytes\n",
      report.mode, report.server, report.cpus, report.warmup_seconds, report.measure_seconds,
      report.echo_payload_bytes);
  absl::StrAppendFormat(&out, "seeded %.0f referrals in %.1f s (%.0f/s); %.0f stored when Get/List ran\n",
                        report.seed_referrals, report.seed_seconds,
                        report.seed_seconds > 0 ? report.seed_referrals / report.seed_seconds : 0.0,
                        report.stored_referrals);
  std::vector<std::string> caps;
  for (const auto& c : report.capabilities) caps.push_back(absl::StrCat(c.name, ": ", c.state));
  absl::StrAppend(&out, "capabilities: ", absl::StrJoin(caps, "; "), "\n\n");
  absl::StrAppendFormat(&out, "%-22s %9s %10s %9s %9s %9s %13s %9s  %s\n", "workload", "in flight", "calls/s",
                        "p50 ms", "p99 ms", "p999 ms", "srv CPU us/op", "vs ceil", "ceiling");
  for (const auto& r : report.rows) {
    absl::StrAppendFormat(
        &out, "%-22s %9d %10.0f %9.2f %9.2f %9.2f %13s %9s  %s%s\n", r.workload, r.in_flight,
        r.calls_per_second, r.p50_us / 1000, r.p99_us / 1000, r.p999_us / 1000,
        r.server_cpu_us_per_call.has_value() ? absl::StrFormat("%.0f", *r.server_cpu_us_per_call) : "-",
        !r.ratio_to_ceiling.has_value() ? std::string("-")
        : *r.ratio_to_ceiling < 0.1     ? absl::StrFormat("%.3fx", *r.ratio_to_ceiling)
                                        : absl::StrFormat("%.2fx", *r.ratio_to_ceiling),
        !r.verdict.empty() ? r.verdict : r.ceiling,
        r.errors > 0 ? absl::StrFormat("  (%d errors: %s)", r.errors, r.first_error) : "");
  }
  for (const auto& u : report.unavailable) {
    absl::StrAppendFormat(&out, "%-22s %s\n", u.workload, u.reason);
  }
  for (const auto& n : report.notes) absl::StrAppend(&out, "note: ", n, "\n");
  if (!report.targets.empty()) absl::StrAppend(&out, "\ntargets (issue 6):\n");
  for (const auto& t : report.targets) {
    const std::optional<bool> met = Met(t);
    absl::StrAppendFormat(&out, "  %-58s %8s  goal %s%.2f%s  %s\n", t.description,
                          !t.measured.has_value() ? std::string("-")
                          : *t.measured < 0.1     ? absl::StrFormat("%.3f%s", *t.measured, t.unit)
                                                  : absl::StrFormat("%.2f%s", *t.measured, t.unit),
                          t.higher_is_better ? ">= " : "<= ", t.goal, t.unit,
                          !met.has_value() ? "not measured" : (*met ? "met" : "MISSED"));
  }
  absl::StrAppendFormat(&out, "\ntotal %.0f s\n", report.total_seconds);
  return out;
}

std::string FormatJson(const Report& report) {
  std::string out = "{";
  absl::StrAppend(&out, "\"tool\":\"refx-bench\",\"mode\":", JsonString(report.mode),
                  ",\"server\":", JsonString(report.server), ",\"cpus\":", report.cpus,
                  ",\"duration\":{\"warmup_seconds\":", JsonNumber(report.warmup_seconds),
                  ",\"measure_seconds\":", JsonNumber(report.measure_seconds), "}",
                  ",\"seed\":{\"referrals\":", JsonNumber(report.seed_referrals),
                  ",\"seconds\":", JsonNumber(report.seed_seconds),
                  ",\"stored_referrals\":", JsonNumber(report.stored_referrals), "}",
                  ",\"echo_payload_bytes\":", JsonNumber(report.echo_payload_bytes), ",\"capabilities\":{");
  for (size_t i = 0; i < report.capabilities.size(); ++i) {
    absl::StrAppend(&out, i ? "," : "", JsonString(report.capabilities[i].name), ":",
                    JsonString(report.capabilities[i].state));
  }
  absl::StrAppend(&out, "},\"results\":[");
  for (size_t i = 0; i < report.rows.size(); ++i) {
    const Row& r = report.rows[i];
    absl::StrAppend(&out, i ? "," : "", "{\"workload\":", JsonString(r.workload), ",\"in_flight\":", r.in_flight,
                    ",\"calls\":", r.calls, ",\"errors\":", r.errors, ",\"seconds\":", JsonNumber(r.seconds),
                    ",\"calls_per_second\":", JsonNumber(r.calls_per_second),
                    ",\"latency_us\":{\"p50\":", JsonNumber(r.p50_us), ",\"p99\":", JsonNumber(r.p99_us),
                    ",\"p999\":", JsonNumber(r.p999_us), "}",
                    ",\"server_cpu_us_per_call\":", JsonOptional(r.server_cpu_us_per_call),
                    ",\"ratio_to_ceiling\":", JsonOptional(r.ratio_to_ceiling),
                    ",\"ceiling\":", JsonString(r.ceiling), ",\"bounded_by\":", JsonString(r.bounded_by),
                    ",\"first_error\":", JsonString(r.first_error),
                    ",\"publish_per_second\":", JsonOptional(r.publish_per_second),
                    ",\"rss_mb_per_1000_streams\":", JsonOptional(r.rss_mb_per_1000_streams),
                    ",\"streams_open_after\":",
                    r.held_after.has_value() ? absl::StrCat(*r.held_after) : std::string("null"),
                    ",\"verdict\":", JsonString(r.verdict), "}");
  }
  absl::StrAppend(&out, "],\"not_available\":[");
  for (size_t i = 0; i < report.unavailable.size(); ++i) {
    absl::StrAppend(&out, i ? "," : "", "{\"workload\":", JsonString(report.unavailable[i].workload),
                    ",\"reason\":", JsonString(report.unavailable[i].reason), "}");
  }
  absl::StrAppend(&out, "],\"targets\":[");
  for (size_t i = 0; i < report.targets.size(); ++i) {
    const Target& t = report.targets[i];
    const std::optional<bool> met = Met(t);
    absl::StrAppend(&out, i ? "," : "", "{\"description\":", JsonString(t.description),
                    ",\"measured\":", JsonOptional(t.measured), ",\"goal\":", JsonNumber(t.goal),
                    ",\"unit\":", JsonString(t.unit),
                    ",\"met\":", !met.has_value() ? "null" : (*met ? "true" : "false"), "}");
  }
  absl::StrAppend(&out, "],\"notes\":[");
  for (size_t i = 0; i < report.notes.size(); ++i) {
    absl::StrAppend(&out, i ? "," : "", JsonString(report.notes[i]));
  }
  absl::StrAppend(&out, "],\"total_seconds\":", JsonNumber(report.total_seconds), "}\n");
  return out;
}

}  // namespace refx::bench
