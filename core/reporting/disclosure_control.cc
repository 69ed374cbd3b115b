#include "core/reporting/disclosure_control.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "absl/strings/str_cat.h"
#include "core/reporting/linear_bounds.h"

namespace refx::core::reporting {
namespace {

// Cells of the extended grid (totals included) in row-major order.
struct Cell {
  int row, column;
};

int64_t RoundHalfUp(int64_t count, int64_t base) { return (count + base / 2) / base * base; }

// The released grid turned into the reader's constraints: one variable per
// cell (row-major over the extended grid), each row and column summing to
// its total.
LinearSystem ReaderConstraints(const std::vector<std::vector<ReleasedCount>>& cells, const DisclosureRules& rules) {
  const int rows = static_cast<int>(cells.size()) - 1, columns = static_cast<int>(cells[0].size()) - 1;
  const int width = columns + 1;
  LinearSystem system;
  for (const auto& row : cells) {
    for (const ReleasedCount& count : row) {
      if (count.withheld) {
        system.lower.push_back(1);  // zeros are shown, so a withheld count is not one
        system.upper.push_back(LinearSystem::kUnbounded);
      } else if (count.value == 0) {
        system.lower.push_back(0);
        system.upper.push_back(0);
      } else {
        const int64_t low = std::max(count.value - rules.round_to / 2, rules.suppress_below);
        const int64_t high = count.value + (rules.round_to + 1) / 2 - 1;
        system.lower.push_back(static_cast<double>(low));
        system.upper.push_back(static_cast<double>(high));
      }
    }
  }
  for (int r = 0; r <= rows; ++r) {  // each row, the column totals' row too
    LinearSystem::Equality sum;
    for (int c = 0; c < columns; ++c) sum.terms.emplace_back(r * width + c, 1.0);
    sum.terms.emplace_back(r * width + columns, -1.0);
    system.equalities.push_back(std::move(sum));
  }
  for (int c = 0; c <= columns; ++c) {  // each column, the row totals' column too
    LinearSystem::Equality sum;
    for (int r = 0; r < rows; ++r) sum.terms.emplace_back(r * width + c, 1.0);
    sum.terms.emplace_back(rows * width + c, -1.0);
    system.equalities.push_back(std::move(sum));
  }
  return system;
}

DeducibleRange ToRange(const LinearBounds::Range& range) {
  // The constraint matrix is a table's (totally unimodular) and the bounds
  // are integers, so the extremes are integers; rounding only drops noise.
  return DeducibleRange{static_cast<int64_t>(std::llround(range.min)),
                        std::isfinite(range.max) ? static_cast<int64_t>(std::llround(range.max)) : -1};
}

// A reader must be left at least as many candidate values as the rule
// withholds (1..suppress_below-1), and never fewer than two.
int64_t RequiredWidth(const DisclosureRules& rules) { return std::max<int64_t>(rules.suppress_below - 2, 1); }

bool Protected(const DeducibleRange& range, const DisclosureRules& rules) {
  return range.max < 0 || range.max - range.min >= RequiredWidth(rules);
}

// The cell to withhold next to protect `exposed`: the smallest shown
// non-zero count in its row or column, else anywhere; nullopt if none is left.
std::optional<Cell> Complement(const std::vector<std::vector<int64_t>>& truth,
                               const std::vector<std::vector<ReleasedCount>>& cells, Cell exposed) {
  std::optional<Cell> best, anywhere;
  auto consider = [&](std::optional<Cell>& chosen, int r, int c) {
    if (cells[r][c].withheld || truth[r][c] == 0) return;
    if (!chosen.has_value() || truth[r][c] < truth[chosen->row][chosen->column]) chosen = Cell{r, c};
  };
  for (size_t r = 0; r < cells.size(); ++r) {
    for (size_t c = 0; c < cells[r].size(); ++c) {
      const int ri = static_cast<int>(r), ci = static_cast<int>(c);
      if (ri == exposed.row || ci == exposed.column) consider(best, ri, ci);
      consider(anywhere, ri, ci);
    }
  }
  return best.has_value() ? best : anywhere;
}

}  // namespace

absl::Status CheckDisclosureRules(const DisclosureRules& rules) {
  if (rules.suppress_below < 1 || rules.suppress_below > 1000) {
    return absl::InvalidArgumentError("suppress_below must be between 1 and 1000");
  }
  if (rules.round_to < 1 || rules.round_to > 100) return absl::InvalidArgumentError("round_to must be 1 to 100");
  // Otherwise a shown count could round to 0 and pass for a true zero.
  if (RoundHalfUp(rules.suppress_below, rules.round_to) == 0) {
    return absl::InvalidArgumentError("round_to is too large for suppress_below: a shown count would round to 0");
  }
  return absl::OkStatus();
}

std::string DescribeRules(const DisclosureRules& rules) {
  std::string text;
  if (rules.suppress_below > 1) {
    text = absl::StrCat("Counts from 1 to ", rules.suppress_below - 1, " are withheld; ");
  }
  absl::StrAppend(&text, "zeros are shown; ");
  if (rules.round_to > 1) {
    absl::StrAppend(&text, "every other count, totals included, is rounded to the nearest ", rules.round_to,
                    ", so totals may not equal the sum of their parts; ");
  }
  absl::StrAppend(&text,
                  "further counts are withheld where the totals would otherwise let a withheld count be worked out.");
  return text;
}

absl::StatusOr<ProtectedTable> ProtectCounts(const CountTable& table, const DisclosureRules& rules) {
  if (absl::Status checked = CheckDisclosureRules(rules); !checked.ok()) return checked;
  const size_t rows = table.row_labels.size(), columns = table.column_labels.size();
  if (rows == 0 || columns == 0) return absl::InvalidArgumentError("a table needs at least one row and one column");
  if (table.counts.size() != rows) return absl::InvalidArgumentError("counts do not match the row labels");
  // The true counts with their totals, in the released grid's shape.
  std::vector<std::vector<int64_t>> truth(rows + 1, std::vector<int64_t>(columns + 1, 0));
  for (size_t r = 0; r < rows; ++r) {
    if (table.counts[r].size() != columns) {
      return absl::InvalidArgumentError(absl::StrCat("row ", r, " does not match the column labels"));
    }
    for (size_t c = 0; c < columns; ++c) {
      const int64_t count = table.counts[r][c];
      if (count < 0) return absl::InvalidArgumentError(absl::StrCat("row ", r, " column ", c, " is negative"));
      truth[r][c] = count;
      truth[r][columns] += count;
      truth[rows][c] += count;
      truth[rows][columns] += count;
    }
  }

  ProtectedTable released;
  released.row_labels = table.row_labels;
  released.column_labels = table.column_labels;
  released.cells.assign(rows + 1, std::vector<ReleasedCount>(columns + 1));
  std::vector<Cell> primary;
  for (size_t r = 0; r <= rows; ++r) {
    for (size_t c = 0; c <= columns; ++c) {
      const int64_t count = truth[r][c];
      if (count > 0 && count < rules.suppress_below) {
        released.cells[r][c].withheld = true;
        primary.push_back(Cell{static_cast<int>(r), static_cast<int>(c)});
      } else {
        released.cells[r][c].value = RoundHalfUp(count, rules.round_to);
      }
    }
  }
  released.primary_withheld = static_cast<int>(primary.size());

  // Attack the release; withhold one more count per exposed primary until
  // none is exposed (each round withholds a cell, so this ends).
  for (;;) {
    absl::StatusOr<LinearBounds> bounds = LinearBounds::Create(ReaderConstraints(released.cells, rules));
    if (!bounds.ok()) return absl::InternalError(absl::StrCat("released table is inconsistent: ", bounds.status().message()));
    std::optional<Cell> exposed;
    for (const Cell& cell : primary) {
      const DeducibleRange range = ToRange(bounds->Of(cell.row * static_cast<int>(columns + 1) + cell.column));
      if (!Protected(range, rules)) {
        exposed = cell;
        break;
      }
    }
    if (!exposed.has_value()) break;
    std::optional<Cell> complement = Complement(truth, released.cells, *exposed);
    if (!complement.has_value()) break;  // every non-zero count is withheld
    released.cells[complement->row][complement->column] = ReleasedCount{true, 0};
    ++released.secondary_withheld;
  }
  return released;
}

absl::StatusOr<std::vector<std::vector<DeducibleRange>>> DeducibleRanges(const ProtectedTable& released,
                                                                         const DisclosureRules& rules) {
  if (absl::Status checked = CheckDisclosureRules(rules); !checked.ok()) return checked;
  const size_t rows = released.row_labels.size(), columns = released.column_labels.size();
  if (released.cells.size() != rows + 1) return absl::InvalidArgumentError("cells do not match the row labels");
  for (const auto& row : released.cells) {
    if (row.size() != columns + 1) return absl::InvalidArgumentError("cells do not match the column labels");
  }
  absl::StatusOr<LinearBounds> bounds = LinearBounds::Create(ReaderConstraints(released.cells, rules));
  if (!bounds.ok()) return bounds.status();
  std::vector<std::vector<DeducibleRange>> ranges(rows + 1, std::vector<DeducibleRange>(columns + 1));
  for (size_t r = 0; r <= rows; ++r) {
    for (size_t c = 0; c <= columns; ++c) {
      ranges[r][c] = ToRange(bounds->Of(static_cast<int>(r * (columns + 1) + c)));
    }
  }
  return ranges;
}

}  // namespace refx::core::reporting
