// Disclosure control, checked as a reader would attack a release: every
// withheld count's range is solved from the released margins (the solver is
// itself checked against brute force in linear_bounds_test.cc), never judged
// by eye.
#include "core/reporting/disclosure_control.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "core/reporting/linear_bounds.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace refx::core::reporting {
namespace {

using ::testing::HasSubstr;

constexpr ReleasedCount kWithheld{true, 0};
ReleasedCount Shown(int64_t value) { return ReleasedCount{false, value}; }

CountTable Column(std::vector<int64_t> counts) {
  CountTable table;
  table.column_labels = {"count"};
  for (size_t i = 0; i < counts.size(); ++i) {
    table.row_labels.push_back("row " + std::to_string(i));
    table.counts.push_back({counts[i]});
  }
  return table;
}

// Every primary (1 .. suppress_below-1) count is withheld, every shown count
// is its rounded truth, and a reader is left no fewer candidate values for a
// primary count than the band holds (never fewer than two); the truth lies
// inside every range the reader works out.
void ExpectProtected(const CountTable& table, const DisclosureRules& rules, const ProtectedTable& released) {
  const size_t rows = table.row_labels.size(), columns = table.column_labels.size();
  std::vector<std::vector<int64_t>> truth(rows + 1, std::vector<int64_t>(columns + 1, 0));
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < columns; ++c) {
      truth[r][c] = table.counts[r][c];
      truth[r][columns] += truth[r][c];
      truth[rows][c] += truth[r][c];
      truth[rows][columns] += truth[r][c];
    }
  }
  auto ranges = DeducibleRanges(released, rules);
  ASSERT_TRUE(ranges.ok()) << ranges.status();
  for (size_t r = 0; r <= rows; ++r) {
    for (size_t c = 0; c <= columns; ++c) {
      const int64_t count = truth[r][c];
      const ReleasedCount& out = released.cells[r][c];
      const DeducibleRange& range = (*ranges)[r][c];
      const std::string where = "cell " + std::to_string(r) + "," + std::to_string(c);
      EXPECT_GE(count, range.min) << where;
      if (range.max >= 0) {
        EXPECT_LE(count, range.max) << where;
      }
      if (count > 0 && count < rules.suppress_below) {
        EXPECT_TRUE(out.withheld) << where << " holds " << count;
        if (range.max >= 0) {
          EXPECT_GE(range.max - range.min, std::max<int64_t>(rules.suppress_below - 2, 1)) << where;
        }
      } else if (!out.withheld) {
        EXPECT_EQ(out.value, (count + rules.round_to / 2) / rules.round_to * rules.round_to) << where;
      } else {
        EXPECT_GT(count, 0) << where << ": a zero is never withheld";
      }
    }
  }
}

TEST(DisclosureControlTest, WithholdsOneToSevenAndRoundsTheRestToFive) {
  // The 3 needs no second cell: the total's rounding and the other counts'
  // leave it anywhere from 1 to 12.
  const CountTable table = Column({0, 20, 8, 12, 13, 100, 3});
  const DisclosureRules rules;  // NHS Digital: 1-7 withheld, nearest 5
  auto released = ProtectCounts(table, rules);
  ASSERT_TRUE(released.ok()) << released.status();
  const std::vector<ReleasedCount> expected_counts = {Shown(0),  Shown(20),  Shown(10), Shown(10),
                                                      Shown(15), Shown(100), kWithheld};
  for (size_t r = 0; r < expected_counts.size(); ++r) {
    EXPECT_EQ(released->cells[r][0], expected_counts[r]) << r;
    EXPECT_EQ(released->cells[r][1], expected_counts[r]) << r << " (a row total of one column)";
  }
  EXPECT_EQ(released->cells[7][0], Shown(155));  // 156
  EXPECT_EQ(released->primary_withheld, 2);       // the 3 and its row total
  EXPECT_EQ(released->secondary_withheld, 0);
  ExpectProtected(table, rules, *released);
}

TEST(DisclosureControlTest, ExactMarginsForceASecondWithheldCountInTheSameRowOrColumn) {
  // Unrounded, the 3 would be its row total minus 20; so one more count in
  // its row or column goes, the smallest.
  CountTable table;
  table.row_labels = {"Charnwood", "Rutland"};
  table.column_labels = {"disability", "race"};
  table.counts = {{40, 20}, {3, 30}};
  const DisclosureRules exact{.suppress_below = 8, .round_to = 1};
  auto released = ProtectCounts(table, exact);
  ASSERT_TRUE(released.ok()) << released.status();
  EXPECT_TRUE(released->cells[1][0].withheld);
  EXPECT_GE(released->secondary_withheld, 1);
  ExpectProtected(table, exact, *released);
}

