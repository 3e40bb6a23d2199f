#include "raft/tracker/progress_tracker.h"

#include <algorithm>

#include "base/check.h"

namespace keel::raft {

bool ProgressTracker::IsVoter(NodeId id) const {
  return std::binary_search(voters_.begin(), voters_.end(), id);
}

bool ProgressTracker::IsLearner(NodeId id) const {
  return std::binary_search(learners_.begin(), learners_.end(), id);
}

void ProgressTracker::InsertSorted(std::vector<NodeId>* ids, NodeId id) {
  auto it = std::lower_bound(ids->begin(), ids->end(), id);
  if (it == ids->end() || *it != id) ids->insert(it, id);
}

void ProgressTracker::EraseSorted(std::vector<NodeId>* ids, NodeId id) {
  auto it = std::lower_bound(ids->begin(), ids->end(), id);
  if (it != ids->end() && *it == id) ids->erase(it);
}

Progress ProgressTracker::NewProgress(uint64_t next_index, bool is_learner) const {
  Progress pr;
  pr.next = std::max<uint64_t>(next_index, 1);
  pr.match = 0;
  pr.is_learner = is_learner;
  pr.inflights = Inflights(max_inflight_msgs_, max_inflight_bytes_);
  // A new member counts as active so that adding it cannot make the leader step down at once.
  pr.recent_active = true;
  return pr;
}

void ProgressTracker::AddVoter(NodeId id, uint64_t next_index) {
  KEEL_CHECK(id != kNone);
  EraseSorted(&learners_, id);
  InsertSorted(&voters_, id);
  auto it = progress_.find(id);
  if (it == progress_.end()) {
    progress_.emplace(id, NewProgress(next_index, false));
  } else {
    it->second.is_learner = false;  // promotion keeps what the leader knows of its log
  }
}

void ProgressTracker::AddLearner(NodeId id, uint64_t next_index) {
  KEEL_CHECK(id != kNone);
  // Demoting a voter to a learner is not a single-server change Keel supports.
  KEEL_CHECK(!IsVoter(id)) << "cannot turn voter " << id << " into a learner";
  InsertSorted(&learners_, id);
  if (progress_.count(id) == 0) progress_.emplace(id, NewProgress(next_index, true));
}

void ProgressTracker::Remove(NodeId id) {
  EraseSorted(&voters_, id);
  EraseSorted(&learners_, id);
  progress_.erase(id);
  votes_.erase(id);
}

void ProgressTracker::Reset(const ConfState& cs, uint64_t next_index) {
  voters_.clear();
  learners_.clear();
  progress_.clear();
  votes_.clear();
  for (NodeId id : cs.voters) AddVoter(id, next_index);
  for (NodeId id : cs.learners) AddLearner(id, next_index);
}

Progress* ProgressTracker::Get(NodeId id) {
  auto it = progress_.find(id);
  return it == progress_.end() ? nullptr : &it->second;
}

const Progress* ProgressTracker::Get(NodeId id) const {
  auto it = progress_.find(id);
  return it == progress_.end() ? nullptr : &it->second;
}

uint64_t ProgressTracker::Committed() const {
  return MajorityCommittedIndex(voters_, [this](NodeId id) -> uint64_t {
    auto it = progress_.find(id);
    return it == progress_.end() ? 0 : it->second.match;
  });
}

bool ProgressTracker::QuorumActive(NodeId self) const {
  return HasMajority(voters_, [this, self](NodeId id) {
    if (id == self) return true;
    auto it = progress_.find(id);
    return it != progress_.end() && it->second.recent_active;
  });
}

void ProgressTracker::RecordVote(NodeId id, bool granted) {
  // The first answer of each voter counts; duplicates (the network may repeat) do not.
  votes_.emplace(id, granted);
}

VoteResult ProgressTracker::TallyVotes(NodeId self, bool self_double_count, int* granted,
                                       int* rejected) const {
  *granted = 0;
  *rejected = 0;
  for (const auto& [id, vote] : votes_) {
    if (!IsVoter(id)) continue;
    if (vote) {
      ++*granted;
    } else {
      ++*rejected;
    }
  }
  if (self_double_count) {
    // Planted bug: the candidate's own vote is counted twice.
    auto it = votes_.find(self);
    if (it != votes_.end() && it->second) {
      ++*granted;
      int quorum = static_cast<int>(voters_.size() / 2 + 1);
      if (*granted >= quorum) return VoteResult::kWon;
    }
  }
  return MajorityVoteResult(voters_, votes_);
}

}  // namespace keel::raft
