// Raft: the consensus state machine behind RawNode (Raft paper, Ongaro's thesis, and the
// structure of etcd-io/raft).
//
// Roles are switched in exactly one place each (BecomeFollower / BecomePreCandidate /
// BecomeCandidate / BecomeLeader), which set the step and tick functions; handlers never ask
// "what role am I" to decide what to do. Outputs accumulate in msgs_ and read_states_ and are
// drained by RawNode into a Ready.
//
// Split over files by concern: raft.cc (terms, elections, follower/candidate), raft_leader.cc
// (replication, commit, reads, leadership transfer), raft_membership.cc (conf changes,
// snapshots, invariants).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "raft/config.h"
#include "raft/log.h"
#include "raft/read_only.h"
#include "raft/tracker/progress_tracker.h"
#include "raft/types.h"

namespace keel::raft {

// Why a node campaigns: a pre-vote round, a real election, or a leadership transfer (which
// forces votes past check_quorum's leader lease).
enum class CampaignType : uint8_t { kPreElection, kElection, kTransfer };

class Raft {
 public:
  explicit Raft(const Config& config);

  absl::Status Step(Message m);
  void Tick() { (this->*tick_)(); }

  void BecomeFollower(uint64_t term, NodeId lead);
  void BecomePreCandidate();
  void BecomeCandidate();
  void BecomeLeader();

  // Applies a committed membership change; returns the new configuration.
  ConfState ApplyConfChange(const ConfChange& cc);
  // Whether this node may become leader (a voter with no pending snapshot).
  bool Promotable() const;

  SoftState GetSoftState() const { return SoftState{lead_, role_}; }
  // The hard state to persist (see TestOnlyBugs::forget_to_persist_vote).
  HardState GetHardState() const;
  // Checks the state machine's own invariants; a violation is fatal. Cheap enough to run
  // after every step in simulation.
  void CheckInvariants() const;

  // Called by RawNode::Advance with the entries the application has applied.
  void ReduceUncommittedSize(const std::vector<Entry>& entries);

  // Observers, for RawNode, Status and tests.
  NodeId id() const { return id_; }
  uint64_t term() const { return term_; }
  NodeId vote() const { return vote_; }
  NodeId lead() const { return lead_; }
  Role role() const { return role_; }
  NodeId lead_transferee() const { return lead_transferee_; }
  uint64_t pending_conf_index() const { return pending_conf_index_; }
  int election_elapsed() const { return election_elapsed_; }
  int randomized_election_timeout() const { return randomized_election_timeout_; }
  RaftLog& log() { return log_; }
  const RaftLog& log() const { return log_; }
  ProgressTracker& tracker() { return tracker_; }
  const ProgressTracker& tracker() const { return tracker_; }
  std::vector<Message>& msgs() { return msgs_; }
  std::vector<ReadState>& read_states() { return read_states_; }
  const Config& config() const { return config_; }

 private:
  using StepFn = absl::Status (Raft::*)(Message& m);
  using TickFn = void (Raft::*)();

  // raft.cc
  void LoadState(const HardState& hs);
  void Reset(uint64_t term);
  void Send(Message m);
  void TickElection();
  bool PastElectionTimeout() const;
  void ResetRandomizedElectionTimeout();
  void Hup(CampaignType type);
  void Campaign(CampaignType type);
  VoteResult Poll(NodeId id, MessageType type, bool granted);
  void HandleVoteRequest(const Message& m);
  absl::Status StepCandidate(Message& m);
  absl::Status StepFollower(Message& m);
  void HandleAppendEntries(const Message& m);
  void HandleHeartbeat(const Message& m);
  void HandleSnapshot(const Message& m);

  // raft_leader.cc
  absl::Status StepLeader(Message& m);
  void TickHeartbeat();
  bool AppendEntry(std::vector<Entry> entries);
  bool MaybeCommit();
  void SendAppend(NodeId to) { MaybeSendAppend(to, true); }
  bool MaybeSendAppend(NodeId to, bool send_if_empty);
  bool SendSnapshot(NodeId to, Progress* pr);
  void SendHeartbeat(NodeId to, const Bytes& ctx);
  void BcastAppend();
  void BcastHeartbeat();
  void BcastHeartbeatWithCtx(const Bytes& ctx);
  void HandleAppendResponse(const Message& m, Progress* pr);
  void HandleHeartbeatResponse(const Message& m, Progress* pr);
  void HandleTransferLeader(const Message& m, Progress* pr);
  void HandleReadIndex(const Message& m);
  void SendReadIndexResponse(const Message& m);
  void ReleasePendingReadIndexMessages();
  bool CommittedEntryInCurrentTerm() const;
  // A ReadState for a local request, or an MsgReadIndexResp to the follower that asked.
  void RespondToReadIndex(const Message& req, uint64_t read_index);
  void SendTimeoutNow(NodeId to);
  void AbortLeaderTransfer() { lead_transferee_ = kNone; }
  bool IncreaseUncommittedSize(const std::vector<Entry>& entries);

  // raft_membership.cc
  bool Restore(const Snapshot& snapshot);
  // Re-derives leader-side state after the membership changed.
  void OnConfigChanged();
  absl::Status FilterConfChangeProposal(Entry* entry, size_t offset);

  const Config config_;
  const NodeId id_;

  // Persistent state (Figure 2): term_, vote_, and the log.
  uint64_t term_ = 0;
  NodeId vote_ = kNone;
  RaftLog log_;

  Role role_ = Role::kFollower;
  NodeId lead_ = kNone;
  ProgressTracker tracker_;

  // Invariant: non-zero only on a leader with a transfer in progress.
  NodeId lead_transferee_ = kNone;
  // The index of the latest conf change appended by this leader (or a conservative bound);
  // a new one may only be proposed once the log is applied past it.
  uint64_t pending_conf_index_ = 0;
  // Bytes of uncommitted entries appended as leader (max_uncommitted_entries_bytes).
  uint64_t uncommitted_size_bytes_ = 0;

  ReadOnly read_only_;
  // ReadIndex requests waiting until this leader has committed an entry of its term.
  std::vector<Message> pending_read_index_messages_;

  // Ticks since the last election timeout reset (follower/candidate) or since the last
  // quorum check (leader).
  int election_elapsed_ = 0;
  // Leader only: ticks since the last heartbeat.
  int heartbeat_elapsed_ = 0;
  int randomized_election_timeout_ = 0;
  // splitmix64 state: the only source of randomness, seeded from the config.
  uint64_t rng_state_;

  StepFn step_ = &Raft::StepFollower;
  TickFn tick_ = &Raft::TickElection;

  std::vector<Message> msgs_;
  std::vector<ReadState> read_states_;
};

}  // namespace keel::raft