TEST(DisclosureControlTest, TwoSmallCountsInALineDoNotProtectEachOther) {
  // 2 + 3 = 5 is printed as the row total minus the rest: each would be
  // known to lie in 1..4, narrower than the band, so more goes.
  CountTable table;
  table.row_labels = {"a", "b", "c"};
  table.column_labels = {"x", "y", "z"};
  table.counts = {{2, 3, 50}, {40, 60, 45}, {35, 25, 70}};
  const DisclosureRules exact{.suppress_below = 8, .round_to = 1};
  auto released = ProtectCounts(table, exact);
  ASSERT_TRUE(released.ok()) << released.status();
  EXPECT_GE(released->secondary_withheld, 1);
  ExpectProtected(table, exact, *released);
}

TEST(DisclosureControlTest, ATableWithNoSmallCountIsOnlyRounded) {
  CountTable table;
  table.row_labels = {"a", "b"};
  table.column_labels = {"x", "y"};
  table.counts = {{0, 18}, {27, 103}};
  auto released = ProtectCounts(table, DisclosureRules{});
  ASSERT_TRUE(released.ok()) << released.status();
  EXPECT_EQ(released->primary_withheld, 0);
  EXPECT_EQ(released->secondary_withheld, 0);
  EXPECT_EQ(released->cells[0][0], Shown(0));
  EXPECT_EQ(released->cells[0][1], Shown(20));
  EXPECT_EQ(released->cells[1][1], Shown(105));  // 103; halves and above round up
  EXPECT_EQ(released->cells[2][2], Shown(150));  // 148
}

// Random tables under the LLR rule, an ONS-style threshold of 10 and exact
// counts: whatever the shape and the mix of small counts, no primary count
// can be narrowed by solving the released margins.
// Margins first (ADR 8): a cross-table shows its totals exactly as the
// one-way tables of its dimensions released them, and still lets no
// withheld count, inner or total, be narrowed; whole inner tables are
// withheld only when nothing else protects them.
TEST(DisclosureControlTest, ACrossTableKeepsItsOneWayMarginsAndProtectsEveryWithheldCount) {
  std::mt19937 random(5122026);
  const DisclosureRules rules{.suppress_below = 8, .round_to = 5};
  int whole = 0, secondary = 0;
  const int trials = 80;
  for (int trial = 0; trial < trials; ++trial) {
    std::uniform_int_distribution<int> rows(2, 7), columns(2, 5), kind(0, 9), small(0, 9), large(8, 90);
    CountTable table;
    const int r_count = rows(random), c_count = columns(random);
    for (int c = 0; c < c_count; ++c) table.column_labels.push_back("c" + std::to_string(c));
    std::vector<int64_t> row_sums(r_count, 0), column_sums(c_count, 0);
    for (int r = 0; r < r_count; ++r) {
      table.row_labels.push_back("r" + std::to_string(r));
      std::vector<int64_t> row;
      for (int c = 0; c < c_count; ++c) {
        row.push_back(kind(random) < 4 ? small(random) : large(random));
        row_sums[r] += row.back();
        column_sums[c] += row.back();
      }
      table.counts.push_back(row);
    }
    CountTable by_row = Column(row_sums), by_column = Column(column_sums);
    auto row_margins = ProtectCounts(by_row, rules);
    auto column_margins = ProtectCounts(by_column, rules);
    ASSERT_TRUE(row_margins.ok() && column_margins.ok());
    auto released = ProtectCrossCounts(table, *row_margins, *column_margins, rules);
    ASSERT_TRUE(released.ok()) << released.status();
    for (int r = 0; r <= r_count; ++r) EXPECT_EQ(released->cells[r][c_count], row_margins->cells[r][1]) << trial;
    for (int c = 0; c < c_count; ++c) EXPECT_EQ(released->cells[r_count][c], column_margins->cells[c][1]) << trial;
    secondary += released->secondary_withheld;
    if (released->inner_withheld_entirely) {
      ++whole;
      // Withheld zeros among them: the reader's system still has the truth
      // as a solution.
      EXPECT_TRUE(DeducibleRanges(*released, rules).ok()) << trial;
      continue;
    }
    ExpectProtected(table, rules, *released);
    auto ranges = DeducibleRanges(*released, rules);
    ASSERT_TRUE(ranges.ok());
    // Inner primaries are checked above; a total the one-way table withheld
    // stays as uncertain here, even one withheld as a complement.
    for (int r = 0; r <= r_count; ++r) {
      for (int c = 0; c <= c_count; ++c) {
        if (r != r_count && c != c_count) continue;
        const DeducibleRange& range = (*ranges)[r][c];
        if (released->cells[r][c].withheld && range.max >= 0) {
          EXPECT_GE(range.max - range.min, 6) << "trial " << trial << " cell " << r << "," << c;
        }
      }
    }
    if (HasFailure()) FAIL() << "trial " << trial;
  }
  EXPECT_GT(secondary, 10);
  EXPECT_LT(whole, trials / 4) << "withholding whole inner tables must be the exception";
}

