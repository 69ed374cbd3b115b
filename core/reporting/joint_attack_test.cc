// Disclosure control against a reader who attacks several releases at
// once with what else is known: an area by strand table beside the one-way
// tables, with each referral's one area and one to three strands (ADR 8
// (b)), and tables of one quarter released together. Every withheld count's
// range is solved, never judged by eye.
#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "core/reporting/disclosure_control.h"
#include "core/reporting/disclosure_control_test_support.h"
#include "core/reporting/linear_bounds.h"
#include "gtest/gtest.h"

namespace refx::core::reporting {
namespace {

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

}  // namespace
}  // namespace refx::core::reporting
