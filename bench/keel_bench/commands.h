// The commands other than the KV ones (bench.cc runs those itself).
#pragma once

#include "bench/keel_bench/flags.h"

namespace keel::bench {

int RunWatch(const BenchFlags& flags);
int RunWatchGet(const BenchFlags& flags);
int RunLeaseKeepalive(const BenchFlags& flags);
int RunLeaseGrant(const BenchFlags& flags);
int RunLeaseExpiry(const BenchFlags& flags);

}  // namespace keel::bench
