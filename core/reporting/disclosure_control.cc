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
  // Zeros are shown, so a withheld count is not one; except where a
  // cross-table withheld every inner count (ProtectCrossCounts' last
  // resort), zeros with the rest, which the reader sees.
  bool every_inner_withheld = true;
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < columns; ++c) every_inner_withheld = every_inner_withheld && cells[r][c].withheld;
  }
  LinearSystem system;
  for (int r = 0; r <= rows; ++r) {
    for (int c = 0; c <= columns; ++c) {
      const ReleasedCount& count = cells[r][c];
      if (count.withheld) {
        const bool inner = r < rows && c < columns;
        system.lower.push_back(inner && every_inner_withheld ? 0 : 1);
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
// With `inner_only`, totals are never chosen.
std::optional<Cell> Complement(const std::vector<std::vector<int64_t>>& truth,
                               const std::vector<std::vector<ReleasedCount>>& cells, Cell exposed, bool inner_only) {
  const int rows = static_cast<int>(cells.size()) - 1, columns = static_cast<int>(cells[0].size()) - 1;
  std::optional<Cell> best, anywhere;
  auto consider = [&](std::optional<Cell>& chosen, int r, int c) {
    if (inner_only && (r == rows || c == columns)) return;
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

// The true counts with their totals, in the released grid's shape;
// INVALID_ARGUMENT for a ragged table or a negative count.
absl::StatusOr<std::vector<std::vector<int64_t>>> TruthOf(const CountTable& table) {
  const size_t rows = table.row_labels.size(), columns = table.column_labels.size();
  if (rows == 0 || columns == 0) return absl::InvalidArgumentError("a table needs at least one row and one column");
  if (table.counts.size() != rows) return absl::InvalidArgumentError("counts do not match the row labels");
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
  return truth;
}

// Primary suppression and rounding of every count (of the inner counts
// only when the margins are someone else's decision).
ProtectedTable StartRelease(const CountTable& table, const std::vector<std::vector<int64_t>>& truth,
                            const DisclosureRules& rules, bool fixed_margins) {
  const size_t rows = table.row_labels.size(), columns = table.column_labels.size();
  ProtectedTable released;
  released.row_labels = table.row_labels;
  released.column_labels = table.column_labels;
  released.cells.assign(rows + 1, std::vector<ReleasedCount>(columns + 1));
  for (size_t r = 0; r <= rows; ++r) {
    for (size_t c = 0; c <= columns; ++c) {
      if (fixed_margins && (r == rows || c == columns)) continue;
      const int64_t count = truth[r][c];
      if (count > 0 && count < rules.suppress_below) {
        released.cells[r][c].withheld = true;
        ++released.primary_withheld;
      } else {
        released.cells[r][c].value = RoundHalfUp(count, rules.round_to);
      }
    }
  }
  return released;
}

// Attacks the release as a reader would and withholds one more count per
// exposed withheld count until none is exposed (each round withholds a
// cell, so this ends). Every withheld count is defended, a margin's too.
absl::StatusOr<ProtectedTable> Attack(const std::vector<std::vector<int64_t>>& truth, ProtectedTable released,
                                      const DisclosureRules& rules, bool inner_only) {
  const int rows = static_cast<int>(released.row_labels.size());
  const int columns = static_cast<int>(released.column_labels.size());
  std::vector<Cell> defended;
  for (int r = 0; r <= rows; ++r) {
    for (int c = 0; c <= columns; ++c) {
      if (released.cells[r][c].withheld) defended.push_back(Cell{r, c});
    }
  }
  for (;;) {
    absl::StatusOr<LinearBounds> bounds = LinearBounds::Create(ReaderConstraints(released.cells, rules));
    if (!bounds.ok()) return absl::InternalError(absl::StrCat("released table is inconsistent: ", bounds.status().message()));
    std::optional<Cell> exposed;
    for (const Cell& cell : defended) {
      const DeducibleRange range = ToRange(bounds->Of(cell.row * (columns + 1) + cell.column));
      if (!Protected(range, rules)) {
        exposed = cell;
        break;
      }
    }
    if (!exposed.has_value()) break;
    std::optional<Cell> complement = Complement(truth, released.cells, *exposed, inner_only);
    if (!complement.has_value()) {
      if (!inner_only) break;  // every non-zero count is withheld
      for (int r = 0; r < rows; ++r) {
        for (int c = 0; c < columns; ++c) released.cells[r][c] = ReleasedCount{true, 0};
      }
      released.inner_withheld_entirely = true;
      break;
    }
    released.cells[complement->row][complement->column] = ReleasedCount{true, 0};
    // In a one-way table a count and its row total are the same number:
    // withholding one and showing the other would withhold nothing.
    if (columns == 1) released.cells[complement->row][1 - complement->column] = ReleasedCount{true, 0};
    ++released.secondary_withheld;
  }
  return released;
}

}  // namespace

absl::Status CheckDisclosureRules(const DisclosureRules& rules) {
  // 1 would withhold nothing: every count, however small, would be shown.
  if (rules.suppress_below < 2 || rules.suppress_below > 1000) {
    return absl::InvalidArgumentError("suppress_below must be between 2 and 1000");
  }
  if (rules.round_to < 1 || rules.round_to > 100) return absl::InvalidArgumentError("round_to must be 1 to 100");
  // Otherwise a shown count could round to 0 and pass for a true zero.
  if (RoundHalfUp(rules.suppress_below, rules.round_to) == 0) {
    return absl::InvalidArgumentError("round_to is too large for suppress_below: a shown count would round to 0");
  }
  return absl::OkStatus();
}

std::string DescribeRules(const DisclosureRules& rules) {
  std::string text = rules.suppress_below == 2 ? "Counts of 1 are withheld; "
                                                : absl::StrCat("Counts from 1 to ", rules.suppress_below - 1,
                                                               " are withheld; ");
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
  absl::StatusOr<std::vector<std::vector<int64_t>>> truth_or = TruthOf(table);
  if (!truth_or.ok()) return truth_or.status();
  const std::vector<std::vector<int64_t>>& truth = *truth_or;
  ProtectedTable released = StartRelease(table, truth, rules, /*fixed_margins=*/false);
  return Attack(truth, std::move(released), rules, /*inner_only=*/false);
}

absl::StatusOr<ProtectedTable> ProtectCrossCounts(const CountTable& table, const ProtectedTable& row_margins,
                                                  const ProtectedTable& column_margins,
                                                  const DisclosureRules& rules) {
  if (absl::Status checked = CheckDisclosureRules(rules); !checked.ok()) return checked;
  absl::StatusOr<std::vector<std::vector<int64_t>>> truth_or = TruthOf(table);
  if (!truth_or.ok()) return truth_or.status();
  const std::vector<std::vector<int64_t>>& truth = *truth_or;
  const size_t rows = table.row_labels.size(), columns = table.column_labels.size();
  auto one_way = [](const ProtectedTable& t, size_t n) {
    return t.column_labels.size() == 1 && t.row_labels.size() == n && t.cells.size() == n + 1;
  };
  if (!one_way(row_margins, rows) || !one_way(column_margins, columns)) {
    return absl::InvalidArgumentError("the margins must be one-way tables of the table's rows and columns");
  }
  if (!(row_margins.cells[rows][1] == column_margins.cells[columns][1])) {
    return absl::InvalidArgumentError("the margins were released with different grand totals");
  }
  ProtectedTable released = StartRelease(table, truth, rules, /*fixed_margins=*/true);
  for (size_t r = 0; r < rows; ++r) released.cells[r][columns] = row_margins.cells[r][1];
  for (size_t c = 0; c < columns; ++c) released.cells[rows][c] = column_margins.cells[c][1];
  released.cells[rows][columns] = row_margins.cells[rows][1];
  return Attack(truth, std::move(released), rules, /*inner_only=*/true);
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
