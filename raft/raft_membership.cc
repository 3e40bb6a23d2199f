// Membership changes (single-server, thesis §4.1), snapshot restore, and invariants.
#include <algorithm>

#include "base/check.h"
#include "raft/codec.h"
#include "raft/raft.h"
#include "raft/raw_node.h"

namespace keel::raft {

absl::Status Raft::FilterConfChangeProposal(Entry* entry, size_t offset) {
  // At most one change may be in flight (thesis §4.1): a proposal while one is appended but
  // not yet applied becomes an empty entry, so it commits and does nothing.
  bool refuse = pending_conf_index_ > log_.applied();
  auto cc = DecodeConfChange(entry->data.view());
  if (!cc.ok()) return cc.status();
  if (!refuse) {
    switch (cc->type) {
      case ConfChangeType::kAddLearnerNode:
        // Demoting a voter is not a single-server change.
        refuse = tracker_.IsVoter(cc->node_id);
        break;
      case ConfChangeType::kRemoveNode:
        // A cluster without voters can never elect anyone again.
        refuse = tracker_.IsVoter(cc->node_id) && tracker_.voters().size() == 1;
        break;
      case ConfChangeType::kAddNode:
        break;
    }
  }
  if (refuse) {
    *entry = Entry();
    return absl::OkStatus();
  }
  pending_conf_index_ = log_.LastIndex() + offset + 1;
  return absl::OkStatus();
}

ConfState Raft::ApplyConfChange(const ConfChange& cc) {
  // Apply must be deterministic on every member: changes the proposal filter would have
  // refused (possible when they come from an older leader's log) are no-ops.
  // A new member's progress starts at our last index (not after it) so that the probe that
  // OnConfigChanged sends at once carries an entry: with next = last + 1 there would be
  // nothing to send, and the new member would wait for the next heartbeat or proposal.
  uint64_t next = log_.LastIndex();
  switch (cc.type) {
    case ConfChangeType::kAddNode:
      if (cc.node_id != kNone) tracker_.AddVoter(cc.node_id, next);
      break;
    case ConfChangeType::kAddLearnerNode:
      if (cc.node_id != kNone && !tracker_.IsVoter(cc.node_id)) tracker_.AddLearner(cc.node_id, next);
      break;
    case ConfChangeType::kRemoveNode:
      if (!(tracker_.IsVoter(cc.node_id) && tracker_.voters().size() == 1)) tracker_.Remove(cc.node_id);
      break;
  }
  OnConfigChanged();
  return tracker_.GetConfState();
}

void Raft::OnConfigChanged() {
  if (role_ != Role::kLeader) return;
  if (!tracker_.IsVoter(id_)) {
    // A leader removed from the voters steps down; the rest elect a new leader after an
    // election timeout. (The change itself is committed: it was applied.)
    BecomeFollower(term_, kNone);
    return;
  }
  if (MaybeCommit()) {
    // A smaller quorum may commit more at once.
    BcastAppend();
  } else {
    // Probe new members now rather than at the next heartbeat or proposal.
    for (const auto& [id, pr] : tracker_.progress()) {
      if (id != id_) MaybeSendAppend(id, false);
    }
  }
  if (lead_transferee_ != kNone && !tracker_.IsVoter(lead_transferee_)) AbortLeaderTransfer();
}

bool Raft::Restore(const Snapshot& snapshot) {
  KEEL_CHECK(role_ == Role::kFollower) << "restoring a snapshot as " << RoleName(role_);
  const SnapshotMetadata& meta = snapshot.metadata;
  if (meta.index <= log_.committed()) return false;
  const ConfState& cs = meta.conf_state;
  bool member = std::binary_search(cs.voters.begin(), cs.voters.end(), id_) ||
                std::binary_search(cs.learners.begin(), cs.learners.end(), id_);
  // A snapshot of a configuration without us would make us a member of nothing; wait for one
  // taken after we were added.
  if (!member) return false;
  if (log_.MatchTerm(meta.index, meta.term)) {
    // We already have the entries it covers: just learn that they are committed.
    log_.CommitTo(meta.index);
    return false;
  }
  log_.Restore(snapshot);
  tracker_.Reset(cs, log_.LastIndex() + 1);
  if (Progress* pr = tracker_.Get(id_)) pr->MaybeUpdate(pr->next - 1);
  return true;
}

void Raft::CheckInvariants() const {
  KEEL_CHECK_LE(log_.applied(), log_.committed()) << "node " << id_;
  KEEL_CHECK_LE(log_.committed(), log_.LastIndex()) << "node " << id_;
  KEEL_CHECK_LE(log_.FirstIndex(), log_.LastIndex() + 1) << "node " << id_;
  const std::vector<NodeId>& voters = tracker_.voters();
  const std::vector<NodeId>& learners = tracker_.learners();
  KEEL_CHECK(std::is_sorted(voters.begin(), voters.end()));
  KEEL_CHECK(std::is_sorted(learners.begin(), learners.end()));
  for (NodeId id : learners) KEEL_CHECK(!tracker_.IsVoter(id)) << id << " is voter and learner";
  KEEL_CHECK_EQ(tracker_.progress().size(), voters.size() + learners.size());
  switch (role_) {
    case Role::kLeader: {
      KEEL_CHECK_EQ(lead_, id_);
      const Progress* self = tracker_.Get(id_);
      KEEL_CHECK(self != nullptr) << "leader " << id_ << " without its own progress";
      KEEL_CHECK_EQ(self->match, log_.LastIndex()) << "leader " << id_ << " match";
      for (const auto& [id, pr] : tracker_.progress()) {
        KEEL_CHECK_LT(pr.match, pr.next) << "progress of " << id << " on leader " << id_;
        KEEL_CHECK_LE(pr.match, log_.LastIndex()) << "progress of " << id;
      }
      break;
    }
    case Role::kCandidate:
      KEEL_CHECK_EQ(vote_, id_) << "candidate must vote for itself";
      KEEL_CHECK_EQ(lead_, kNone);
      break;
    case Role::kPreCandidate:
      KEEL_CHECK_EQ(lead_, kNone);
      break;
    case Role::kFollower:
      KEEL_CHECK(lead_ != id_) << "follower " << id_ << " thinks it leads";
      break;
  }
  if (lead_transferee_ != kNone) KEEL_CHECK(role_ == Role::kLeader);
}

}  // namespace keel::raft
