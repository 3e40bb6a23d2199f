#include "raft/config.h"

namespace keel::raft {

absl::Status Config::Validate() const {
  if (id == kNone) return absl::InvalidArgumentError("raft config: id must not be 0");
  if (heartbeat_interval_ticks <= 0) {
    return absl::InvalidArgumentError("raft config: heartbeat_interval_ticks must be > 0");
  }
  if (election_timeout_ticks <= heartbeat_interval_ticks) {
    return absl::InvalidArgumentError(
        "raft config: election_timeout_ticks must be > heartbeat_interval_ticks");
  }
  if (store == nullptr) return absl::InvalidArgumentError("raft config: store must be set");
  if (max_inflight_msgs <= 0) {
    return absl::InvalidArgumentError("raft config: max_inflight_msgs must be > 0");
  }
  if (max_size_per_msg_bytes == 0 || max_committed_bytes_per_ready == 0) {
    return absl::InvalidArgumentError("raft config: message and ready size limits must be > 0");
  }
  if (read_only == ReadOnlyOption::kLeaseBased && !check_quorum) {
    // Without check_quorum a deposed leader may keep answering lease reads.
    return absl::InvalidArgumentError("raft config: lease-based reads require check_quorum");
  }
  return absl::OkStatus();
}

}  // namespace keel::raft
