#include "raft/tracker/progress.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace keel::raft {

const char* ProgressStateName(ProgressState state) {
  switch (state) {
    case ProgressState::kProbe: return "StateProbe";
    case ProgressState::kReplicate: return "StateReplicate";
    case ProgressState::kSnapshot: return "StateSnapshot";
  }
  return "?";
}

void Progress::BecomeProbe() {
  // Coming back from a snapshot, the follower has at least the snapshot: probe right after it.
  if (state == ProgressState::kSnapshot) {
    uint64_t pending = pending_snapshot;
    state = ProgressState::kProbe;
    next = std::max(match + 1, pending + 1);
  } else {
    state = ProgressState::kProbe;
    next = match + 1;
  }
  probe_sent = false;
  pending_snapshot = 0;
  inflights.Reset();
}

void Progress::BecomeReplicate() {
  state = ProgressState::kReplicate;
  next = match + 1;
  probe_sent = false;
  pending_snapshot = 0;
  inflights.Reset();
}

void Progress::BecomeSnapshot(uint64_t snapshot_index) {
  state = ProgressState::kSnapshot;
  pending_snapshot = snapshot_index;
  probe_sent = false;
  inflights.Reset();
}

void Progress::UpdateOnEntriesSend(int entry_count, uint64_t bytes, uint64_t last_index) {
  switch (state) {
    case ProgressState::kReplicate:
      if (entry_count > 0) {
        KEEL_CHECK_GE(last_index, next);
        next = last_index + 1;
        inflights.Add(last_index, bytes);
      }
      break;
    case ProgressState::kProbe:
      // One probe per heartbeat interval; an empty probe (no entries) also counts.
      probe_sent = true;
      break;
    case ProgressState::kSnapshot:
      KEEL_FATAL() << "sending entries to a follower in snapshot state";
  }
}

bool Progress::MaybeUpdate(uint64_t n) {
  bool updated = false;
  if (match < n) {
    match = n;
    updated = true;
    probe_sent = false;
  }
  next = std::max(next, n + 1);
  return updated;
}

bool Progress::MaybeDecrTo(uint64_t rejected, uint64_t match_hint) {
  if (state == ProgressState::kReplicate) {
    // Pipelined: a rejection of anything at or below match is stale.
    if (rejected <= match) return false;
    next = match + 1;
    return true;
  }
  // Probe: only the answer to the latest probe (index next - 1) counts.
  if (next - 1 != rejected) return false;
  next = std::max(std::min(rejected, match_hint + 1), match + 1);
  probe_sent = false;
  return true;
}

bool Progress::IsPaused() const {
  switch (state) {
    case ProgressState::kProbe: return probe_sent;
    case ProgressState::kReplicate: return inflights.Full();
    case ProgressState::kSnapshot: return true;
  }
  return true;
}

std::string Progress::ToString() const {
  std::string out = absl::StrCat(ProgressStateName(state), " match=", match, " next=", next);
  if (is_learner) absl::StrAppend(&out, " learner");
  if (probe_sent) absl::StrAppend(&out, " paused");
  if (pending_snapshot > 0) absl::StrAppend(&out, " pendingSnap=", pending_snapshot);
  if (!recent_active) absl::StrAppend(&out, " inactive");
  if (inflights.Count() > 0) absl::StrAppend(&out, " inflight=", inflights.Count());
  return out;
}

}  // namespace keel::raft
