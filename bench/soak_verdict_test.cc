// The soak's verdict rules (bench/soak.h): growth, failures and missed
// reloads fail a run; flat curves pass; short runs are not judged.
#include "gtest/gtest.h"
#include "bench/soak.h"

namespace refx::bench {
namespace {

SoakResult Flat(int samples) {
  SoakResult r;
  for (int i = 0; i < samples; ++i) {
    SoakSample s;
    s.minutes = i + 1;
    s.rss_mb = 40 + (i % 3) * 0.5;  // noise, no trend
    s.fds = 30 + i % 2;
    s.threads = 40;
    s.calls_ok = 1000;
    s.lag_p99_ms = 5 + (i % 2);
    r.samples.push_back(s);
  }
  r.created = 100;
  r.revocation_lists_published = samples;
  r.revocation_lists_loaded = samples + 1;
  r.agreements_written = samples / 3;
  r.agreements_loaded = samples / 3;
  return r;
}

bool AnyFailureMentions(const SoakResult& r, const std::string& what) {
  for (const auto& f : r.findings) {
    if (f.rfind("FAIL", 0) == 0 && f.find(what) != std::string::npos) return true;
  }
  return false;
}

TEST(SoakVerdictTest, FlatCurvesPass) {
  SoakResult r = Flat(30);
  JudgeSoak(&r);
  EXPECT_TRUE(r.judged);
  EXPECT_TRUE(r.passed) << FormatSoakTable(r);
}

TEST(SoakVerdictTest, SteadyGrowthFails) {
  for (const char* what : {"RSS", "file descriptors", "threads", "lag"}) {
    SoakResult r = Flat(30);
    for (size_t i = 0; i < r.samples.size(); ++i) {
      const std::string w = what;
      if (w == "RSS") r.samples[i].rss_mb += 2.0 * i;
      if (w == "file descriptors") r.samples[i].fds += i;
      if (w == "threads") r.samples[i].threads += i / 2;
      if (w == "lag") r.samples[i].lag_p99_ms += 10.0 * i;
    }
    JudgeSoak(&r);
    EXPECT_FALSE(r.passed) << what;
    EXPECT_TRUE(AnyFailureMentions(r, what)) << what << "\n" << FormatSoakTable(r);
  }
}

TEST(SoakVerdictTest, FailedCallsUndeliveredEventsAndMissedReloadsFail) {
  SoakResult failed = Flat(30);
  failed.samples[20].calls_failed = 1;
  JudgeSoak(&failed);
  EXPECT_TRUE(AnyFailureMentions(failed, "calls failed"));
  EXPECT_TRUE(failed.failed);
  SoakResult short_and_failed = Flat(4);
  short_and_failed.never_delivered = 2;
  JudgeSoak(&short_and_failed);
  EXPECT_TRUE(short_and_failed.failed) << "a short run still fails on a lost event";

  SoakResult lost = Flat(30);
  lost.never_delivered = 1;
  JudgeSoak(&lost);
  EXPECT_TRUE(AnyFailureMentions(lost, "never reached"));

  SoakResult stale = Flat(30);
  stale.revocation_lists_loaded = 2;
  JudgeSoak(&stale);
  EXPECT_TRUE(AnyFailureMentions(stale, "revocation lists"));

  SoakResult no_reload = Flat(30);
  no_reload.agreements_loaded = 0;
  JudgeSoak(&no_reload);
  EXPECT_TRUE(AnyFailureMentions(no_reload, "agreement"));
}

TEST(SoakVerdictTest, ShortRunsAreNotJudged) {
  SoakResult r = Flat(5);
  JudgeSoak(&r);
  EXPECT_FALSE(r.judged);
  EXPECT_FALSE(r.passed);
  EXPECT_FALSE(r.failed);
  EXPECT_NE(FormatSoakTable(r).find("too short to judge"), std::string::npos);
  EXPECT_NE(FormatSoakJson(r).find("\"judged\": false"), std::string::npos);
}

}  // namespace
}  // namespace refx::bench
