#include "server/leader_waits.h"

#include <utility>

namespace keel::server {

void LeaderWaits::Add(uint64_t target, Clock::time_point deadline, absl::Status timeout,
                      Callback done) {
  std::lock_guard<std::mutex> lock(mu_);
  waiters_.push_back(Waiter{target, deadline, std::move(timeout), std::move(done)});
}

void LeaderWaits::OnLeaderChanged(uint64_t leader) {
  std::vector<Waiter> ready;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (it->target == leader) {
        ready.push_back(std::move(*it));
        it = waiters_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& w : ready) w.done(absl::OkStatus());  // outside the lock
}

void LeaderWaits::ExpireBefore(Clock::time_point now) {
  std::vector<Waiter> expired;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (it->deadline < now) {
        expired.push_back(std::move(*it));
        it = waiters_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& w : expired) w.done(w.timeout);
}

void LeaderWaits::FailAll(const absl::Status& status) {
  std::vector<Waiter> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    all.swap(waiters_);
  }
  for (auto& w : all) w.done(status);
}

}  // namespace keel::server
