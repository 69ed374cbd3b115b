// The soak's verdict and its report formats (bench/soak.h).
#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/soak.h"
#include "common/json_text.h"

namespace refx::bench {
namespace {

template <typename Field>
double MaxOf(const std::vector<SoakSample>& samples, size_t from, size_t to, Field field) {
  double m = 0;
  for (size_t i = from; i < to; ++i) m = std::max(m, static_cast<double>(field(samples[i])));
  return m;
}

}  // namespace

void JudgeSoak(SoakResult* result) {
  result->findings.clear();
  const auto& s = result->samples;
  const size_t warmup = std::max<size_t>(1, s.size() / 5);
  result->judged = s.size() >= warmup + 6;
  bool passed = true;
  auto finding = [&](bool bad, std::string what) {
    if (bad) passed = false;
    result->findings.push_back(absl::StrCat(bad ? "FAIL " : "ok   ", what));
  };
  int64_t failed = 0;
  for (const auto& sample : s) failed += sample.calls_failed;
  finding(failed > 0, absl::StrCat(failed, " calls failed",
                                   result->first_error.empty() ? "" : absl::StrCat(" (first: ", result->first_error, ")")));
  finding(result->never_delivered > 0,
          absl::StrCat(result->never_delivered, " of ", result->created,
                       " created referrals never reached the long-lived watch stream"));
  finding(result->revocation_lists_loaded < result->revocation_lists_published,
          absl::StrCat(result->revocation_lists_published, " revocation lists published, ",
                       result->revocation_lists_loaded, " loaded (with the first)"));
  finding(result->agreements_loaded + 1 < result->agreements_written,
          absl::StrCat(result->agreements_written, " agreement rewrites, ", result->agreements_loaded, " reloads"));
  if (result->judged) {
    const size_t middle = warmup + (s.size() - warmup) / 2;
    const auto check = [&](const char* what, auto field, double factor, double slack) {
      const double first = MaxOf(s, warmup, middle, field);
      const double second = MaxOf(s, middle, s.size(), field);
      const double bound = std::max(first * factor, first + slack);
      finding(second > bound, absl::StrFormat("%s: second-half max %.1f, first-half max %.1f, bound %.1f", what,
                                              second, first, bound));
    };
    check("RSS MB", [](const SoakSample& x) { return x.rss_mb; }, 1.10, 4);
    check("file descriptors", [](const SoakSample& x) { return x.fds; }, 1.0, 8);
    check("threads", [](const SoakSample& x) { return x.threads; }, 1.0, 4);
    check("watch lag p99 ms", [](const SoakSample& x) { return x.lag_p99_ms; }, 1.5, 50);
  } else {
    result->findings.push_back(absl::StrCat("too short to judge growth: ", s.size(), " samples, ", warmup,
                                            " of them warm-up; six more are needed"));
  }
  result->failed = !passed;
  result->passed = passed && result->judged;
}

std::string FormatSoakTable(const SoakResult& result) {
  std::string out = absl::StrFormat("%8s %9s %6s %8s %9s %7s %8s %10s %10s\n", "minutes", "RSS MB", "fds",
                                    "threads", "calls ok", "failed", "streams", "lag p50", "lag p99");
  for (const auto& s : result.samples) {
    absl::StrAppendFormat(&out, "%8.1f %9.1f %6d %8d %9d %7d %8d %10.1f %10.1f\n", s.minutes, s.rss_mb, s.fds,
                          s.threads, s.calls_ok, s.calls_failed, s.watch_streams_opened, s.lag_p50_ms,
                          s.lag_p99_ms);
  }
  for (const auto& f : result.findings) absl::StrAppend(&out, f, "\n");
  absl::StrAppend(&out, "verdict: ",
                  result.failed ? "FAIL" : (result.judged ? "PASS: nothing grows without bound" : "too short to judge growth; no other check failed"),
                  "\n");
  return out;
}

std::string FormatSoakJson(const SoakResult& result) {
  std::string out = "{\"samples\": [";
  for (size_t i = 0; i < result.samples.size(); ++i) {
    const auto& s = result.samples[i];
    absl::StrAppendFormat(&out,
                          "%s\n  {\"minutes\": %.2f, \"rssMb\": %.2f, \"fds\": %d, \"threads\": %d, \"callsOk\": %d, "
                          "\"callsFailed\": %d, \"watchStreamsOpened\": %d, \"lagP50Ms\": %.2f, \"lagP99Ms\": %.2f, "
                          "\"lagEvents\": %d}",
                          i == 0 ? "" : ",", s.minutes, s.rss_mb, s.fds, s.threads, s.calls_ok, s.calls_failed,
                          s.watch_streams_opened, s.lag_p50_ms, s.lag_p99_ms, s.lag_events);
  }
  absl::StrAppendFormat(&out,
                        "],\n \"created\": %d, \"neverDelivered\": %d, \"revocationListsPublished\": %d, "
                        "\"revocationListsLoaded\": %d, \"agreementsWritten\": %d, \"agreementsLoaded\": %d,\n"
                        " \"judged\": %s, \"failed\": %s, \"passed\": %s, \"findings\": [",
                        result.created, result.never_delivered, result.revocation_lists_published,
                        result.revocation_lists_loaded, result.agreements_written, result.agreements_loaded,
                        result.judged ? "true" : "false", result.failed ? "true" : "false",
                        result.passed ? "true" : "false");
  for (size_t i = 0; i < result.findings.size(); ++i) {
    absl::StrAppend(&out, i == 0 ? "" : ", ", refx::JsonQuote(result.findings[i]));
  }
  absl::StrAppend(&out, "]}\n");
  return out;
}

}  // namespace refx::bench
