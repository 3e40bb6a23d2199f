// Driver: handles a node's Ready batches exactly as raft/raw_node.h asks, and reports what
// it sees to the SafetyChecker.
//
// For each Ready:
//   0. a leader may send its messages first (chosen at random, to exercise both orders);
//   1. persist the snapshot, then the entries, then the hard state, to the MemoryLogStore;
//      Sync() when must_sync (and sometimes when not: syncing more is always allowed);
//   2. send the messages (if not sent in step 0);
//   3. apply the snapshot, then the committed entries, passing each conf change to
//      ApplyConfChange before applying anything after it;
//   4. serve the read states whose index has been applied;
//   5. Advance();
//   6. take an application snapshot and compact the log when enough was applied since the last
//      one, or when a membership change was applied (see MaybeSnapshot).
// A crash armed on the node (SimNode::armed_crash) fires at its point in that sequence and
// abandons the rest of the Ready; with kAfterWrite the unsynced writes are lost.
#pragma once

#include <cstdint>

#include "raft/raw_node.h"
#include "tests/raft/sim/checker.h"
#include "tests/raft/sim/node.h"
#include "tests/raft/sim/random.h"

namespace keel::raft::sim {

// What the driver needs from the cluster around it.
class DriverHost {
 public:
  virtual ~DriverHost() = default;
  virtual void Send(SimNode& from, const Message& message) = 0;
  // `node` applied a committed entry (after ApplyConfChange for a conf change).
  virtual void OnApplied(SimNode& node, const Entry& entry) = 0;
  virtual void OnConfChangeApplied(SimNode& node, const ConfChange& cc) = 0;
  // `node` crashed while handling a Ready.
  virtual void OnCrashed(SimNode& node) = 0;
};

struct DriverOptions {
  // Take an application snapshot when this many entries were applied since the last one;
  // 0 never does.
  uint64_t snapshot_interval_entries = 0;
  // Entries kept below the snapshot index when compacting, for slow followers.
  uint64_t compaction_tail_entries = 0;
  // Probability that a leader sends before persisting.
  double leader_sends_first_rate = 0.5;
  // Probability of syncing a Ready that does not require it.
  double extra_sync_rate = 0.5;
  // Probability that a node crashes right after handling a Ready in which it granted a vote:
  // the moment when a vote that was not made durable (§5.1, Figure 2) would be forgotten.
  double crash_after_vote_rate = 0;
  // Probability that a leader crashes right after a Ready that advanced its commit index:
  // before the followers learn it, which is when commitment rules (§5.4.2) matter.
  double crash_after_commit_rate = 0;
};

class Driver {
 public:
  // `checker` may be null (benchmarks): nothing is checked then.
  Driver(const DriverOptions& options, SimRandom* random, SafetyChecker* checker,
         DriverHost* host);

  // Handles Ready batches until the node has none (or crashes).
  void HandleReadies(SimNode& node);

  // The liveness phase turns crashes off.
  void DisableCrashes() {
    options_.crash_after_vote_rate = 0;
    options_.crash_after_commit_rate = 0;
  }

  uint64_t reads_served() const { return reads_served_; }
  uint64_t snapshots_taken() const { return snapshots_taken_; }
  uint64_t snapshots_installed() const { return snapshots_installed_; }

 private:
  // False when the node crashed.
  bool HandleReady(SimNode& node, const Ready& rd);
  void Persist(SimNode& node, const Ready& rd);
  void Observe(SimNode& node, const Ready& rd);
  void Apply(SimNode& node, const Ready& rd);
  void ServeReads(SimNode& node, const Ready& rd);
  // Snapshots when snapshot_interval_entries were applied since the last one, or when the
  // Ready applied a membership change.
  void MaybeSnapshot(SimNode& node, bool conf_changed);
  void SendAll(SimNode& node, const Ready& rd);
  static bool GrantsVote(const Ready& rd);
  void Crash(SimNode& node);
  void Fail(std::string what);

  DriverOptions options_;
  SimRandom* random_;
  SafetyChecker* checker_;
  DriverHost* host_;
  // Whether the Ready being handled applied a conf change.
  bool conf_changed_ = false;
  uint64_t reads_served_ = 0;
  uint64_t snapshots_taken_ = 0;
  uint64_t snapshots_installed_ = 0;
};

}  // namespace keel::raft::sim
