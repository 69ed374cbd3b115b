// What the disclosure control suites share: a released count's shorthand,
// a one-column table, and the check that a release protects every small
// count against a reader who solves for it from the released margins.
#ifndef REFX_CORE_REPORTING_DISCLOSURE_CONTROL_TEST_SUPPORT_H_
#define REFX_CORE_REPORTING_DISCLOSURE_CONTROL_TEST_SUPPORT_H_

#include <algorithm>
#include <string>
#include <vector>

#include "core/reporting/disclosure_control.h"
#include "gtest/gtest.h"

namespace refx::core::reporting {

inline constexpr ReleasedCount kWithheld{true, 0};
inline ReleasedCount Shown(int64_t value) { return ReleasedCount{false, value}; }

inline CountTable Column(std::vector<int64_t> counts) {
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
inline void ExpectProtected(const CountTable& table, const DisclosureRules& rules, const ProtectedTable& released) {
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

}  // namespace refx::core::reporting

#endif  // REFX_CORE_REPORTING_DISCLOSURE_CONTROL_TEST_SUPPORT_H_
