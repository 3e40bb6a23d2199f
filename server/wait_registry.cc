#include "server/wait_registry.h"

#include <vector>

namespace keel::server {

WaitRegistry::WaitRegistry(uint64_t member_id) : prefix_(member_id << 40) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  next_ = static_cast<uint64_t>(ms) << 10;
}

uint64_t WaitRegistry::NextId() {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t id = prefix_ | (++next_ & ((uint64_t{1} << 40) - 1));
  if (id == 0) id = prefix_ | (++next_ & ((uint64_t{1} << 40) - 1));  // 0: "nobody waits"
  return id;
}

void WaitRegistry::Register(uint64_t id, Clock::time_point deadline, Callback callback) {
  absl::Status refused;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!closed_) {
      waiters_[id] = Waiter{deadline, std::move(callback)};
      return;
    }
    refused = closed_status_;
  }
  callback(ApplyResult{refused, nullptr});
}

void WaitRegistry::Trigger(uint64_t id, ApplyResult result) {
  Callback cb;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = waiters_.find(id);
    if (it == waiters_.end()) return;
    cb = std::move(it->second.callback);
    waiters_.erase(it);
  }
  cb(std::move(result));
}

void WaitRegistry::Fail(uint64_t id, absl::Status status) {
  Trigger(id, ApplyResult{std::move(status), nullptr});
}

void WaitRegistry::ExpireBefore(Clock::time_point now, const absl::Status& status) {
  std::vector<Callback> expired;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (it->second.deadline < now) {
        expired.push_back(std::move(it->second.callback));
        it = waiters_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& cb : expired) cb(ApplyResult{status, nullptr});
}

void WaitRegistry::FailAll(const absl::Status& status) {
  std::map<uint64_t, Waiter> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    closed_status_ = status;
    all.swap(waiters_);
  }
  for (auto& [id, w] : all) w.callback(ApplyResult{status, nullptr});
}

size_t WaitRegistry::Size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waiters_.size();
}

}  // namespace keel::server
