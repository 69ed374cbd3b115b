#include "core/reporting/disclosure_control.h"

#include <algorithm>
#include <cmath>
#include <functional>
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

// The released table turned into the reader's constraints: one variable per
// cell of the extended grid (row-major, totals included), each row and
// column summing to its total. A table of mentions (ProtectMentionCrossCounts)
// has, after the grid, the mentions' grand total, then one variable per row
// for its extra mentions (`first_excess`), then one slack per inner count.
struct ReaderSystem {
  LinearSystem system;
  int first_excess = -1;
};

ReaderSystem ReaderConstraints(const ProtectedTable& released, const DisclosureRules& rules) {
  const std::vector<std::vector<ReleasedCount>>& cells = released.cells;
  const int rows = static_cast<int>(cells.size()) - 1, columns = static_cast<int>(cells[0].size()) - 1;
  const int width = columns + 1;
  // Zeros are shown, so a withheld count is not one; except where a
  // cross-table withheld every inner count (ProtectCrossCounts' last
  // resort), zeros with the rest, which the reader sees.
  bool every_inner_withheld = true;
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < columns; ++c) every_inner_withheld = every_inner_withheld && cells[r][c].withheld;
  }
  ReaderSystem reader;
  LinearSystem& system = reader.system;
  auto add_variable = [&](const ReleasedCount& count, bool may_be_zero) {
    if (count.withheld) {
      system.lower.push_back(may_be_zero ? 0 : 1);
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
    return static_cast<int>(system.lower.size()) - 1;
  };
  auto add_slack = [&] {
    system.lower.push_back(0);
    system.upper.push_back(LinearSystem::kUnbounded);
    return static_cast<int>(system.lower.size()) - 1;
  };
  for (int r = 0; r <= rows; ++r) {
    for (int c = 0; c <= columns; ++c) add_variable(cells[r][c], r < rows && c < columns && every_inner_withheld);
  }
  auto sum_to = [&](const std::vector<int>& parts, int total) {
    LinearSystem::Equality sum;
    for (int part : parts) sum.terms.emplace_back(part, 1.0);
    sum.terms.emplace_back(total, -1.0);
    system.equalities.push_back(std::move(sum));
  };
  auto row_of = [&](int r) {
    std::vector<int> parts;
    for (int c = 0; c < columns; ++c) parts.push_back(r * width + c);
    return parts;
  };
  for (int c = 0; c <= columns; ++c) {  // each column, the row totals' column too
    std::vector<int> parts;
    for (int r = 0; r < rows; ++r) parts.push_back(r * width + c);
    sum_to(parts, rows * width + c);
  }
  if (!released.columns_count_mentions) {
    for (int r = 0; r <= rows; ++r) sum_to(row_of(r), r * width + columns);  // the column totals' row too
    return reader;
  }
  // Mentions: the column totals add up to the mentions' grand total; a row's
  // counts to its referrals plus its extra mentions; each count is at most
  // its row's referrals.
  sum_to(row_of(rows), add_variable(released.mention_total, false));
  reader.first_excess = static_cast<int>(system.lower.size());
  for (int r = 0; r < rows; ++r) add_slack();
  for (int r = 0; r < rows; ++r) {
    LinearSystem::Equality excess;
    for (int c = 0; c < columns; ++c) excess.terms.emplace_back(r * width + c, 1.0);
    excess.terms.emplace_back(r * width + columns, -1.0);
    excess.terms.emplace_back(reader.first_excess + r, -1.0);
    system.equalities.push_back(std::move(excess));
    for (int c = 0; c < columns; ++c) {
      LinearSystem::Equality at_most;
      at_most.terms = {{r * width + c, 1.0}, {add_slack(), 1.0}, {r * width + columns, -1.0}};
      system.equalities.push_back(std::move(at_most));
    }
  }
  return reader;
}

