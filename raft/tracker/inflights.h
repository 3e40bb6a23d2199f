// Inflights: the sliding window of MsgApp messages sent to one follower and not yet
// acknowledged, bounded by count and by bytes (flow control for the replicate state).
#pragma once

#include <cstdint>
#include <deque>

namespace keel::raft {

class Inflights {
 public:
  Inflights(int max_count, uint64_t max_bytes) : max_count_(max_count), max_bytes_(max_bytes) {}

  // Records a MsgApp whose last entry is `index` and whose entries weigh `bytes`.
  // Invariant: indexes are added in increasing order and never when Full().
  void Add(uint64_t index, uint64_t bytes);
  // Forgets every message whose last index is <= `index` (acknowledged).
  void FreeLE(uint64_t index);
  // Frees the oldest slot: a heartbeat answer shows the follower is alive, so a full window
  // must not stall replication forever when acks were lost.
  void FreeFirstOne();
  void Reset();
  bool Full() const;
  int Count() const { return static_cast<int>(window_.size()); }
  uint64_t Bytes() const { return bytes_; }

 private:
  struct Inflight {
    uint64_t index;
    uint64_t bytes;
  };
  int max_count_;
  uint64_t max_bytes_;  // 0: no byte limit
  std::deque<Inflight> window_;
  uint64_t bytes_ = 0;
};

}  // namespace keel::raft
