// WaitRegistry: proposals waiting for their entry to be applied.
//
// A gRPC reactor registers a callback under the request id it proposed, then returns; the
// apply thread triggers it with the outcome. A waiter that is never triggered (the entry was
// lost with a leader change, or there is no leader) fails with etcd's timeout error once its
// deadline passes.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include "absl/status/status.h"
#include "google/protobuf/message.h"

namespace keel::server {

// What applying a request produced: an etcd response message, or an etcd error.
struct ApplyResult {
  absl::Status status;
  std::shared_ptr<google::protobuf::Message> response;
};

class WaitRegistry {
 public:
  using Callback = std::function<void(ApplyResult)>;
  using Clock = std::chrono::steady_clock;

  // Ids are unique for the life of the process and increase; the high bits carry the member
  // id so entries proposed by other members never match.
  explicit WaitRegistry(uint64_t member_id) : prefix_(member_id << 40) {}

  uint64_t NextId();
  void Register(uint64_t id, Clock::time_point deadline, Callback callback);
  // Completes the waiter for `id`, if any (entries from other members have none).
  void Trigger(uint64_t id, ApplyResult result);
  // Fails the waiter for `id` now (its proposal was dropped).
  void Fail(uint64_t id, absl::Status status);
  // Fails every waiter whose deadline is before `now`.
  void ExpireBefore(Clock::time_point now, const absl::Status& status);
  // Fails everyone and every later Register at once (shutdown).
  void FailAll(const absl::Status& status);
  size_t Size() const;

 private:
  struct Waiter {
    Clock::time_point deadline;
    Callback callback;
  };
  const uint64_t prefix_;
  mutable std::mutex mu_;
  uint64_t next_ = 0;
  std::map<uint64_t, Waiter> waiters_;
  bool closed_ = false;
  absl::Status closed_status_;
};

}  // namespace keel::server
