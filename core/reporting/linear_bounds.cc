#include "core/reporting/linear_bounds.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace refx::core::reporting {
namespace {

constexpr double kEpsilon = 1e-9;

// One simplex run on a copy of the tableau: maximises the objective whose
// reduced costs are `objective` (one per column), by Bland's rule. False if
// the objective is unbounded.
bool RunSimplex(int rows, int columns, int width, const std::vector<bool>& may_enter, std::vector<double>* tableau,
                std::vector<int>* basis, std::vector<double>* objective) {
  std::vector<double>& t = *tableau;
  for (;;) {
    int entering = -1;
    for (int j = 0; j < columns; ++j) {
      if (may_enter[j] && (*objective)[j] > kEpsilon) {
        entering = j;
        break;
      }
    }
    if (entering < 0) return true;
    int leaving = -1;
    double best = 0;
    for (int i = 0; i < rows; ++i) {
      const double a = t[i * width + entering];
      if (a <= kEpsilon) continue;
      const double ratio = t[i * width + columns] / a;
      if (leaving < 0 || ratio < best - kEpsilon ||
          (std::abs(ratio - best) <= kEpsilon && (*basis)[i] < (*basis)[leaving])) {
        leaving = i;
        best = ratio;
      }
    }
    if (leaving < 0) return false;
    // Pivot on (leaving, entering).
    double* pivot_row = &t[leaving * width];
    const double pivot = pivot_row[entering];
    for (int j = 0; j < width; ++j) pivot_row[j] /= pivot;
    for (int i = 0; i < rows; ++i) {
      if (i == leaving) continue;
      double* row = &t[i * width];
      const double factor = row[entering];
      if (factor == 0) continue;
      for (int j = 0; j < width; ++j) row[j] -= factor * pivot_row[j];
    }
    const double factor = (*objective)[entering];
    for (int j = 0; j < columns; ++j) (*objective)[j] -= factor * pivot_row[j];
    (*basis)[leaving] = entering;
  }
}

}  // namespace

