// abseil 20220623 ships no status macros; these are the project's only definitions.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define KEEL_STATUS_CONCAT_INNER(a, b) a##b
#define KEEL_STATUS_CONCAT(a, b) KEEL_STATUS_CONCAT_INNER(a, b)

// Returns the status from the enclosing function when `expr` is not OK.
#define KEEL_RETURN_IF_ERROR(expr)                   \
  do {                                               \
    ::absl::Status keel_status_ = (expr);            \
    if (!keel_status_.ok()) return keel_status_;     \
  } while (0)

// `KEEL_ASSIGN_OR_RETURN(auto x, F());` declares x from an OK StatusOr, or returns its status.
#define KEEL_ASSIGN_OR_RETURN(lhs, expr) \
  KEEL_ASSIGN_OR_RETURN_IMPL(KEEL_STATUS_CONCAT(keel_statusor_, __LINE__), lhs, expr)
#define KEEL_ASSIGN_OR_RETURN_IMPL(var, lhs, expr) \
  auto var = (expr);                               \
  if (!var.ok()) return std::move(var).status();   \
  lhs = std::move(var).value()
