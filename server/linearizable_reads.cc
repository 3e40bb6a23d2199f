#include "server/linearizable_reads.h"

#include "base/etcd_errors.h"
#include "base/thread_name.h"
#include "server/read_index_context.h"

namespace keel::server {
namespace {

constexpr auto kReadIndexRetry = std::chrono::milliseconds(500);

}  // namespace

LinearizableReads::LinearizableReads(uint64_t member_id,
                                     std::function<void(uint64_t)> request_read_index,
                                     Runner run_batch, std::chrono::milliseconds timeout,
                                     std::chrono::microseconds round_hold)
    : member_id_(member_id),
      request_read_index_(std::move(request_read_index)),
      run_batch_(std::move(run_batch)),
      timeout_(timeout),
      round_hold_(round_hold),
      next_ctx_(RandomReadIndexSeqStart()) {
  if (round_hold_.count() > 0) {
    hold_timer_ = std::thread([this] {
      NameThisThread("keel-read-hold");
      HoldTimerLoop();
    });
  }
}

LinearizableReads::~LinearizableReads() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_timer_ = true;
    hold_cv_.notify_all();
  }
  if (hold_timer_.joinable()) hold_timer_.join();
}

void LinearizableReads::HoldTimerLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_timer_) {
    if (!holding_) {
      hold_cv_.wait(lock);
      continue;
    }
    if (Clock::now() < hold_until_) {
      hold_cv_.wait_until(lock, hold_until_);
      continue;
    }
    holding_ = false;
    MaybeStartRoundLocked();
    std::vector<Ready> ready;
    ready.swap(ready_);
    lock.unlock();
    Post(std::move(ready));
    lock.lock();
  }
}

void LinearizableReads::Read(std::function<void(absl::Status)> serve) {
  std::vector<Ready> ready;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) {
      RunLocked(Batch{std::move(serve)}, closed_status_);
    } else {
      if (pending_.empty()) first_pending_at_ = Clock::now();
      pending_.push_back(std::move(serve));
      MaybeStartRoundLocked();
    }
    ready.swap(ready_);
  }
  Post(std::move(ready));
}

void LinearizableReads::MaybeStartRoundLocked() {
  // One round at a time, and none while a batch is still being served: everything that
  // arrives meanwhile shares the next round. A lone reader never waits for either. Under load
  // the rounds grow with the time a batch takes to serve, instead of running back to back
  // with a read or two each: a round is a heartbeat quorum (~6 messages between three
  // members), more CPU than the few reads it confirmed.
  if (!in_flight_.empty() || serving_ > 0 || pending_.empty()) return;
  auto now = Clock::now();
  if (now < hold_until_) {
    if (!holding_) {
      holding_ = true;
      hold_cv_.notify_all();
    }
    return;
  }
  holding_ = false;
  uint64_t ctx = next_ctx_++;
  in_flight_[ctx] = InFlight{std::move(pending_), now + timeout_, now + kReadIndexRetry};
  pending_.clear();
  request_read_index_(ctx);
}

void LinearizableReads::RunLocked(Batch batch, absl::Status status) {
  ++serving_;
  ready_.push_back(Ready{std::move(batch), std::move(status)});
}

void LinearizableReads::Post(std::vector<Ready> ready) {
  // Called without the lock: run_batch may run the task right here.
  for (Ready& r : ready) {
    run_batch_([this, r = std::move(r)]() mutable {
      for (auto& serve : r.batch) serve(r.status);
      r.batch.clear();
      std::lock_guard<std::mutex> lock(mu_);
      --serving_;
      // Reads that were already waiting when the last round was answered mean rounds are
      // running back to back: hold the next one. (A read that came in after the answer, even
      // before this bookkeeping, is not held: a lone reader's next read can be that quick.)
      if (serving_ == 0 && !pending_.empty() && round_hold_.count() > 0 &&
          first_pending_at_ < last_answer_at_) {
        hold_until_ = Clock::now() + round_hold_;
      }
      MaybeStartRoundLocked();
    });
  }
}

void LinearizableReads::OnReadStates(const std::vector<raft::ReadState>& states) {
  std::vector<Ready> ready;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const raft::ReadState& rs : states) {
      std::optional<uint64_t> seq = DecodeReadIndexSeq(member_id_, rs.request_ctx);
      if (!seq) continue;
      auto it = in_flight_.find(*seq);
      if (it == in_flight_.end()) continue;  // expired meanwhile
      Batch batch = std::move(it->second.batch);
      in_flight_.erase(it);
      last_answer_at_ = Clock::now();
      if (applied_ >= rs.index) {
        RunLocked(std::move(batch), absl::OkStatus());
      } else {
        waiting_.emplace(rs.index, std::move(batch));
      }
    }
    MaybeStartRoundLocked();
    ready.swap(ready_);
  }
  Post(std::move(ready));
}

void LinearizableReads::OnApplied(uint64_t applied_index) {
  std::vector<Ready> ready;
  {
    std::lock_guard<std::mutex> lock(mu_);
    applied_ = applied_index;
    while (!waiting_.empty() && waiting_.begin()->first <= applied_index) {
      RunLocked(std::move(waiting_.begin()->second), absl::OkStatus());
      waiting_.erase(waiting_.begin());
    }
    ready.swap(ready_);
  }
  Post(std::move(ready));
}

void LinearizableReads::ExpireBefore(Clock::time_point now) {
  std::vector<Ready> ready;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ExpireBeforeLocked(now);
    ready.swap(ready_);
  }
  Post(std::move(ready));
}

void LinearizableReads::ExpireBeforeLocked(Clock::time_point now) {
  bool expired = false;
  std::vector<InFlight> retry;
  for (auto it = in_flight_.begin(); it != in_flight_.end();) {
    if (it->second.deadline < now) {
      RunLocked(std::move(it->second.batch), ErrTimeout());
      it = in_flight_.erase(it);
      expired = true;
    } else if (it->second.retry_at < now) {
      retry.push_back(std::move(it->second));
      it = in_flight_.erase(it);
    } else {
      ++it;
    }
  }
  for (InFlight& f : retry) {
    uint64_t ctx = next_ctx_++;  // a late answer to the old context is ignored
    f.retry_at = now + kReadIndexRetry;
    in_flight_[ctx] = std::move(f);
    request_read_index_(ctx);
  }
  if (expired) MaybeStartRoundLocked();
}

void LinearizableReads::OnLeaderChanged() {
  std::vector<Ready> ready;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (in_flight_.empty()) return;
    for (auto& [ctx, f] : in_flight_) RunLocked(std::move(f.batch), ErrLeaderChanged());
    in_flight_.clear();
    MaybeStartRoundLocked();
    ready.swap(ready_);
  }
  Post(std::move(ready));
}

void LinearizableReads::FailAll(const absl::Status& status) {
  std::vector<Ready> ready;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    closed_status_ = status;
    for (auto& [ctx, f] : in_flight_) RunLocked(std::move(f.batch), status);
    for (auto& [index, b] : waiting_) RunLocked(std::move(b), status);
    RunLocked(std::move(pending_), status);
    in_flight_.clear();
    waiting_.clear();
    pending_.clear();
    ready.swap(ready_);
  }
  Post(std::move(ready));
}

}  // namespace keel::server
