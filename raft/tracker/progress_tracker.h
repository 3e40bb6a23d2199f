// ProgressTracker: the current membership, the leader's Progress for every member, and the
// votes of the election in progress.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <vector>

#include "raft/quorum/majority.h"
#include "raft/tracker/progress.h"
#include "raft/types.h"

namespace keel::raft {

class ProgressTracker {
 public:
  ProgressTracker(int max_inflight_msgs, uint64_t max_inflight_bytes)
      : max_inflight_msgs_(max_inflight_msgs), max_inflight_bytes_(max_inflight_bytes) {}

  // Membership. Invariant: voters_ and learners_ are sorted, disjoint, and every member has
  // a Progress entry (and nothing else does).
  const std::vector<NodeId>& voters() const { return voters_; }
  const std::vector<NodeId>& learners() const { return learners_; }
  ConfState GetConfState() const { return ConfState{voters_, learners_}; }
  bool IsVoter(NodeId id) const;
  bool IsLearner(NodeId id) const;
  bool IsMember(NodeId id) const { return progress_.count(id) > 0; }
  bool IsSingleton() const { return voters_.size() == 1 && learners_.empty(); }

  // Adds (or turns into) a voter / learner, or removes a member. A new member's Progress
  // starts probing at `next_index`.
  void AddVoter(NodeId id, uint64_t next_index);
  void AddLearner(NodeId id, uint64_t next_index);
  void Remove(NodeId id);
  // Replaces the whole membership (restore from a snapshot or the store).
  void Reset(const ConfState& cs, uint64_t next_index);

  Progress* Get(NodeId id);
  const Progress* Get(NodeId id) const;
  std::map<NodeId, Progress>& progress() { return progress_; }
  const std::map<NodeId, Progress>& progress() const { return progress_; }

  // The largest index replicated on a majority of voters (by Progress.match).
  uint64_t Committed() const;
  // Whether a majority of voters was recently active (check_quorum). `self` always counts.
  bool QuorumActive(NodeId self) const;

  void ResetVotes() { votes_.clear(); }
  void RecordVote(NodeId id, bool granted);
  // `self_double_count` is TestOnlyBugs::count_own_vote_twice.
  VoteResult TallyVotes(NodeId self, bool self_double_count, int* granted, int* rejected) const;

 private:
  Progress NewProgress(uint64_t next_index, bool is_learner) const;
  static void InsertSorted(std::vector<NodeId>* ids, NodeId id);
  static void EraseSorted(std::vector<NodeId>* ids, NodeId id);

  int max_inflight_msgs_;
  uint64_t max_inflight_bytes_;
  std::vector<NodeId> voters_;
  std::vector<NodeId> learners_;
  std::map<NodeId, Progress> progress_;
  std::map<NodeId, bool> votes_;
};

}  // namespace keel::raft
