// The release ledger's rule (core/reporting/release_ledger.h): which tables
// of one period and scope may be released beside each other.
#include "core/reporting/release_ledger.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace refx::core::reporting {
namespace {

LedgerEntry Counts(const std::string& id, std::vector<std::string> by, const std::string& period = "2026-Q3",
                   const std::string& scope = "partnership") {
  return LedgerEntry{"releases/" + id, "counts", period, std::move(by), scope};
}

TEST(ReleaseLedgerTest, EntriesReadBackAsWritten) {
  const LedgerEntry entry = Counts("ab12", {"area", "strand"});
  EXPECT_EQ(LedgerText(entry), "releases/ab12 counts period=2026-Q3 by=area,strand scope=partnership");
  auto parsed = ParseLedgerEntry(LedgerText(entry));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->release, "releases/ab12");
  EXPECT_EQ(parsed->dimensions, (std::vector<std::string>{"area", "strand"}));
  EXPECT_EQ(parsed->scope, "partnership");
  const LedgerEntry times{"releases/cd34", "response-times", "2026", {}, "own"};
  EXPECT_EQ(LedgerText(times), "releases/cd34 response-times period=2026 scope=own");
  auto times_parsed = ParseLedgerEntry(LedgerText(times));
  ASSERT_TRUE(times_parsed.ok()) << times_parsed.status();
  EXPECT_EQ(times_parsed->period, "2026");
  EXPECT_TRUE(absl::StrContains(LedgerText(entry), PeriodMarker("2026-Q3")));
  EXPECT_FALSE(absl::StrContains(LedgerText(times), PeriodMarker("2026-Q3")));

  for (const char* bad : {"", "counts period=2026 by=area scope=own", "releases/x graphs period=2026 scope=own",
                          "releases/x counts period=2026 scope=own", "releases/x counts by=area scope=own"}) {
    EXPECT_FALSE(ParseLedgerEntry(bad).ok()) << bad;
  }
}

TEST(ReleaseLedgerTest, CrossTablesSharingOneDimensionAreNotReleasedTogether) {
  const std::vector<LedgerEntry> earlier = {Counts("1", {"area", "strand"})};
  // Sharing `area` (a reader could intersect the ranges of a withheld area total).
  const LedgerEntry* conflict = ConflictingRelease(Counts("2", {"area", "channel"}), earlier);
  ASSERT_NE(conflict, nullptr);
  EXPECT_EQ(conflict->release, "releases/1");
  EXPECT_NE(ConflictingRelease(Counts("2", {"channel", "strand"}), earlier), nullptr);
  // The same table again, either way round: the same numbers.
  EXPECT_EQ(ConflictingRelease(Counts("1", {"area", "strand"}), earlier), nullptr);
  EXPECT_EQ(ConflictingRelease(Counts("1", {"strand", "area"}), earlier), nullptr);
  // Sharing nothing, or a one-way table (a margin, shown alike by every release).
  EXPECT_EQ(ConflictingRelease(Counts("3", {"channel", "outcome"}), earlier), nullptr);
  EXPECT_EQ(ConflictingRelease(Counts("4", {"area"}), earlier), nullptr);
  EXPECT_EQ(ConflictingRelease(Counts("2", {"area", "channel"}), {Counts("4", {"area"})}), nullptr);
  // Another period or scope is another population.
  EXPECT_EQ(ConflictingRelease(Counts("5", {"area", "channel"}, "2026-Q4"), earlier), nullptr);
  EXPECT_EQ(ConflictingRelease(Counts("6", {"area", "channel"}, "2026-Q3", "own"), earlier), nullptr);
}

TEST(ReleaseLedgerTest, ResponseTimesAreRecipientAgencyTypeByBand) {
  const LedgerEntry times{"releases/t", "response-times", "2026-Q3", {}, "partnership"};
  EXPECT_NE(ConflictingRelease(Counts("1", {"recipient_agency_type", "outcome"}), {times}), nullptr);
  EXPECT_NE(ConflictingRelease(times, {Counts("1", {"outcome", "recipient_agency_type"})}), nullptr);
  EXPECT_EQ(ConflictingRelease(times, {times}), nullptr);
  EXPECT_EQ(ConflictingRelease(Counts("2", {"area", "strand"}), {times}), nullptr);
  EXPECT_EQ(ConflictingRelease(Counts("3", {"recipient_agency_type"}), {times}), nullptr);
}

}  // namespace
}  // namespace refx::core::reporting
