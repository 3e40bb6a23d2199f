// Invariant checks that stay on in every build type.
//
// KEEL_CHECK(cond) << "context";  aborts the process with file:line and the message when cond
// is false. Use it for invariants (a broken one means memory or logic corruption and continuing
// would risk durability), never for bad client input: that is an absl::Status.
#pragma once

#include <sstream>
#include <string>

namespace keel::internal {

class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* condition);
  [[noreturn]] ~CheckFailure();
  template <typename T>
  CheckFailure& operator<<(const T& value) {
    stream_ << value;
    return *this;
  }

 private:
  std::ostringstream stream_;
};

// Lets `KEEL_CHECK(x) << ...` compile as one expression whose type is void.
struct Voidify {
  void operator&(const CheckFailure&) {}
};

}  // namespace keel::internal

#define KEEL_CHECK(condition)                      \
  (condition) ? (void)0                            \
              : ::keel::internal::Voidify() &      \
                    ::keel::internal::CheckFailure(__FILE__, __LINE__, #condition)

#define KEEL_CHECK_EQ(a, b) KEEL_CHECK((a) == (b)) << "(" << (a) << " vs " << (b) << ") "
#define KEEL_CHECK_LE(a, b) KEEL_CHECK((a) <= (b)) << "(" << (a) << " vs " << (b) << ") "
#define KEEL_CHECK_LT(a, b) KEEL_CHECK((a) < (b)) << "(" << (a) << " vs " << (b) << ") "
#define KEEL_CHECK_GE(a, b) KEEL_CHECK((a) >= (b)) << "(" << (a) << " vs " << (b) << ") "
#define KEEL_FATAL() ::keel::internal::Voidify() & ::keel::internal::CheckFailure(__FILE__, __LINE__, "fatal")
