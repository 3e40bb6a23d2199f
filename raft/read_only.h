// ReadOnly: the leader's queue of ReadIndex requests waiting for a heartbeat round to confirm
// that it is still the leader (thesis §6.4, "safe" read-only mode). Requests are identified by
// their context bytes; heartbeats carry the context of the newest request, and an ack for it
// confirms every request queued before it too.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "raft/types.h"

namespace keel::raft {

struct ReadIndexStatus {
  Message request;  // the original MsgReadIndex (from a follower or local)
  uint64_t index = 0;
  std::set<NodeId> acks;
};

class ReadOnly {
 public:
  // Queues a request for read index `index`; a duplicate context is ignored.
  void AddRequest(uint64_t index, const Message& request);
  // Records that `from` acknowledged the heartbeat carrying `ctx`; returns the acks so far
  // (nullptr if the context is unknown).
  const std::set<NodeId>* RecvAck(NodeId from, const std::string& ctx);
  // Dequeues and returns every request up to and including the one with `ctx`.
  std::vector<ReadIndexStatus> Advance(const std::string& ctx);
  // The context of the newest queued request ("" if none).
  std::string LastPendingRequestCtx() const;
  size_t Size() const { return queue_.size(); }
  void Clear();

 private:
  std::map<std::string, ReadIndexStatus> pending_;
  std::deque<std::string> queue_;
};

}  // namespace keel::raft
