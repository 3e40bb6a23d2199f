// Status: a consistent snapshot of a node's state for the application and for tests.
#pragma once

#include <cstdint>
#include <map>

#include "raft/tracker/progress.h"
#include "raft/types.h"

namespace keel::raft {

struct Status {
  NodeId id = kNone;
  HardState hard_state;
  SoftState soft_state;
  uint64_t applied_index = 0;
  ConfState conf_state;
  // Filled only on the leader: what it knows of each member's log.
  std::map<NodeId, Progress> progress;
  NodeId lead_transferee = kNone;
};

}  // namespace keel::raft
