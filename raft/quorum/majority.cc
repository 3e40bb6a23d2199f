#include "raft/quorum/majority.h"

#include <algorithm>
#include <limits>

namespace keel::raft {

uint64_t MajorityCommittedIndex(const std::vector<NodeId>& voters,
                                const std::function<uint64_t(NodeId)>& acked) {
  if (voters.empty()) return std::numeric_limits<uint64_t>::max();
  // Small fixed buffer: clusters have a handful of voters; avoid allocating on every commit.
  uint64_t stack_buf[16];
  std::vector<uint64_t> heap_buf;
  uint64_t* srt = stack_buf;
  if (voters.size() > 16) {
    heap_buf.resize(voters.size());
    srt = heap_buf.data();
  }
  size_t n = voters.size();
  for (size_t i = 0; i < n; ++i) srt[i] = acked(voters[i]);
  std::sort(srt, srt + n);
  // With n voters sorted ascending, the entry at n - (n/2 + 1) is acknowledged by a majority.
  return srt[n - (n / 2 + 1)];
}

VoteResult MajorityVoteResult(const std::vector<NodeId>& voters,
                              const std::map<NodeId, bool>& votes) {
  if (voters.empty()) return VoteResult::kWon;
  size_t granted = 0, rejected = 0, missing = 0;
  for (NodeId id : voters) {
    auto it = votes.find(id);
    if (it == votes.end()) {
      ++missing;
    } else if (it->second) {
      ++granted;
    } else {
      ++rejected;
    }
  }
  size_t quorum = voters.size() / 2 + 1;
  if (granted >= quorum) return VoteResult::kWon;
  if (granted + missing >= quorum) return VoteResult::kPending;
  return VoteResult::kLost;
}

bool HasMajority(const std::vector<NodeId>& voters, const std::function<bool(NodeId)>& active) {
  size_t n = 0;
  for (NodeId id : voters) n += active(id) ? 1 : 0;
  return n >= voters.size() / 2 + 1;
}

}  // namespace keel::raft
