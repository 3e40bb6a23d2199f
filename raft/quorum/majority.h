// Majority quorum arithmetic (Raft paper §5.2–5.3). Pure functions over a voter set.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "raft/types.h"

namespace keel::raft {

enum class VoteResult : uint8_t {
  kPending,  // neither a quorum of yes nor of no yet
  kLost,     // a quorum can no longer say yes
  kWon,      // a quorum said yes
};

// The largest index acknowledged by a majority of `voters`, given each voter's acknowledged
// index (`acked(id)`; absent voters count as 0). An empty voter set commits everything
// (returns UINT64_MAX) so that it never holds back a joint computation.
uint64_t MajorityCommittedIndex(const std::vector<NodeId>& voters,
                                const std::function<uint64_t(NodeId)>& acked);

// The outcome of an election among `voters` given the votes received so far
// (true = granted). Votes from non-voters are ignored.
VoteResult MajorityVoteResult(const std::vector<NodeId>& voters,
                              const std::map<NodeId, bool>& votes);

// Whether the nodes in `active` contain a majority of `voters`.
bool HasMajority(const std::vector<NodeId>& voters, const std::function<bool(NodeId)>& active);

}  // namespace keel::raft
