// The bound solver against brute force: on small tables with box bounds on
// every cell and total, the least and greatest value of each cell found by
// enumerating every integer filling equals the solver's range.
#include "core/reporting/linear_bounds.h"

#include <algorithm>
#include <random>

#include "gtest/gtest.h"

namespace refx::core::reporting {
namespace {

TEST(LinearBoundsTest, AnEqualityNarrowsItsVariables) {
  // x0 + x1 = 10, x0 in [0, 8], x1 in [3, 20]: x0 in [0, 7], x1 in [3, 10].
  LinearSystem system;
  system.lower = {0, 3};
  system.upper = {8, 20};
  system.equalities.push_back({{{0, 1.0}, {1, 1.0}}, 10});
  auto bounds = LinearBounds::Create(system);
  ASSERT_TRUE(bounds.ok()) << bounds.status();
  EXPECT_DOUBLE_EQ(bounds->Of(0).min, 0);
  EXPECT_DOUBLE_EQ(bounds->Of(0).max, 7);
  EXPECT_DOUBLE_EQ(bounds->Of(1).min, 3);
  EXPECT_DOUBLE_EQ(bounds->Of(1).max, 10);
}

TEST(LinearBoundsTest, UncappedVariablesAreUnboundedAndFixedOnesExact) {
  // x0 - x1 = 0 with both only bounded below; x2 fixed at 4.
  LinearSystem system;
  system.lower = {1, 2, 4};
  system.upper = {LinearSystem::kUnbounded, LinearSystem::kUnbounded, 4};
  system.equalities.push_back({{{0, 1.0}, {1, -1.0}}, 0});
  auto bounds = LinearBounds::Create(system);
  ASSERT_TRUE(bounds.ok()) << bounds.status();
  EXPECT_DOUBLE_EQ(bounds->Of(0).min, 2);
  EXPECT_EQ(bounds->Of(0).max, LinearSystem::kUnbounded);
  EXPECT_DOUBLE_EQ(bounds->Of(2).min, 4);
  EXPECT_DOUBLE_EQ(bounds->Of(2).max, 4);
}

TEST(LinearBoundsTest, RefusesInfeasibleAndMalformedSystems) {
  LinearSystem infeasible;
  infeasible.lower = {0, 0};
  infeasible.upper = {2, 2};
  infeasible.equalities.push_back({{{0, 1.0}, {1, 1.0}}, 5});
  EXPECT_EQ(LinearBounds::Create(infeasible).status().code(), absl::StatusCode::kFailedPrecondition);

  LinearSystem empty_box;
  empty_box.lower = {3};
  empty_box.upper = {2};
  EXPECT_EQ(LinearBounds::Create(empty_box).status().code(), absl::StatusCode::kFailedPrecondition);

  LinearSystem no_variable;
  no_variable.lower = {0};
  no_variable.upper = {1};
  no_variable.equalities.push_back({{{4, 1.0}}, 0});
  EXPECT_EQ(LinearBounds::Create(no_variable).status().code(), absl::StatusCode::kInvalidArgument);

  LinearSystem ragged;
  ragged.lower = {0, 0};
  ragged.upper = {1};
  EXPECT_EQ(LinearBounds::Create(ragged).status().code(), absl::StatusCode::kInvalidArgument);
}

// 2 x 3 tables with row, column and grand totals: 12 variables, each boxed
// around a true filling; the inner six are enumerated.
TEST(LinearBoundsTest, TableRangesEqualBruteForceEnumeration) {
  std::mt19937 random(20261204);
  constexpr int kRows = 2, kColumns = 3, kWidth = kColumns + 1;
  for (int trial = 0; trial < 60; ++trial) {
    std::uniform_int_distribution<int> value(0, 9), slack(0, 2), open(0, 9);
    int truth[kRows + 1][kWidth] = {};
    for (int r = 0; r < kRows; ++r) {
      for (int c = 0; c < kColumns; ++c) {
        truth[r][c] = value(random);
        truth[r][kColumns] += truth[r][c];
        truth[kRows][c] += truth[r][c];
        truth[kRows][kColumns] += truth[r][c];
      }
    }
    LinearSystem system;
    int low[kRows + 1][kWidth], high[kRows + 1][kWidth];
    for (int r = 0; r <= kRows; ++r) {
      for (int c = 0; c < kWidth; ++c) {
        low[r][c] = std::max(0, truth[r][c] - slack(random));
        // Some cells are left uncapped, as withheld counts are.
        high[r][c] = open(random) == 0 ? 1000 : truth[r][c] + slack(random);
        system.lower.push_back(low[r][c]);
        system.upper.push_back(high[r][c] == 1000 ? LinearSystem::kUnbounded : high[r][c]);
      }
    }
    for (int r = 0; r <= kRows; ++r) {
      LinearSystem::Equality sum;
      for (int c = 0; c < kColumns; ++c) sum.terms.emplace_back(r * kWidth + c, 1.0);
      sum.terms.emplace_back(r * kWidth + kColumns, -1.0);
      system.equalities.push_back(sum);
    }
    for (int c = 0; c < kWidth; ++c) {
      LinearSystem::Equality sum;
      for (int r = 0; r < kRows; ++r) sum.terms.emplace_back(r * kWidth + c, 1.0);
      sum.terms.emplace_back(kRows * kWidth + c, -1.0);
      system.equalities.push_back(sum);
    }
    auto bounds = LinearBounds::Create(system);
    ASSERT_TRUE(bounds.ok()) << bounds.status();

    // Brute force: every inner filling within its boxes (capped at 30, far
    // above any total's box) whose totals fall in theirs.
    int seen_min[kRows + 1][kWidth], seen_max[kRows + 1][kWidth];
    std::fill(&seen_min[0][0], &seen_min[0][0] + (kRows + 1) * kWidth, 1 << 20);
    std::fill(&seen_max[0][0], &seen_max[0][0] + (kRows + 1) * kWidth, -1);
    int x[kRows + 1][kWidth];
    // A cell is at most its row's and column's totals.
    auto cap = [&](int r, int c) { return std::min({high[r][c], high[r][kColumns], high[kRows][c], 30}); };
    bool cap_reached = false;  // then the enumeration's maxima are only lower bounds
    for (x[0][0] = low[0][0]; x[0][0] <= cap(0, 0); ++x[0][0])
      for (x[0][1] = low[0][1]; x[0][1] <= cap(0, 1); ++x[0][1])
        for (x[0][2] = low[0][2]; x[0][2] <= cap(0, 2); ++x[0][2])
          for (x[1][0] = low[1][0]; x[1][0] <= cap(1, 0); ++x[1][0])
            for (x[1][1] = low[1][1]; x[1][1] <= cap(1, 1); ++x[1][1])
              for (x[1][2] = low[1][2]; x[1][2] <= cap(1, 2); ++x[1][2]) {
                x[0][3] = x[0][0] + x[0][1] + x[0][2];
                x[1][3] = x[1][0] + x[1][1] + x[1][2];
                for (int c = 0; c < kWidth; ++c) x[2][c] = x[0][c] + x[1][c];
                bool fits = true;
                for (int r = 0; r <= kRows && fits; ++r) {
                  for (int c = 0; c < kWidth && fits; ++c) fits = x[r][c] >= low[r][c] && x[r][c] <= high[r][c];
                }
                if (!fits) continue;
                for (int r = 0; r < kRows; ++r) {
                  for (int c = 0; c < kColumns; ++c) cap_reached |= x[r][c] == 30;
                }
                for (int r = 0; r <= kRows; ++r) {
                  for (int c = 0; c < kWidth; ++c) {
                    seen_min[r][c] = std::min(seen_min[r][c], x[r][c]);
                    seen_max[r][c] = std::max(seen_max[r][c], x[r][c]);
                  }
                }
              }
    for (int r = 0; r <= kRows; ++r) {
      for (int c = 0; c < kWidth; ++c) {
        const LinearBounds::Range range = bounds->Of(r * kWidth + c);
        EXPECT_NEAR(range.min, seen_min[r][c], 1e-6) << "trial " << trial << " cell " << r << "," << c;
        if (cap_reached) {
          EXPECT_GE(range.max, seen_max[r][c]) << "trial " << trial << " cell " << r << "," << c;
        } else {
          EXPECT_NEAR(range.max, seen_max[r][c], 1e-6) << "trial " << trial << " cell " << r << "," << c;
        }
      }
    }
  }
}

}  // namespace
}  // namespace refx::core::reporting
