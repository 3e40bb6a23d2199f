// The one clock of keel-bench: steady nanoseconds. Watch values carry it, so delivery latency
// is only meaningful when the putter and the watchers run in this same process (they do).
#pragma once

#include <chrono>
#include <cstdint>

namespace keel::bench {

inline int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// gRPC deadlines and alarms take system_clock time points.
inline std::chrono::system_clock::time_point SystemTimeAt(int64_t steady_ns) {
  return std::chrono::system_clock::now() + std::chrono::nanoseconds(steady_ns - NowNs());
}

}  // namespace keel::bench
