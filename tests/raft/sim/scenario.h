// Scenario: one seeded simulation run. The seed decides everything: node count (3-7 unless
// given), raft settings, network fault rates, and the schedule of proposals, reads, crashes,
// restarts, partitions, membership changes and leadership transfers.
//
// A run has two phases (as TigerBeetle's VOPR):
//   safety:   `steps` ticks of faults and load; the checker runs on every Ready of every node,
//             and the run stops at the first violation;
//   liveness: every fault is healed, crashed nodes restart, and a new proposal must be
//             committed and applied by a majority of the voters within a bounded number of
//             ticks (kLivenessElectionTimeouts election timeouts).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "raft/config.h"

namespace keel::raft::sim {

// How many election timeouts the liveness phase allows for a proposal to be applied by a
// quorum once everything is healed.
inline constexpr uint64_t kLivenessElectionTimeouts = 40;
inline constexpr uint64_t kDefaultSteps = 1000;

struct SimOptions {
  uint64_t seed = 1;
  // 0: the seed decides (3 to 7).
  int nodes = 0;
  // Ticks of the safety phase; 0: kDefaultSteps.
  uint64_t steps = 0;
  // One of BugNames(), or empty.
  std::string bug;
  bool verbose = false;
};

struct SeedResult {
  bool passed = false;
  // Why it failed, one line.
  std::string violation;
  // Equal for equal seeds and options: what was applied, elected, committed.
  uint64_t fingerprint = 0;
  // Ticks the liveness phase needed.
  uint64_t liveness_ticks = 0;
  // The seed's choices and what happened, one line (for --verbose and tests).
  std::string summary;
};

// The planted bugs of TestOnlyBugs, by their field names.
const std::vector<std::string>& BugNames();
absl::Status SetBugByName(std::string_view name, TestOnlyBugs* bugs);

SeedResult RunSeed(const SimOptions& options);

// The command line that replays `options`.
std::string ReplayCommand(const SimOptions& options);

}  // namespace keel::raft::sim
