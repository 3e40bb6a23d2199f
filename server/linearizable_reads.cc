#include "server/linearizable_reads.h"

#include "base/big_endian.h"
#include "base/etcd_errors.h"

namespace keel::server {
namespace {

constexpr auto kReadIndexRetry = std::chrono::milliseconds(500);

uint64_t DecodeCtx(const raft::Bytes& ctx) {
  // RaftLoop::ReadIndex sends the context as 8 bytes big-endian.
  return ctx.size() == 8 ? GetBigEndian64(ctx.str().data()) : 0;
}

}  // namespace

LinearizableReads::LinearizableReads(std::function<void(uint64_t)> request_read_index,
                                     TaskQueue* executor, std::chrono::milliseconds timeout)
    : request_read_index_(std::move(request_read_index)), executor_(executor), timeout_(timeout) {}

void LinearizableReads::Read(std::function<void(absl::Status)> serve) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) {
    RunLocked(Batch{std::move(serve)}, closed_status_);
    return;
  }
  pending_.push_back(std::move(serve));
  MaybeStartRoundLocked();
}

void LinearizableReads::MaybeStartRoundLocked() {
  // One round at a time: everything that arrives meanwhile shares the next one.
  if (!in_flight_.empty() || pending_.empty()) return;
  uint64_t ctx = next_ctx_++;
  auto now = Clock::now();
  in_flight_[ctx] = InFlight{std::move(pending_), now + timeout_, now + kReadIndexRetry};
  pending_.clear();
  request_read_index_(ctx);
}

void LinearizableReads::RunLocked(Batch batch, absl::Status status) {
  executor_->Post([batch = std::move(batch), status]() mutable {
    for (auto& serve : batch) serve(status);
  });
}

void LinearizableReads::OnReadStates(const std::vector<raft::ReadState>& states) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const raft::ReadState& rs : states) {
    auto it = in_flight_.find(DecodeCtx(rs.request_ctx));
    if (it == in_flight_.end()) continue;  // expired meanwhile
    Batch batch = std::move(it->second.batch);
    in_flight_.erase(it);
    if (applied_ >= rs.index) {
      RunLocked(std::move(batch), absl::OkStatus());
    } else {
      waiting_.emplace(rs.index, std::move(batch));
    }
  }
  MaybeStartRoundLocked();
}

void LinearizableReads::OnApplied(uint64_t applied_index) {
  std::lock_guard<std::mutex> lock(mu_);
  applied_ = applied_index;
  while (!waiting_.empty() && waiting_.begin()->first <= applied_index) {
    RunLocked(std::move(waiting_.begin()->second), absl::OkStatus());
    waiting_.erase(waiting_.begin());
  }
}

void LinearizableReads::ExpireBefore(Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
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
  std::lock_guard<std::mutex> lock(mu_);
  if (in_flight_.empty()) return;
  for (auto& [ctx, f] : in_flight_) RunLocked(std::move(f.batch), ErrLeaderChanged());
  in_flight_.clear();
  MaybeStartRoundLocked();
}

void LinearizableReads::FailAll(const absl::Status& status) {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  closed_status_ = status;
  for (auto& [ctx, f] : in_flight_) RunLocked(std::move(f.batch), status);
  for (auto& [index, b] : waiting_) RunLocked(std::move(b), status);
  RunLocked(std::move(pending_), status);
  in_flight_.clear();
  waiting_.clear();
  pending_.clear();
}

}  // namespace keel::server
