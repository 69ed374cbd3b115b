// What a system of linear equalities and box bounds leaves each variable
// free to be: the smallest and largest value of x[k] over
//   { x : sum_j a_ij x_j = b_i for every equality i, lower <= x <= upper }.
//
// This is how disclosure control checks a release the way an attacker would:
// a released table's margins are equalities over its cells, a rounded count
// is a box, a withheld count is a variable. Solved by a dense two-phase
// simplex (Bland's rule, so it cannot cycle): the feasible point is found
// once, then each bound is one short second phase from it. Sized for report
// tables (a few hundred variables), not for general optimisation.
#ifndef REFX_CORE_REPORTING_LINEAR_BOUNDS_H_
#define REFX_CORE_REPORTING_LINEAR_BOUNDS_H_

#include <limits>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace refx::core::reporting {

struct LinearSystem {
  static constexpr double kUnbounded = std::numeric_limits<double>::infinity();
  struct Equality {
    std::vector<std::pair<int, double>> terms;  // (variable, coefficient)
    double rhs = 0;
  };
  // One entry per variable; an upper bound may be kUnbounded, a lower bound
  // must be finite.
  std::vector<double> lower, upper;
  std::vector<Equality> equalities;
};

class LinearBounds {
 public:
  struct Range {
    double min = 0;
    double max = 0;  // LinearSystem::kUnbounded if nothing caps it
  };

  // Finds a feasible point; FAILED_PRECONDITION if there is none,
  // INVALID_ARGUMENT if the system is malformed.
  static absl::StatusOr<LinearBounds> Create(const LinearSystem& system);

  // The range of variable `k` over the feasible set.
  Range Of(int k) const;

 private:
  LinearBounds() = default;
  // max of y[column] from the feasible basis (kUnbounded if unbounded).
  double Maximise(int column, double sign) const;

  // The tableau after phase one, over y = x - lower: `rows_` rows of
  // `width_` entries (columns, then the right-hand side).
  int rows_ = 0, columns_ = 0, width_ = 0;
  std::vector<double> tableau_;
  std::vector<int> basis_;        // per row, its basic column
  std::vector<bool> may_enter_;   // artificials may not re-enter
  std::vector<int> column_of_;    // per variable, its column, or -1 if fixed
  std::vector<double> lower_;
};

}  // namespace refx::core::reporting

#endif  // REFX_CORE_REPORTING_LINEAR_BOUNDS_H_
