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

  // Ids: the high 24 bits carry the member id, so entries proposed by other members never
  // match; the low 40 bits count up from the wall clock in ms times 1024 (etcd's idutil does
  // the same), so a restarted member does not reuse the ids of its previous run. That
  // matters: entries it proposed just before a crash may still commit and be applied after
  // the restart, and must not complete a new request that happens to reuse their id (which
  // would acknowledge a write that never happened). Unique as long as the previous run
  // averaged under 1,024 proposals per ms; the count wraps after about 12 days, long after
  // any entry of an earlier run has been applied.
  explicit WaitRegistry(uint64_t member_id);

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
