#include "bench/keel_bench/load_runner.h"

#include <algorithm>

#include "base/check.h"
#include "bench/keel_bench/clock.h"
#include "bench/keel_bench/interrupt.h"

namespace keel::bench {

void ClientOp::Done(const grpc::Status& status) { runner_->OnDone(this, status); }

grpc::ClientContext* ClientOp::NewContext() {
  context_.emplace();
  if (runner_->limits_.request_timeout > absl::ZeroDuration()) {
    context_->set_deadline(std::chrono::system_clock::now() +
                           absl::ToChronoNanoseconds(runner_->limits_.request_timeout));
  }
  return &*context_;
}

void ClientOp::Proceed(bool ok) { runner_->OnAlarm(this, ok); }

LoadRunner::LoadRunner(RunLimits limits) : limits_(limits) {}

LoadRunner::~LoadRunner() = default;

void LoadRunner::Add(std::unique_ptr<ClientOp> op, grpc::CompletionQueue* queue) {
  KEEL_CHECK(start_ns_ == 0) << "Add after Start";
  op->runner_ = this;
  op->queue_ = queue;
  ops_.push_back(std::move(op));
}

void LoadRunner::Start() {
  start_ns_ = NowNs();
  last_done_ns_.store(start_ns_);
  if (limits_.duration > absl::ZeroDuration()) {
    deadline_ns_ = start_ns_ + absl::ToInt64Nanoseconds(limits_.duration);
  }
  if (limits_.rate_per_s > 0) bucket_.emplace(limits_.rate_per_s, /*burst=*/1, start_ns_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    active_ = ops_.size();
  }
  for (auto& op : ops_) Next(op.get());
}

bool LoadRunner::Expired(int64_t now_ns) const {
  return stopping_.load(std::memory_order_relaxed) || (deadline_ns_ != 0 && now_ns >= deadline_ns_);
}

void LoadRunner::Next(ClientOp* op) {
  const int64_t now = NowNs();
  if (Expired(now)) return Retire();
  const uint64_t seq = issued_.fetch_add(1, std::memory_order_relaxed);
  if (limits_.total != 0 && seq >= limits_.total) return Retire();
  if (bucket_) {
    std::lock_guard<std::mutex> lock(bucket_mu_);
    if (stopping_.load()) return Retire();
    const int64_t at = bucket_->Reserve(now);
    // gRPC timers have millisecond resolution; a slot within 50 µs is taken at once.
    if (at > now + 50'000) {
      op->pending_seq_ = seq;
      op->alarm_.Set(op->queue_, SystemTimeAt(at), static_cast<CqTag*>(op));
      return;
    }
  }
  Launch(op, seq);
}

void LoadRunner::OnAlarm(ClientOp* op, bool ok) {
  if (!ok || Expired(NowNs())) return Retire();
  Launch(op, op->pending_seq_);
}

void LoadRunner::Launch(ClientOp* op, uint64_t seq) {
  op->start_ns_ = NowNs();
  op->Start(seq);
}

void LoadRunner::OnDone(ClientOp* op, const grpc::Status& status) {
  const int64_t now = NowNs();
  if (status.ok()) {
    op->latency_ns_.Record(static_cast<uint64_t>(now - op->start_ns_));
  } else {
    op->errors_.Add(status.error_code(), status.error_message());
  }
  completed_.fetch_add(1, std::memory_order_relaxed);
  int64_t last = last_done_ns_.load(std::memory_order_relaxed);
  while (last < now && !last_done_ns_.compare_exchange_weak(last, now, std::memory_order_relaxed)) {
  }
  Next(op);
}

void LoadRunner::Retire() {
  std::lock_guard<std::mutex> lock(mu_);
  KEEL_CHECK(active_ > 0);
  if (--active_ == 0) cv_.notify_all();
}

void LoadRunner::Stop() {
  stopping_.store(true);
  std::lock_guard<std::mutex> lock(bucket_mu_);
  // A cancelled alarm completes with ok == false and retires its client.
  for (auto& op : ops_) op->alarm_.Cancel();
}

void LoadRunner::Wait() {
  // Wake up at the deadline (to cancel pacing alarms set past it) and every 100 ms to notice
  // an interrupt.
  constexpr int64_t kPollNs = 100'000'000;
  std::unique_lock<std::mutex> lock(mu_);
  bool stopped = false;
  while (active_ != 0) {
    int64_t wake = NowNs() + kPollNs;
    if (deadline_ns_ != 0 && !stopped) wake = std::min(wake, deadline_ns_);
    cv_.wait_until(lock, std::chrono::steady_clock::time_point(std::chrono::nanoseconds(wake)),
                   [&] { return active_ == 0; });
    if (active_ != 0 && !stopped &&
        (Interrupted() || (deadline_ns_ != 0 && NowNs() >= deadline_ns_))) {
      stopped = true;
      lock.unlock();
      Stop();
      lock.lock();
    }
  }
}

void LoadRunner::Close() {
  std::mutex mu;
  std::condition_variable cv;
  size_t open = ops_.size();
  for (auto& op : ops_) {
    op->Close([&] {
      std::lock_guard<std::mutex> lock(mu);
      if (--open == 0) cv.notify_all();
    });
  }
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return open == 0; });
}

RunResult LoadRunner::Collect() const {
  RunResult r;
  for (const auto& op : ops_) {
    r.latency_ns.Merge(op->latency_ns_);
    r.errors.Merge(op->errors_);
  }
  r.completed = completed_.load();
  r.elapsed_s = static_cast<double>(last_done_ns_.load() - start_ns_) / 1e9;
  return r;
}

}  // namespace keel::bench
