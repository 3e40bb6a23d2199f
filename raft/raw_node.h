// RawNode: the consensus core's public API. A pure, deterministic state machine.
//
// Inputs are method calls (Tick, Step, Propose, ...); outputs are collected in a Ready. There
// is no thread, clock, socket, file or unseeded randomness inside: the same inputs in the same
// order produce the same Ready sequence. One thread owns a RawNode; it is not thread-safe.
//
// The Ready contract (enforced: taking a Ready while one is outstanding is a fatal check):
//   while (node.HasReady()) {
//     Ready rd = node.GetReady();
//     1. Persist rd.snapshot (if any), then rd.entries, then rd.hard_state (if set), in one
//        durable write; it must be synced when rd.must_sync. A leader (rd.soft_state or
//        Status() says so) may send rd.messages before or while it persists; every other
//        node sends them only after.
//     2. Send rd.messages.
//     3. Apply rd.snapshot, then rd.committed_entries, in order. A kConfChange entry is
//        decoded and passed to ApplyConfChange() before applying anything after it.
//     4. Serve rd.read_states once the applied index reaches each one's index.
//     5. Advance(rd).
//   }
// Tick() is called at a fixed rate (the application decides what a tick is worth).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "raft/config.h"
#include "raft/status.h"
#include "raft/types.h"

namespace keel::raft {

class Raft;

struct Ready {
  // Set when the leader or this node's role changed since the last Ready.
  std::optional<SoftState> soft_state;
  // Set when term, vote or commit changed; persist it.
  std::optional<HardState> hard_state;
  // Answers to ReadIndex calls; see ReadState.
  std::vector<ReadState> read_states;
  // Log entries to persist (they may replace a conflicting suffix of the stored log).
  std::vector<Entry> entries;
  // A snapshot to persist and apply; empty when IsEmpty().
  Snapshot snapshot;
  // Committed entries to apply, in order. Already persisted, or in `entries` of this Ready.
  std::vector<Entry> committed_entries;
  // Messages for other nodes (never local message types).
  std::vector<Message> messages;
  // Whether the write of step 1 must be synced before the messages are sent (false when only
  // the commit index moved: a lost commit index is recomputed after a restart).
  bool must_sync = false;

  bool ContainsUpdates() const;
};

class RawNode {
 public:
  // Starts (or restarts) a node from config.store. A brand-new cluster member is bootstrapped
  // by writing its initial ConfState to the store before calling this.
  static absl::StatusOr<std::unique_ptr<RawNode>> Create(const Config& config);
  ~RawNode();
  RawNode(const RawNode&) = delete;
  RawNode& operator=(const RawNode&) = delete;

  // Advances the logical clock by one tick (elections, heartbeats, quorum checks).
  void Tick();
  // Makes this node start an election now (if it is a voter).
  absl::Status Campaign();
  // Proposes data to be appended to the log. ErrProposalDropped when there is no leader to
  // take it, a leadership transfer is under way, or the uncommitted-bytes limit is hit.
  absl::Status Propose(Bytes data);
  // Proposes several entries at once: one append and one broadcast for the whole batch
  // (per-entry Propose broadcasts an MsgApp per call). All or none are accepted.
  absl::Status ProposeBatch(std::vector<Bytes> batch);
  // Proposes a membership change. At most one change may be pending: a later proposal while
  // one is uncommitted/unapplied is replaced by an empty entry (and so has no effect).
  absl::Status ProposeConfChange(const ConfChange& cc);
  // Applies a committed conf change to the node; returns the resulting membership.
  ConfState ApplyConfChange(const ConfChange& cc);
  // Feeds a message from another node. Local message types are refused.
  absl::Status Step(const Message& message);
  // Requests a read index; the answer arrives as a ReadState carrying request_ctx.
  void ReadIndex(Bytes request_ctx);
  // Asks the leader to hand leadership to `transferee` (thesis §3.10).
  void TransferLeadership(NodeId transferee);
  // The transport could not reach `id`: its progress falls back to probing.
  void ReportUnreachable(NodeId id);
  // The outcome of sending a snapshot to `id`.
  void ReportSnapshot(NodeId id, bool failed);

  bool HasReady() const;
  Ready GetReady();
  void Advance(const Ready& ready);

  Status GetStatus() const;
  // The cheap parts of GetStatus (no membership or progress copies), for callers that look
  // after every input, such as the server's raft loop.
  HardState GetHardState() const;
  SoftState GetSoftState() const;
  NodeId id() const;

  // Test hooks: the state machine itself, for invariant checks and unit tests.
  Raft& raft() { return *raft_; }
  const Raft& raft() const { return *raft_; }

 private:
  explicit RawNode(std::unique_ptr<Raft> raft);
  void AcceptReady(const Ready& ready);

  std::unique_ptr<Raft> raft_;
  SoftState prev_soft_state_;
  HardState prev_hard_state_;
  // Invariant: true between GetReady() and Advance().
  bool ready_outstanding_ = false;
  // What the outstanding Ready handed out, so Advance() can acknowledge exactly that.
  uint64_t ready_last_entry_index_ = 0;
  uint64_t ready_last_entry_term_ = 0;
  uint64_t ready_last_committed_index_ = 0;
  uint64_t ready_snapshot_index_ = 0;
};

absl::Status ErrProposalDropped();
bool IsProposalDropped(const absl::Status& status);
absl::Status ErrStepLocalMessage();
absl::Status ErrStepPeerNotFound();

}  // namespace keel::raft
