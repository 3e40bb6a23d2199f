// The closed-loop engine behind every request/response command. `--clients` ClientOps each
// keep one operation in flight: when one completes (on its completion-queue thread) the runner
// records its latency or its error and starts the next, until --total operations were started
// or --duration has passed. With --rate, a shared token bucket spaces the starts (a client
// whose slot is later waits on a gRPC alarm, never blocking a thread), so the concurrency is
// capped by --clients and the rate by --rate. Latency runs from the operation's actual start
// to its completion, as in etcd's tool.
#pragma once

#include <grpcpp/alarm.h>
#include <grpcpp/client_context.h>
#include <grpcpp/completion_queue.h>
#include <grpcpp/support/status.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "absl/time/time.h"
#include "bench/keel_bench/cq_pool.h"
#include "bench/keel_bench/histogram.h"
#include "bench/keel_bench/report.h"
#include "bench/keel_bench/token_bucket.h"

namespace keel::bench {

class LoadRunner;

// One client. Subclasses implement Start(): begin one operation using queue(), and end it
// with exactly one call to Done() as the last thing they do (the runner may start the next
// operation, or retire the client, inside Done()).
class ClientOp : public CqTag {
 public:
  ~ClientOp() override = default;
  virtual void Start(uint64_t seq) = 0;
  // Called once after the run, from the main thread, while no operation is in flight: close
  // what outlives one operation (streams), then call done() (possibly from a queue thread).
  virtual void Close(std::function<void()> done) { done(); }

 protected:
  void Done(const grpc::Status& status);
  grpc::CompletionQueue* queue() const { return queue_; }
  // A fresh context for the next call, with the run's request deadline. The previous call's
  // reader (allocated in that call) must be destroyed first.
  grpc::ClientContext* NewContext();
  grpc::ClientContext* context() { return &*context_; }

 private:
  friend class LoadRunner;
  void Proceed(bool ok) final;  // the pacing alarm

  LoadRunner* runner_ = nullptr;
  grpc::CompletionQueue* queue_ = nullptr;
  std::optional<grpc::ClientContext> context_;
  grpc::Alarm alarm_;
  uint64_t pending_seq_ = 0;
  int64_t start_ns_ = 0;
  Histogram latency_ns_;
  ErrorTally errors_;
};

struct RunLimits {
  uint64_t total = 0;                              // 0 = no limit
  absl::Duration duration = absl::ZeroDuration();  // 0 = no limit
  double rate_per_s = 0;                           // 0 = no limit
  absl::Duration request_timeout = absl::Seconds(30);
};

struct RunResult {
  Histogram latency_ns;  // successful operations
  ErrorTally errors;
  uint64_t completed = 0;  // successful + failed
  double elapsed_s = 0;    // from Start() to the last completion
};

class LoadRunner {
 public:
  explicit LoadRunner(RunLimits limits);
  ~LoadRunner();

  // Before Start(). The client runs all its operations on `queue`.
  void Add(std::unique_ptr<ClientOp> op, grpc::CompletionQueue* queue);

  void Start();
  // Starts no new operation; in-flight ones complete. Safe from any thread, idempotent.
  void Stop();
  // Blocks until every client is retired (the limits were reached, Stop(), or Ctrl-C).
  void Wait();
  // After Wait(): Close() every client and wait for them.
  void Close();
  RunResult Collect() const;

  // For progress: operations completed so far, and started at Start().
  uint64_t completed() const { return completed_.load(std::memory_order_relaxed); }
  int64_t start_ns() const { return start_ns_; }
  int64_t last_done_ns() const { return last_done_ns_.load(std::memory_order_relaxed); }

 private:
  friend class ClientOp;
  void Next(ClientOp* op);
  void Launch(ClientOp* op, uint64_t seq);
  void OnDone(ClientOp* op, const grpc::Status& status);
  void OnAlarm(ClientOp* op, bool ok);
  void Retire();
  bool Expired(int64_t now_ns) const;

  const RunLimits limits_;
  std::vector<std::unique_ptr<ClientOp>> ops_;
  int64_t start_ns_ = 0;
  int64_t deadline_ns_ = 0;  // 0 = none
  std::atomic<uint64_t> issued_{0};
  std::atomic<uint64_t> completed_{0};
  std::atomic<int64_t> last_done_ns_{0};
  std::atomic<bool> stopping_{false};

  // Guards the bucket and, with stopping_, the arming and cancelling of alarms.
  std::mutex bucket_mu_;
  std::optional<TokenBucket> bucket_;

  std::mutex mu_;
  std::condition_variable cv_;
  size_t active_ = 0;  // clients not retired
};

}  // namespace keel::bench