// In a one-way table a count and its row total are one number: a
// complement withholds both, or the row total would show what was withheld.
TEST(DisclosureControlTest, AOneWayComplementWithholdsTheCountAndItsTotalAlike) {
  auto released = ProtectCounts(Column({11, 1}), {.suppress_below = 8, .round_to = 5});
  ASSERT_TRUE(released.ok()) << released.status();
  EXPECT_EQ(released->cells[0][0], kWithheld);
  EXPECT_EQ(released->cells[0][1], kWithheld);
  EXPECT_EQ(released->cells[1][0], kWithheld);
  EXPECT_EQ(released->cells[2][0], Shown(10));  // the total, 12, still shown
  EXPECT_EQ(released->secondary_withheld, 1);
}

TEST(DisclosureControlTest, ACrossTableRefusesMarginsOfAnotherShapeOrTotal) {
  const DisclosureRules rules{.suppress_below = 8, .round_to = 5};
  CountTable table{{"a", "b"}, {"x", "y"}, {{10, 20}, {30, 40}}};
  auto rows = ProtectCounts(Column({30, 70}), rules);
  auto columns = ProtectCounts(Column({40, 60}), rules);
  auto other = ProtectCounts(Column({40, 65}), rules);
  auto three = ProtectCounts(Column({10, 20, 70}), rules);
  ASSERT_TRUE(rows.ok() && columns.ok() && other.ok() && three.ok());
  EXPECT_TRUE(ProtectCrossCounts(table, *rows, *columns, rules).ok());
  EXPECT_EQ(ProtectCrossCounts(table, *rows, *other, rules).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ProtectCrossCounts(table, *three, *columns, rules).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(DisclosureControlTest, NoWithheldCountCanBeWorkedOutFromRandomTables) {
  std::mt19937 random(4122026);
  const std::vector<DisclosureRules> all_rules = {
      {.suppress_below = 8, .round_to = 5}, {.suppress_below = 10, .round_to = 5},
      {.suppress_below = 8, .round_to = 1}, {.suppress_below = 3, .round_to = 1}};
  int withheld = 0, secondary = 0;
  for (int trial = 0; trial < 120; ++trial) {
    const DisclosureRules& rules = all_rules[trial % all_rules.size()];
    std::uniform_int_distribution<int> rows(1, 7), columns(1, 5), kind(0, 9), small(0, 9), large(8, 90);
    CountTable table;
    const int r_count = rows(random), c_count = columns(random);
    for (int c = 0; c < c_count; ++c) table.column_labels.push_back("c" + std::to_string(c));
    for (int r = 0; r < r_count; ++r) {
      table.row_labels.push_back("r" + std::to_string(r));
      std::vector<int64_t> row;
      for (int c = 0; c < c_count; ++c) row.push_back(kind(random) < 4 ? small(random) : large(random));
      table.counts.push_back(row);
    }
    auto released = ProtectCounts(table, rules);
    ASSERT_TRUE(released.ok()) << released.status();
    ExpectProtected(table, rules, *released);
    if (HasFailure()) {
      std::string dump;
      for (size_t r = 0; r < released->cells.size(); ++r) {
        for (size_t c = 0; c < released->cells[r].size(); ++c) {
          const int64_t t = r < table.counts.size() && c < table.counts[r].size() ? table.counts[r][c] : -1;
          dump += std::to_string(t) + (released->cells[r][c].withheld ? "*" : "=" + std::to_string(released->cells[r][c].value)) + " ";
        }
        dump += "\n";
      }
      FAIL() << "trial " << trial << " rules " << rules.suppress_below << "/" << rules.round_to << "\n" << dump;
    }
    withheld += released->primary_withheld;
    secondary += released->secondary_withheld;
  }
  // The trials did exercise both kinds of suppression, and secondary
  // suppression did not take whole tables (386 primary, 336 secondary when
  // written; withholding everything would be over 1,000).
  EXPECT_GT(withheld, 100);
  EXPECT_GT(secondary, 10);
  EXPECT_LT(secondary, withheld);
}

// Referrals with one area and one to three strands, as counted for an area
// by strand table: mentions per area and strand, referrals per area.
struct MentionPopulation {
  CountTable mentions;
  std::vector<int64_t> referrals;  // per area
  std::vector<int64_t> strand_mentions;
};

MentionPopulation Population(std::mt19937& random, int areas, int strands, int referrals, double several) {
  MentionPopulation p;
  for (int a = 0; a < areas; ++a) p.mentions.row_labels.push_back("area " + std::to_string(a));
  for (int s = 0; s < strands; ++s) p.mentions.column_labels.push_back("strand " + std::to_string(s));
  p.mentions.counts.assign(areas, std::vector<int64_t>(strands, 0));
  p.referrals.assign(areas, 0);
  p.strand_mentions.assign(strands, 0);
  // Skewed, as real areas and strands are: the city and race dominate.
  std::discrete_distribution<int> area({40, 12, 6, 3, 1, 1, 0.5}), strand({50, 15, 10, 8, 3, 1});
  std::bernoulli_distribution has_several(several);
  for (int i = 0; i < referrals; ++i) {
    const int a = area(random) % areas;
    ++p.referrals[a];
    std::set<int> chosen;
    const int n = has_several(random) ? 2 + static_cast<int>(random() % 2) : 1;
    while (static_cast<int>(chosen.size()) < std::min(n, strands)) chosen.insert(strand(random) % strands);
    for (int s : chosen) {
      ++p.mentions.counts[a][s];
      ++p.strand_mentions[s];
    }
  }
  return p;
}

// The reader's box for a released count, written here apart from the
// library's: a withheld count is at least 1 (zeros are shown), a shown one
// is its rounding interval, never below the threshold.
std::pair<double, double> Box(const ReleasedCount& count, const DisclosureRules& rules, bool may_be_zero) {
  if (count.withheld) return {may_be_zero ? 0 : 1, LinearSystem::kUnbounded};
  if (count.value == 0) return {0, 0};
  return {static_cast<double>(std::max(count.value - rules.round_to / 2, rules.suppress_below)),
          static_cast<double>(count.value + (rules.round_to + 1) / 2 - 1)};
}

// ADR 8 (b): an area by strand table beside the one-way tables of area (in
// referrals) and strand (in mentions), attacked together by a reader who
// also knows that each referral has one area and at least one strand,
// each at most once. No withheld count of any of the three is left
// narrower than the rule's band, nor is any area's number of extra
// mentions (referrals with several strands) when it is 1 to 7.
TEST(DisclosureControlTest, AStrandTableBesideTheOneWayTablesDisclosesNoSmallCount) {
  std::mt19937 random(6122026);
  const std::vector<DisclosureRules> all_rules = {{.suppress_below = 8, .round_to = 5},
                                                  {.suppress_below = 8, .round_to = 1},
                                                  {.suppress_below = 10, .round_to = 5}};
  int withheld_excess = 0, secondary = 0;
  for (int trial = 0; trial < 90; ++trial) {
    const DisclosureRules& rules = all_rules[trial % all_rules.size()];
    const int areas = 3 + trial % 5, strands = 3 + trial % 4;
    MentionPopulation p = Population(random, areas, strands, 20 + static_cast<int>(random() % 200),
                                     std::vector<double>{0, 0.02, 0.05, 0.3}[trial % 4]);
    std::vector<int64_t> referrals = p.referrals, strand_mentions = p.strand_mentions;
    auto by_area = ProtectCounts(Column(referrals), rules);
    auto by_strand = ProtectCounts(Column(strand_mentions), rules);
    ASSERT_TRUE(by_area.ok() && by_strand.ok());
    auto cross = ProtectMentionCrossCounts(p.mentions, referrals, *by_area, *by_strand, rules);
    ASSERT_TRUE(cross.ok()) << cross.status();
    ASSERT_TRUE(cross->columns_count_mentions);
    secondary += cross->secondary_withheld;
    // Margins first: the same totals as the one-way tables, the row totals
    // and grand total in referrals.
    for (int a = 0; a <= areas; ++a) EXPECT_EQ(cross->cells[a][strands], by_area->cells[a][1]) << trial;
    for (int s = 0; s < strands; ++s) EXPECT_EQ(cross->cells[areas][s], by_strand->cells[s][1]) << trial;

    // The reader's joint system: R[a], Nr, S[s], Nm, x[a][s], then extra
    // mentions e[a] and slacks.
    LinearSystem system;
    auto variable = [&](std::pair<double, double> box) {
      system.lower.push_back(box.first);
      system.upper.push_back(box.second);
      return static_cast<int>(system.lower.size()) - 1;
    };
    auto equal = [&](std::vector<std::pair<int, double>> terms) {
      system.equalities.push_back(LinearSystem::Equality{std::move(terms), 0});
    };
    const bool all_inner = cross->inner_withheld_entirely;
    std::vector<int> R, S, e;
    std::vector<std::vector<int>> x(areas);
    for (int a = 0; a < areas; ++a) R.push_back(variable(Box(by_area->cells[a][0], rules, false)));
    const int Nr = variable(Box(by_area->cells[areas][0], rules, false));
    for (int s = 0; s < strands; ++s) S.push_back(variable(Box(by_strand->cells[s][0], rules, false)));
    const int Nm = variable(Box(by_strand->cells[strands][0], rules, false));
    for (int a = 0; a < areas; ++a) {
      for (int s = 0; s < strands; ++s) x[a].push_back(variable(Box(cross->cells[a][s], rules, all_inner)));
    }
    std::vector<std::pair<int, double>> sum_r{{Nr, -1}}, sum_s{{Nm, -1}};
    for (int a = 0; a < areas; ++a) sum_r.emplace_back(R[a], 1);
    for (int s = 0; s < strands; ++s) sum_s.emplace_back(S[s], 1);
    equal(sum_r);
    equal(sum_s);
    for (int s = 0; s < strands; ++s) {
      std::vector<std::pair<int, double>> column{{S[s], -1}};
      for (int a = 0; a < areas; ++a) column.emplace_back(x[a][s], 1);
      equal(column);
    }
    for (int a = 0; a < areas; ++a) {
      e.push_back(variable({0, LinearSystem::kUnbounded}));
      std::vector<std::pair<int, double>> row{{R[a], -1}, {e[a], -1}};
      for (int s = 0; s < strands; ++s) {
        row.emplace_back(x[a][s], 1);
        equal({{x[a][s], 1}, {variable({0, LinearSystem::kUnbounded}), 1}, {R[a], -1}});
      }
      equal(row);
    }
    auto bounds = LinearBounds::Create(system);
    ASSERT_TRUE(bounds.ok()) << "trial " << trial << ": the truth is a solution: " << bounds.status();
    const int64_t band = std::max<int64_t>(rules.suppress_below - 2, 1);
    auto expect_protected = [&](int v, int64_t truth, bool released_withheld, const std::string& what) {
      const LinearBounds::Range range = bounds->Of(v);
      EXPECT_LE(range.min, truth + 1e-6) << what;
      if (std::isfinite(range.max)) {
        EXPECT_GE(range.max, truth - 1e-6) << what;
      }
      if (!released_withheld) return;
      if (std::isfinite(range.max)) {
        EXPECT_GE(std::floor(range.max + 1e-6) - std::ceil(range.min - 1e-6), band) << what << " holds " << truth;
      }
    };
    for (int a = 0; a < areas; ++a) {
      expect_protected(R[a], referrals[a], by_area->cells[a][0].withheld,
                       "trial " + std::to_string(trial) + " area " + std::to_string(a));
      for (int s = 0; s < strands; ++s) {
        const int64_t truth = p.mentions.counts[a][s];
        if (truth > 0 && truth < rules.suppress_below) {
          EXPECT_TRUE(cross->cells[a][s].withheld) << trial;
        }
        expect_protected(x[a][s], truth, truth > 0 && truth < rules.suppress_below,
                         "trial " + std::to_string(trial) + " cell " + std::to_string(a) + "," + std::to_string(s));
      }
      int64_t extra = -referrals[a];
      for (int s = 0; s < strands; ++s) extra += p.mentions.counts[a][s];
      if (extra > 0 && extra < rules.suppress_below) {
        const LinearBounds::Range range = bounds->Of(e[a]);
        const bool none_possible = std::ceil(range.min - 1e-6) <= 0;
        EXPECT_TRUE(none_possible || !std::isfinite(range.max) ||
                    std::floor(range.max + 1e-6) - std::ceil(range.min - 1e-6) >= band)
            << "trial " << trial << " area " << a << ": " << extra << " extra mentions narrowed to " << range.min
            << ".." << range.max;
        bool row_withheld = false;
        for (int s = 0; s < strands; ++s) row_withheld = row_withheld || cross->cells[a][s].withheld;
        withheld_excess += row_withheld;
      }
    }
    for (int s = 0; s < strands; ++s) {
      expect_protected(S[s], strand_mentions[s], by_strand->cells[s][0].withheld,
                       "trial " + std::to_string(trial) + " strand " + std::to_string(s));
    }
    if (HasFailure()) FAIL() << "trial " << trial;
  }
  EXPECT_GT(secondary, 10);
  EXPECT_GT(withheld_excess, 0);
}

// Exact counts (no rounding) show how the row totals in referrals could
// give away the extra mentions: Leicester's 20 referrals with 12 race and
// 11 religion mentions would say exactly 3 referrals had both. The smaller
// count of that row is withheld, and its column's complement with it.
TEST(DisclosureControlTest, AStrandTableWithholdsWhatWouldPinARowsExtraMentions) {
  const DisclosureRules rules{.suppress_below = 8, .round_to = 1};
  CountTable mentions{{"leicester", "blaby"}, {"race", "religion"}, {{12, 11}, {30, 9}}};
  const std::vector<int64_t> referrals = {20, 39};  // blaby: none with both
  auto by_area = ProtectCounts(Column(referrals), rules);
  auto by_strand = ProtectCounts(Column({42, 20}), rules);
  ASSERT_TRUE(by_area.ok() && by_strand.ok());
  auto cross = ProtectMentionCrossCounts(mentions, referrals, *by_area, *by_strand, rules);
  ASSERT_TRUE(cross.ok()) << cross.status();
  EXPECT_EQ(cross->cells[0][0], Shown(12));
  EXPECT_EQ(cross->cells[0][1], kWithheld);
  EXPECT_EQ(cross->cells[1][1], kWithheld);
  EXPECT_EQ(cross->cells[0][2], Shown(20));
  EXPECT_EQ(cross->cells[2][2], Shown(59));
  EXPECT_EQ(cross->mention_total, Shown(62));
  auto ranges = DeducibleRanges(*cross, rules);
  ASSERT_TRUE(ranges.ok()) << ranges.status();
  // Religion in Leicester: at least 8 (the row needs 20), at most 11 (the
  // column's 20 less Blaby's 9 at least); a reader cannot tell whether any
  // referral had both.
  EXPECT_EQ((*ranges)[0][1].min, 8);

  // What a count of mentions cannot be is refused.
  EXPECT_EQ(ProtectMentionCrossCounts(mentions, {10, 39}, *by_area, *by_strand, rules).status().code(),
            absl::StatusCode::kInvalidArgument);  // 12 race mentions in 10 referrals
  EXPECT_EQ(ProtectMentionCrossCounts(mentions, {24, 39}, *by_area, *by_strand, rules).status().code(),
            absl::StatusCode::kInvalidArgument);  // a referral with no strand
  EXPECT_EQ(ProtectMentionCrossCounts(mentions, {20}, *by_area, *by_strand, rules).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Response times: the first-response and completion tables of one release
// share their rows' totals, and a reader knows that a referral completed
// was answered first. Attacked together, with that knowledge, no withheld
// count of either is left narrower than the rule's band.
TEST(DisclosureControlTest, TablesReleasedTogetherAreProtectedAgainstTheirJointAttack) {
  std::mt19937 random(7122026);
  const std::vector<DisclosureRules> all_rules = {{.suppress_below = 8, .round_to = 5},
                                                  {.suppress_below = 8, .round_to = 1},
                                                  {.suppress_below = 10, .round_to = 5}};
  // Bands as the release has them: answered within 1, 3, 7 days, later;
  // withdrawn, awaiting overdue, awaiting not due; completed within 7, 28
  // days, later; not completed.
  const int kAnswered = 7, kCompleted = 4;
  const std::vector<KnownInequality> known = {{1, {0}, 0, {0, 1, 2}}, {1, {0, 1, 2}, 0, {0, 1, 2, 3}}};
  int secondary = 0;
  for (int trial = 0; trial < 60; ++trial) {
    const DisclosureRules& rules = all_rules[trial % all_rules.size()];
    const int rows = 2 + trial % 4;
    CountTable answered, completed;
    for (int r = 0; r < rows; ++r) answered.row_labels.push_back("type " + std::to_string(r));
    completed.row_labels = answered.row_labels;
    for (int c = 0; c < kAnswered; ++c) answered.column_labels.push_back("a" + std::to_string(c));
    for (int c = 0; c < kCompleted; ++c) completed.column_labels.push_back("c" + std::to_string(c));
    answered.counts.assign(rows, std::vector<int64_t>(kAnswered, 0));
    completed.counts.assign(rows, std::vector<int64_t>(kCompleted, 0));
    std::exponential_distribution<double> response_hours(1.0 / 60), completion_hours(1.0 / 250);
    std::discrete_distribution<int> fate({70, 6, 12, 12}), type({30, 10, 4, 1, 1});
    const int referrals = 15 + static_cast<int>(random() % 150);
    for (int i = 0; i < referrals; ++i) {
      const int r = type(random) % rows;
      const int f = fate(random);
      if (f > 0) {
        ++answered.counts[r][3 + f];
        ++completed.counts[r][3];
        continue;
      }
      const double answer = response_hours(random);
      ++answered.counts[r][answer < 24 ? 0 : answer < 72 ? 1 : answer < 168 ? 2 : 3];
      if (random() % 10 < 6) {
        const double done = answer + completion_hours(random);
        ++completed.counts[r][done < 168 ? 0 : done < 672 ? 1 : 2];
      } else {
        ++completed.counts[r][3];
      }
    }
    std::vector<int64_t> by_row(rows, 0), by_answer(kAnswered, 0), by_completion(kCompleted, 0);
    for (int r = 0; r < rows; ++r) {
      for (int c = 0; c < kAnswered; ++c) by_row[r] += answered.counts[r][c], by_answer[c] += answered.counts[r][c];
      for (int c = 0; c < kCompleted; ++c) by_completion[c] += completed.counts[r][c];
    }
    auto row_margins = ProtectCounts(Column(by_row), rules);
    auto answer_margins = ProtectCounts(Column(by_answer), rules);
    auto completion_margins = ProtectCounts(Column(by_completion), rules);
    ASSERT_TRUE(row_margins.ok() && answer_margins.ok() && completion_margins.ok());
    auto released = ProtectCrossCountsTogether({answered, completed}, *row_margins,
                                               {*answer_margins, *completion_margins}, known, rules);
    ASSERT_TRUE(released.ok()) << released.status();
    ASSERT_EQ(released->size(), 2u);
    const std::vector<const CountTable*> truth = {&answered, &completed};

    // The reader's joint system, written here: both grids, their row totals
    // and grand totals equal, and the two inequalities per row.
    LinearSystem system;
    auto variable = [&](std::pair<double, double> box) {
      system.lower.push_back(box.first);
      system.upper.push_back(box.second);
      return static_cast<int>(system.lower.size()) - 1;
    };
    std::vector<std::vector<std::vector<int>>> grid(2);
    for (int t = 0; t < 2; ++t) {
      const ProtectedTable& table = (*released)[t];
      const int columns = static_cast<int>(table.column_labels.size());
      grid[t].assign(rows + 1, std::vector<int>(columns + 1));
      for (int r = 0; r <= rows; ++r) {
        for (int c = 0; c <= columns; ++c) {
          grid[t][r][c] =
              variable(Box(table.cells[r][c], rules, table.inner_withheld_entirely && r < rows && c < columns));
        }
      }
      for (int r = 0; r <= rows; ++r) {
        LinearSystem::Equality sum{{{grid[t][r][columns], -1}}, 0};
        for (int c = 0; c < columns; ++c) sum.terms.emplace_back(grid[t][r][c], 1);
        system.equalities.push_back(sum);
      }
      for (int c = 0; c <= columns; ++c) {
        LinearSystem::Equality sum{{{grid[t][rows][c], -1}}, 0};
        for (int r = 0; r < rows; ++r) sum.terms.emplace_back(grid[t][r][c], 1);
        system.equalities.push_back(sum);
      }
    }
    for (int r = 0; r <= rows; ++r) {
      system.equalities.push_back({{{grid[0][r][kAnswered], 1}, {grid[1][r][kCompleted], -1}}, 0});
      // completed within 7 days <= answered within 7 days; completed <= answered.
      system.equalities.push_back({{{grid[0][r][0], 1},
                                    {grid[0][r][1], 1},
                                    {grid[0][r][2], 1},
                                    {grid[1][r][0], -1},
                                    {variable({0, LinearSystem::kUnbounded}), -1}},
                                   0});
      system.equalities.push_back({{{grid[0][r][0], 1},
                                    {grid[0][r][1], 1},
                                    {grid[0][r][2], 1},
                                    {grid[0][r][3], 1},
                                    {grid[1][r][0], -1},
                                    {grid[1][r][1], -1},
                                    {grid[1][r][2], -1},
                                    {variable({0, LinearSystem::kUnbounded}), -1}},
                                   0});
    }
    auto bounds = LinearBounds::Create(system);
    ASSERT_TRUE(bounds.ok()) << "trial " << trial << ": the truth is a solution: " << bounds.status();
    const int64_t band = std::max<int64_t>(rules.suppress_below - 2, 1);
    for (int t = 0; t < 2; ++t) {
      const ProtectedTable& table = (*released)[t];
      const int columns = static_cast<int>(table.column_labels.size());
      secondary += table.secondary_withheld;
      for (int r = 0; r <= rows; ++r) {
        for (int c = 0; c <= columns; ++c) {
          const bool inner = r < rows && c < columns;
          const int64_t count = inner ? truth[t]->counts[r][c] : -1;
          if (inner && count > 0 && count < rules.suppress_below) {
            EXPECT_TRUE(table.cells[r][c].withheld) << "trial " << trial;
          }
          const bool defended = table.cells[r][c].withheld && (!inner || (count > 0 && count < rules.suppress_below));
          if (!defended) continue;
          const LinearBounds::Range range = bounds->Of(grid[t][r][c]);
          if (!std::isfinite(range.max)) continue;
          EXPECT_GE(std::floor(range.max + 1e-6) - std::ceil(range.min - 1e-6), band)
              << "trial " << trial << " table " << t << " cell " << r << "," << c << " narrowed to " << range.min
              << ".." << range.max;
        }
      }
    }
    if (HasFailure()) FAIL() << "trial " << trial;
  }
  EXPECT_GT(secondary, 10);

  // An inequality naming a column that is not there is refused.
  CountTable one{{"a"}, {"x", "y"}, {{10, 10}}};
  auto margin = ProtectCounts(Column({20}), {});
  auto columns = ProtectCounts(Column({10, 10}), {});
  ASSERT_TRUE(margin.ok() && columns.ok());
  EXPECT_EQ(
      ProtectCrossCountsTogether({one, one}, *margin, {*columns, *columns}, {{1, {5}, 0, {0}}}, {}).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ProtectCrossCountsTogether({one, one}, *margin, {*columns}, {}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(DisclosureControlTest, RefusesMalformedTablesAndRules) {
  CountTable ragged = Column({1, 2});
  ragged.counts[1].push_back(4);
  EXPECT_EQ(ProtectCounts(ragged, {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ProtectCounts(Column({-1}), {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ProtectCounts(CountTable{}, {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ProtectCounts(Column({5}), {.suppress_below = 0, .round_to = 5}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ProtectCounts(Column({5}), {.suppress_below = 8, .round_to = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
  // 8 would round to 0 and pass for a true zero.
  EXPECT_THAT(ProtectCounts(Column({5}), {.suppress_below = 8, .round_to = 20}).status().message(),
              HasSubstr("round to 0"));
}

TEST(DisclosureControlTest, TheRulesAreStatedInWords) {
  const std::string nhs = DescribeRules(DisclosureRules{});
  EXPECT_THAT(nhs, HasSubstr("from 1 to 7 are withheld"));
  EXPECT_THAT(nhs, HasSubstr("nearest 5"));
  EXPECT_THAT(DescribeRules({.suppress_below = 10, .round_to = 1}), ::testing::Not(HasSubstr("rounded")));
}

}  // namespace
}  // namespace refx::core::reporting
