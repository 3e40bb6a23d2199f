// LeaderWaits: callers waiting for a given member to become leader (MoveLeader), completed
// from the raft loop's leader-change hook, expired by the housekeeping timer, failed at stop.
// No thread of its own and none blocked meanwhile.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

#include "absl/status/status.h"

namespace keel::server {

class LeaderWaits {
 public:
  using Clock = std::chrono::steady_clock;
  using Callback = std::function<void(absl::Status)>;

  // `done(OK)` once `target` leads; `done(timeout)` past `deadline`. Runs on the raft or
  // housekeeping thread: must not block.
  void Add(uint64_t target, Clock::time_point deadline, absl::Status timeout, Callback done);
  void OnLeaderChanged(uint64_t leader);
  void ExpireBefore(Clock::time_point now);
  void FailAll(const absl::Status& status);

 private:
  struct Waiter {
    uint64_t target;
    Clock::time_point deadline;
    absl::Status timeout;
    Callback done;
  };
  std::mutex mu_;
  std::vector<Waiter> waiters_;  // guarded by mu_; few (an admin call each)
};

}  // namespace keel::server
