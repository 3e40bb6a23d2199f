// Progress: the leader's view of one follower's log (thesis §3.5 nextIndex/matchIndex, plus
// the flow-control states of etcd-io/raft).
//
//   probe:     next is a guess; at most one MsgApp per heartbeat interval until a reply says
//              where the logs match.
//   replicate: the follower is in sync; MsgApps are pipelined (next runs ahead of match),
//              bounded by the inflights window.
//   snapshot:  the entries the follower needs were compacted; a snapshot is on its way and
//              nothing else is sent until it is reported.
#pragma once

#include <cstdint>
#include <string>

#include "raft/tracker/inflights.h"

namespace keel::raft {

enum class ProgressState : uint8_t { kProbe, kReplicate, kSnapshot };
const char* ProgressStateName(ProgressState state);

struct Progress {
  // Invariant: match < next.
  uint64_t match = 0;
  uint64_t next = 1;
  ProgressState state = ProgressState::kProbe;
  // The snapshot index being sent (snapshot state only).
  uint64_t pending_snapshot = 0;
  // Heard from since the last quorum check (check_quorum).
  bool recent_active = false;
  // Probe state: an MsgApp was sent this heartbeat interval; wait for an answer.
  bool probe_sent = false;
  bool is_learner = false;
  Inflights inflights{256, 0};

  void BecomeProbe();
  void BecomeReplicate();
  void BecomeSnapshot(uint64_t snapshot_index);
  // Records that entries up to `last_index` went out in an MsgApp.
  void UpdateOnEntriesSend(int entry_count, uint64_t bytes, uint64_t last_index);
  // The follower acknowledged `n`; returns false if that was old news.
  bool MaybeUpdate(uint64_t n);
  // The follower rejected the MsgApp at `rejected`, hinting its log matches up to
  // `match_hint`; returns false if the rejection is stale.
  bool MaybeDecrTo(uint64_t rejected, uint64_t match_hint);
  // Whether sending to this follower must wait (probe already sent, window full, snapshot).
  bool IsPaused() const;
  std::string ToString() const;
};

}  // namespace keel::raft
