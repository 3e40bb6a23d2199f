// Config: everything a raft node is told at construction. Every limit carries its unit.
#pragma once

#include <cstdint>
#include <limits>

#include "absl/status/status.h"
#include "raft/storage/log_store.h"
#include "raft/types.h"

namespace keel::raft {

enum class ReadOnlyOption : uint8_t {
  // ReadIndex confirms leadership with a heartbeat round to a quorum (thesis §6.4).
  kSafe,
  // ReadIndex trusts the leader lease (thesis §6.4.1): no round trip, but it relies on bounded
  // clock drift. Requires check_quorum.
  kLeaseBased,
};

// Deliberate bugs, switched on only by tests that prove the simulator catches them.
// A production configuration never sets any of these; Validate() does not forbid them so the
// tests can run the real code path.
struct TestOnlyBugs {
  // Grant a vote without checking that the candidate's log is at least as up to date (§5.4.1).
  bool vote_without_log_check = false;
  // Advance commit by counting replicas of an entry from an earlier term (§5.4.2, Figure 8).
  bool commit_earlier_term_entries = false;
  // Do not report the vote in Ready.hard_state, so it is never persisted (§5.1, Figure 2).
  bool forget_to_persist_vote = false;
  // A candidate counts its own vote twice.
  bool count_own_vote_twice = false;

  bool Any() const {
    return vote_without_log_check || commit_earlier_term_entries || forget_to_persist_vote ||
           count_own_vote_twice;
  }
};

struct Config {
  // This node's id; never kNone.
  NodeId id = kNone;

  // A follower that hears nothing from a leader for a randomized
  // [election_timeout_ticks, 2 * election_timeout_ticks) ticks starts an election.
  int election_timeout_ticks = 10;
  // A leader sends heartbeats every heartbeat_interval_ticks. Must be < election_timeout_ticks.
  int heartbeat_interval_ticks = 1;

  // Read-only view of the durable log; not owned, must outlive the node.
  const LogStore* store = nullptr;

  // The last index the application has applied; committed entries at or below it are not
  // returned again. Only set when restarting.
  uint64_t applied_index = 0;

  // Upper bound on the entries carried by one MsgApp.
  uint64_t max_size_per_msg_bytes = 1024 * 1024;
  // Upper bound on the committed entries handed out in one Ready.
  uint64_t max_committed_bytes_per_ready = 64 * 1024 * 1024;
  // A leader refuses proposals while the uncommitted tail of its log exceeds this.
  // 0 means no limit.
  uint64_t max_uncommitted_entries_bytes = 0;
  // MsgApp messages in flight to one follower in the replicate state.
  int max_inflight_msgs = 256;

  // A leader that has not heard from a quorum in an election timeout steps down, and a node
  // that heard from a live leader recently ignores vote requests (thesis §6.2, §9.6).
  bool check_quorum = true;
  // Candidates first ask whether they could win, without raising terms (thesis §9.6).
  bool pre_vote = true;
  ReadOnlyOption read_only = ReadOnlyOption::kSafe;
  // Followers drop proposals instead of forwarding them to the leader.
  bool disable_proposal_forwarding = false;

  // Seed of the node's own random number generator (election timeouts). The same seed and the
  // same inputs give the same outputs.
  uint64_t random_seed = 0;

  TestOnlyBugs bugs;

  absl::Status Validate() const;
};

}  // namespace keel::raft