absl::StatusOr<LinearBounds> LinearBounds::Create(const LinearSystem& system) {
  const int variables = static_cast<int>(system.lower.size());
  if (system.upper.size() != system.lower.size()) {
    return absl::InvalidArgumentError("lower and upper bounds differ in length");
  }
  LinearBounds bounds;
  bounds.lower_ = system.lower;
  bounds.column_of_.assign(variables, -1);
  int structural = 0, bounded = 0;
  for (int k = 0; k < variables; ++k) {
    if (!std::isfinite(system.lower[k])) return absl::InvalidArgumentError(absl::StrCat("x", k, " has no lower bound"));
    if (system.upper[k] < system.lower[k] - kEpsilon) {
      return absl::FailedPreconditionError(absl::StrCat("x", k, " has an empty range"));
    }
    if (system.upper[k] - system.lower[k] <= kEpsilon) continue;  // fixed: a constant
    bounds.column_of_[k] = structural++;
    if (std::isfinite(system.upper[k])) ++bounded;
  }
  // Equalities over y = x - lower, with fixed variables folded into the
  // right-hand side; one with no free variable left must already hold.
  struct Row {
    std::vector<std::pair<int, double>> terms;  // (column, coefficient)
    double rhs;
  };
  std::vector<Row> equalities;
  for (const LinearSystem::Equality& e : system.equalities) {
    Row row{{}, e.rhs};
    for (const auto& [k, a] : e.terms) {
      if (k < 0 || k >= variables) return absl::InvalidArgumentError(absl::StrCat("no variable x", k));
      row.rhs -= a * system.lower[k];
      if (bounds.column_of_[k] >= 0 && a != 0) row.terms.emplace_back(bounds.column_of_[k], a);
    }
    if (row.terms.empty()) {
      if (std::abs(row.rhs) > 1e-7) return absl::FailedPreconditionError("an equality cannot hold");
      continue;
    }
    if (row.rhs < 0) {
      row.rhs = -row.rhs;
      for (auto& term : row.terms) term.second = -term.second;
    }
    equalities.push_back(std::move(row));
  }

  // Columns: structural, one slack per finite upper bound, one artificial
  // per equality. Rows: the equalities, then the upper bounds.
  const int artificial_start = structural + bounded;
  bounds.columns_ = artificial_start + static_cast<int>(equalities.size());
  bounds.rows_ = static_cast<int>(equalities.size()) + bounded;
  bounds.width_ = bounds.columns_ + 1;
  bounds.tableau_.assign(static_cast<size_t>(bounds.rows_) * bounds.width_, 0.0);
  bounds.basis_.assign(bounds.rows_, -1);
  bounds.may_enter_.assign(bounds.columns_, true);
  auto at = [&](int row, int column) -> double& { return bounds.tableau_[row * bounds.width_ + column]; };
  for (size_t i = 0; i < equalities.size(); ++i) {
    const int row = static_cast<int>(i);
    for (const auto& [column, a] : equalities[i].terms) at(row, column) += a;
    at(row, artificial_start + row) = 1;
    at(row, bounds.columns_) = equalities[i].rhs;
    bounds.basis_[row] = artificial_start + row;
  }
  int slack = structural, row = static_cast<int>(equalities.size());
  for (int k = 0; k < variables; ++k) {
    if (bounds.column_of_[k] < 0 || !std::isfinite(system.upper[k])) continue;
    at(row, bounds.column_of_[k]) = 1;
    at(row, slack) = 1;
    at(row, bounds.columns_) = system.upper[k] - system.lower[k];
    bounds.basis_[row] = slack;
    ++slack;
    ++row;
  }

  // Phase one: maximise minus the sum of the artificials.
  std::vector<double> objective(bounds.columns_, 0.0);
  for (size_t i = 0; i < equalities.size(); ++i) {
    for (int j = 0; j < artificial_start; ++j) objective[j] += at(static_cast<int>(i), j);
  }
  RunSimplex(bounds.rows_, bounds.columns_, bounds.width_, bounds.may_enter_, &bounds.tableau_, &bounds.basis_,
             &objective);
  for (int i = 0; i < bounds.rows_; ++i) {
    if (bounds.basis_[i] >= artificial_start && at(i, bounds.columns_) > 1e-7) {
      return absl::FailedPreconditionError("the system has no solution");
    }
  }
  // Artificials still basic (at zero) leave the basis, or their row is
  // redundant and goes.
  for (int i = 0; i < bounds.rows_;) {
    if (bounds.basis_[i] < artificial_start) {
      ++i;
      continue;
    }
    int column = -1;
    for (int j = 0; j < artificial_start && column < 0; ++j) {
      if (std::abs(at(i, j)) > kEpsilon) column = j;
    }
    if (column < 0) {
      bounds.tableau_.erase(bounds.tableau_.begin() + static_cast<ptrdiff_t>(i) * bounds.width_,
                            bounds.tableau_.begin() + static_cast<ptrdiff_t>(i + 1) * bounds.width_);
      bounds.basis_.erase(bounds.basis_.begin() + i);
      --bounds.rows_;
      continue;
    }
    const double pivot = at(i, column);
    for (int j = 0; j < bounds.width_; ++j) at(i, j) /= pivot;
    for (int r = 0; r < bounds.rows_; ++r) {
      if (r == i || at(r, column) == 0) continue;
      const double factor = at(r, column);
      for (int j = 0; j < bounds.width_; ++j) at(r, j) -= factor * at(i, j);
    }
    bounds.basis_[i] = column;
    ++i;
  }
  for (int j = artificial_start; j < bounds.columns_; ++j) bounds.may_enter_[j] = false;
  return bounds;
}

double LinearBounds::Maximise(int column, double sign) const {
  std::vector<double> tableau = tableau_;
  std::vector<int> basis = basis_;
  std::vector<double> objective(columns_, 0.0);
  int basic_row = -1;
  for (int i = 0; i < rows_; ++i) {
    if (basis[i] == column) basic_row = i;
  }
  if (basic_row < 0) {
    objective[column] = sign;
  } else {
    for (int j = 0; j < columns_; ++j) {
      if (j != column) objective[j] = -sign * tableau[basic_row * width_ + j];
    }
  }
  if (!RunSimplex(rows_, columns_, width_, may_enter_, &tableau, &basis, &objective)) return LinearSystem::kUnbounded;
  for (int i = 0; i < rows_; ++i) {
    if (basis[i] == column) return sign * tableau[i * width_ + columns_];
  }
  return 0;  // non-basic: at its lower bound
}

LinearBounds::Range LinearBounds::Of(int k) const {
  const int column = column_of_[k];
  if (column < 0) return {lower_[k], lower_[k]};
  Range range;
  range.max = lower_[k] + Maximise(column, +1);
  range.min = lower_[k] - Maximise(column, -1);
  return range;
}

}  // namespace refx::core::reporting