DeducibleRange ToRange(const LinearBounds::Range& range) {
  // A plain table's constraint matrix is totally unimodular and its bounds
  // are integers, so its extremes are integers and this only drops noise. A
  // table of mentions may have fractional extremes: the integers within are
  // what a count can be.
  constexpr double kNoise = 1e-6;
  return DeducibleRange{static_cast<int64_t>(std::ceil(range.min - kNoise)),
                        std::isfinite(range.max) ? static_cast<int64_t>(std::floor(range.max + kNoise)) : -1};
}

// A reader must be left at least as many candidate values as the rule
// withholds (1..suppress_below-1), and never fewer than two.
int64_t RequiredWidth(const DisclosureRules& rules) { return std::max<int64_t>(rules.suppress_below - 2, 1); }

bool Protected(const DeducibleRange& range, const DisclosureRules& rules) {
  return range.max < 0 || range.max - range.min >= RequiredWidth(rules);
}

// The cell to withhold next to protect `exposed`: the smallest shown
// non-zero count near it (`near`), else anywhere; nullopt if none is left.
// With `inner_only`, totals are never chosen.
std::optional<Cell> Complement(const std::vector<std::vector<int64_t>>& truth,
                               const std::vector<std::vector<ReleasedCount>>& cells,
                               const std::function<bool(int, int)>& near, bool inner_only) {
  const int rows = static_cast<int>(cells.size()) - 1, columns = static_cast<int>(cells[0].size()) - 1;
  std::optional<Cell> best, anywhere;
  auto consider = [&](std::optional<Cell>& chosen, int r, int c) {
    if (inner_only && (r == rows || c == columns)) return;
    if (cells[r][c].withheld || truth[r][c] == 0) return;
    if (!chosen.has_value() || truth[r][c] < truth[chosen->row][chosen->column]) chosen = Cell{r, c};
  };
  for (int r = 0; r <= rows; ++r) {
    for (int c = 0; c <= columns; ++c) {
      if (near(r, c)) consider(best, r, c);
      consider(anywhere, r, c);
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

// One table of a release under attack: its truth (in its released grid's
// shape) and, for a table of mentions, each row's true extra mentions.
struct UnderAttack {
  std::vector<std::vector<int64_t>> truth;
  ProtectedTable released;
  std::vector<int64_t> excess;
};

// The reader's system for tables released together over the same rows:
// each table's system, the row totals and grand totals of every table after
// the first equal to the first's, and what the reader knows across tables
// (`known`). `offsets[t]` is where table t's variables start.
struct JointSystem {
  LinearSystem system;
  std::vector<int> offsets, first_excess;
};

JointSystem JointConstraints(const std::vector<UnderAttack>& tables, const std::vector<KnownInequality>& known,
                             const DisclosureRules& rules) {
  JointSystem joint;
  LinearSystem& system = joint.system;
  for (const UnderAttack& t : tables) {
    ReaderSystem reader = ReaderConstraints(t.released, rules);
    const int offset = static_cast<int>(system.lower.size());
    joint.offsets.push_back(offset);
    joint.first_excess.push_back(reader.first_excess < 0 ? -1 : offset + reader.first_excess);
    system.lower.insert(system.lower.end(), reader.system.lower.begin(), reader.system.lower.end());
    system.upper.insert(system.upper.end(), reader.system.upper.begin(), reader.system.upper.end());
    for (LinearSystem::Equality& e : reader.system.equalities) {
      for (auto& term : e.terms) term.first += offset;
      system.equalities.push_back(std::move(e));
    }
  }
  const int rows = static_cast<int>(tables[0].released.row_labels.size());
  auto total = [&](size_t t, int r) {
    const int columns = static_cast<int>(tables[t].released.column_labels.size());
    return joint.offsets[t] + r * (columns + 1) + columns;
  };
  for (size_t t = 1; t < tables.size(); ++t) {
    for (int r = 0; r <= rows; ++r) system.equalities.push_back({{{total(t, r), 1.0}, {total(0, r), -1.0}}, 0});
  }
  for (const KnownInequality& k : known) {
    const int small_width = static_cast<int>(tables[k.smaller_table].released.column_labels.size()) + 1;
    const int large_width = static_cast<int>(tables[k.larger_table].released.column_labels.size()) + 1;
    for (int r = 0; r < rows; ++r) {
      // sum(larger) - sum(smaller) - slack = 0, slack >= 0.
      LinearSystem::Equality at_most;
      for (int c : k.larger_columns) {
        at_most.terms.emplace_back(joint.offsets[k.larger_table] + r * large_width + c, 1.0);
      }
      for (int c : k.smaller_columns) {
        at_most.terms.emplace_back(joint.offsets[k.smaller_table] + r * small_width + c, -1.0);
      }
      system.lower.push_back(0);
      system.upper.push_back(LinearSystem::kUnbounded);
      at_most.terms.emplace_back(static_cast<int>(system.lower.size()) - 1, -1.0);
      system.equalities.push_back(std::move(at_most));
    }
  }
  return joint;
}

// Attacks a release as a reader would and withholds one more count per
// exposed withheld count until none is exposed (each round withholds a
// cell, so this ends). Every withheld count is defended, a margin's too,
// and in a table of mentions each row's extra mentions that number
// 1..suppress_below-1. Tables released together are attacked together: a
// count withheld in one may be narrowed by another's.
absl::StatusOr<std::vector<ProtectedTable>> AttackTogether(std::vector<UnderAttack> tables,
                                                           const std::vector<KnownInequality>& known,
                                                           const DisclosureRules& rules, bool inner_only) {
  struct Defended {
    size_t table;
    Cell cell;         // a row's extra mentions: column -1
    bool may_be_zero;  // safe too if the reader cannot rule out none
  };
  std::vector<Defended> defended;
  for (size_t t = 0; t < tables.size(); ++t) {
    const std::vector<std::vector<ReleasedCount>>& cells = tables[t].released.cells;
    for (size_t r = 0; r < cells.size(); ++r) {
      for (size_t c = 0; c < cells[r].size(); ++c) {
        if (cells[r][c].withheld) {
          defended.push_back(Defended{t, Cell{static_cast<int>(r), static_cast<int>(c)}, false});
        }
      }
    }
    for (size_t r = 0; r < tables[t].excess.size(); ++r) {
      const int64_t excess = tables[t].excess[r];
      if (excess > 0 && excess < rules.suppress_below) {
        defended.push_back(Defended{t, Cell{static_cast<int>(r), -1}, true});
      }
    }
  }
  for (;;) {
    const JointSystem joint = JointConstraints(tables, known, rules);
    absl::StatusOr<LinearBounds> bounds = LinearBounds::Create(joint.system);
    if (!bounds.ok()) return absl::InternalError(absl::StrCat("released table is inconsistent: ", bounds.status().message()));
    std::optional<Defended> exposed;
    for (const Defended& d : defended) {
      const int columns = static_cast<int>(tables[d.table].released.column_labels.size());
      const int variable = d.cell.column < 0 ? joint.first_excess[d.table] + d.cell.row
                                             : joint.offsets[d.table] + d.cell.row * (columns + 1) + d.cell.column;
      const DeducibleRange range = ToRange(bounds->Of(variable));
      if (!(d.may_be_zero && range.min <= 0) && !Protected(range, rules)) {
        exposed = d;
        break;
      }
    }
    if (!exposed.has_value()) break;
    // The complement: near the exposed count in its own table (its row and
    // column; for a row's extra mentions, its row and the columns of its
    // withheld counts, whose column totals would otherwise pin them), else
    // anywhere in it; failing that, in the same row of a table released
    // beside it.
    const Cell at = exposed->cell;
    std::optional<std::pair<size_t, Cell>> choice;
    for (size_t k = 0; k < tables.size() && !choice.has_value(); ++k) {
      const size_t t = (exposed->table + k) % tables.size();
      const std::vector<std::vector<ReleasedCount>>& cells = tables[t].released.cells;
      const int columns = static_cast<int>(tables[t].released.column_labels.size());
      std::optional<Cell> complement = Complement(
          tables[t].truth, cells,
          [&](int r, int c) {
            if (k > 0 || at.column >= 0) return r == at.row || (k == 0 && c == at.column);
            return r == at.row || (c < columns && cells[at.row][c].withheld);
          },
          inner_only);
      if (complement.has_value() && (k == 0 || complement->row == at.row)) choice.emplace(t, *complement);
    }
    if (!choice.has_value()) {
      if (!inner_only) break;  // every non-zero count is withheld
      for (UnderAttack& t : tables) {
        ProtectedTable& released = t.released;
        for (size_t r = 0; r + 1 < released.cells.size(); ++r) {
          for (size_t c = 0; c + 1 < released.cells[r].size(); ++c) released.cells[r][c] = ReleasedCount{true, 0};
        }
        released.inner_withheld_entirely = true;
      }
      break;
    }
    ProtectedTable& released = tables[choice->first].released;
    const Cell complement = choice->second;
    released.cells[complement.row][complement.column] = ReleasedCount{true, 0};
    // In a one-way table a count and its row total are the same number:
    // withholding one and showing the other would withhold nothing.
    if (released.column_labels.size() == 1 && !released.columns_count_mentions) {
      released.cells[complement.row][1 - complement.column] = ReleasedCount{true, 0};
    }
    ++released.secondary_withheld;
  }
  std::vector<ProtectedTable> out;
  for (UnderAttack& t : tables) out.push_back(std::move(t.released));
  return out;
}

absl::StatusOr<ProtectedTable> Attack(std::vector<std::vector<int64_t>> truth, ProtectedTable released,
                                      const DisclosureRules& rules, bool inner_only, std::vector<int64_t> excess = {}) {
  std::vector<UnderAttack> one;
  one.push_back(UnderAttack{std::move(truth), std::move(released), std::move(excess)});
  absl::StatusOr<std::vector<ProtectedTable>> out = AttackTogether(std::move(one), {}, rules, inner_only);
  if (!out.ok()) return out.status();
  return std::move(out->front());
}

// A two-way table with its margins taken from its one-way tables, primary
// suppression applied to its inner counts, ready for attack.
absl::StatusOr<UnderAttack> StartCross(const CountTable& table, const ProtectedTable& row_margins,
                                       const ProtectedTable& column_margins, const DisclosureRules& rules) {
  absl::StatusOr<std::vector<std::vector<int64_t>>> truth = TruthOf(table);
  if (!truth.ok()) return truth.status();
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
  ProtectedTable released = StartRelease(table, *truth, rules, /*fixed_margins=*/true);
  for (size_t r = 0; r < rows; ++r) released.cells[r][columns] = row_margins.cells[r][1];
  for (size_t c = 0; c < columns; ++c) released.cells[rows][c] = column_margins.cells[c][1];
  released.cells[rows][columns] = row_margins.cells[rows][1];
  return UnderAttack{*std::move(truth), std::move(released), {}};
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
  absl::StatusOr<UnderAttack> start = StartCross(table, row_margins, column_margins, rules);
  if (!start.ok()) return start.status();
  return Attack(std::move(start->truth), std::move(start->released), rules, /*inner_only=*/true);
}

absl::StatusOr<std::vector<ProtectedTable>> ProtectCrossCountsTogether(
    const std::vector<CountTable>& tables, const ProtectedTable& row_margins,
    const std::vector<ProtectedTable>& column_margins, const std::vector<KnownInequality>& known,
    const DisclosureRules& rules) {
  if (absl::Status checked = CheckDisclosureRules(rules); !checked.ok()) return checked;
  if (tables.empty() || tables.size() != column_margins.size()) {
    return absl::InvalidArgumentError("each table needs its column margins");
  }
  std::vector<UnderAttack> started;
  for (size_t t = 0; t < tables.size(); ++t) {
    absl::StatusOr<UnderAttack> start = StartCross(tables[t], row_margins, column_margins[t], rules);
    if (!start.ok()) return start.status();
    started.push_back(*std::move(start));
  }
  std::vector<KnownInequality> kept;
  for (const KnownInequality& k : known) {
    auto valid = [&](size_t t, const std::vector<int>& columns) {
      if (t >= tables.size()) return false;
      const int width = static_cast<int>(tables[t].column_labels.size());
      return std::all_of(columns.begin(), columns.end(), [&](int c) { return c >= 0 && c < width; });
    };
    if (!valid(k.smaller_table, k.smaller_columns) || !valid(k.larger_table, k.larger_columns)) {
      return absl::InvalidArgumentError("an inequality names a table or column that is not there");
    }
    bool holds = true;
    for (size_t r = 0; r < tables[0].row_labels.size(); ++r) {
      int64_t smaller = 0, larger = 0;
      for (int c : k.smaller_columns) smaller += tables[k.smaller_table].counts[r][c];
      for (int c : k.larger_columns) larger += tables[k.larger_table].counts[r][c];
      holds = holds && smaller <= larger;
    }
    if (holds) kept.push_back(k);
  }
  return AttackTogether(std::move(started), kept, rules, /*inner_only=*/true);
}

absl::StatusOr<ProtectedTable> ProtectMentionCrossCounts(const CountTable& mentions,
                                                         const std::vector<int64_t>& row_referrals,
                                                         const ProtectedTable& row_margins,
                                                         const ProtectedTable& column_margins,
                                                         const DisclosureRules& rules) {
  if (absl::Status checked = CheckDisclosureRules(rules); !checked.ok()) return checked;
  absl::StatusOr<std::vector<std::vector<int64_t>>> truth_or = TruthOf(mentions);
  if (!truth_or.ok()) return truth_or.status();
  std::vector<std::vector<int64_t>> truth = *std::move(truth_or);
  const size_t rows = mentions.row_labels.size(), columns = mentions.column_labels.size();
  auto one_way = [](const ProtectedTable& t, size_t n) {
    return t.column_labels.size() == 1 && t.row_labels.size() == n && t.cells.size() == n + 1;
  };
  if (!one_way(row_margins, rows) || !one_way(column_margins, columns) || row_referrals.size() != rows) {
    return absl::InvalidArgumentError("the margins must be one-way tables of the table's rows and columns");
  }
  // The truth with the row totals in referrals, and each row's extra mentions.
  std::vector<int64_t> excess(rows);
  truth[rows][columns] = 0;
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < columns; ++c) {
      if (truth[r][c] > row_referrals[r]) {
        return absl::InvalidArgumentError(absl::StrCat("row ", r, " column ", c, " counts more than its referrals"));
      }
    }
    if (row_referrals[r] > truth[r][columns]) {
      return absl::InvalidArgumentError(absl::StrCat("row ", r, " has referrals without a mention"));
    }
    excess[r] = truth[r][columns] - row_referrals[r];
    truth[r][columns] = row_referrals[r];
    truth[rows][columns] += row_referrals[r];
  }
  ProtectedTable released = StartRelease(mentions, truth, rules, /*fixed_margins=*/true);
  released.columns_count_mentions = true;
  for (size_t r = 0; r < rows; ++r) released.cells[r][columns] = row_margins.cells[r][1];
  for (size_t c = 0; c < columns; ++c) released.cells[rows][c] = column_margins.cells[c][1];
  released.cells[rows][columns] = row_margins.cells[rows][1];
  released.mention_total = column_margins.cells[columns][1];
  return Attack(std::move(truth), std::move(released), rules, /*inner_only=*/true, std::move(excess));
}

absl::StatusOr<std::vector<std::vector<DeducibleRange>>> DeducibleRanges(const ProtectedTable& released,
                                                                         const DisclosureRules& rules) {
  if (absl::Status checked = CheckDisclosureRules(rules); !checked.ok()) return checked;
  const size_t rows = released.row_labels.size(), columns = released.column_labels.size();
  if (released.cells.size() != rows + 1) return absl::InvalidArgumentError("cells do not match the row labels");
  for (const auto& row : released.cells) {
    if (row.size() != columns + 1) return absl::InvalidArgumentError("cells do not match the column labels");
  }
  absl::StatusOr<LinearBounds> bounds = LinearBounds::Create(ReaderConstraints(released, rules).system);
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
