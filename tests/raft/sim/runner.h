// RunSeedIsolated: RunSeed in a forked child process.
//
// A planted bug can drive the core into one of its own fatal checks (KEEL_CHECK aborts the
// process) before the simulator's checker sees a violation. Running each seed in a child turns
// that abort into this seed's failure, with the check's message, instead of the end of the
// whole run. The child is a fork of a single-threaded process, so the seed behaves exactly as
// it would in-process (same outcome, same fingerprint).
#pragma once

#include "tests/raft/sim/scenario.h"

namespace keel::raft::sim {

SeedResult RunSeedIsolated(const SimOptions& options);

}  // namespace keel::raft::sim
