// Early-return helpers for absl::Status and absl::StatusOr, the error model
// used everywhere inside refx (errors cross a process edge only once, in
// server/status_mapping and clients/lib).
#ifndef REFX_COMMON_STATUS_MACROS_H_
#define REFX_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define REFX_STATUS_CONCAT_INNER_(a, b) a##b
#define REFX_STATUS_CONCAT_(a, b) REFX_STATUS_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function if `expr` is not OK.
#define REFX_RETURN_IF_ERROR(expr)                      \
  do {                                                  \
    ::absl::Status refx_status_ = (expr);               \
    if (!refx_status_.ok()) return refx_status_;        \
  } while (false)

// `REFX_ASSIGN_OR_RETURN(auto x, StatusOrExpr());` declares/assigns `x` from
// the value, or returns the error from the enclosing function.
#define REFX_ASSIGN_OR_RETURN(lhs, expr) \
  REFX_ASSIGN_OR_RETURN_IMPL_(REFX_STATUS_CONCAT_(refx_statusor_, __LINE__), lhs, expr)

#define REFX_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // REFX_COMMON_STATUS_MACROS_H_
