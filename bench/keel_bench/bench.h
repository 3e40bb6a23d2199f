// keel-bench's commands. RunBench connects, runs the command the flags name, prints the report
// on stdout and writes --json; it returns the process exit code.
#pragma once

#include "bench/keel_bench/flags.h"

namespace keel::bench {

// Exit codes.
inline constexpr int kExitOk = 0;
inline constexpr int kExitSetupFailed = 1;  // cannot connect, no leader, lease grant refused...
inline constexpr int kExitUsage = 2;
// The run finished but nothing succeeded, or the watch check failed (events out of order or
// missing after the drain timeout).
inline constexpr int kExitCheckFailed = 3;

int RunBench(const BenchFlags& flags);

}  // namespace keel::bench
