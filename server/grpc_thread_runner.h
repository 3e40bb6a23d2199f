// GrpcThreadRunner: runs tasks on gRPC's own executor threads.
//
// A gRPC reply finished from a thread of ours pays for itself: its write, and a wake-up of
// one of gRPC's threads to run the call's completion. A reply finished inside a task that
// gRPC runs joins that task's flush: replies to calls on one connection leave in one write,
// and their completions run right there. Linearizable read batches are served from here
// (LinearizableReads): a lone reader's p50 went from 0.41–0.50 to 0.30–0.36 ms on three
// members, ten readers' throughput up 5–20% (bench/RESULTS.md).
//
// The hand-off is a grpc::Alarm whose deadline has already passed, which gRPC hands to its
// executor at once (a deadline of "now" waits for the next timer tick, up to ~1 ms).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>

namespace keel::server {

class GrpcThreadRunner {
 public:
  GrpcThreadRunner() = default;
  ~GrpcThreadRunner() { Drain(); }
  GrpcThreadRunner(const GrpcThreadRunner&) = delete;
  GrpcThreadRunner& operator=(const GrpcThreadRunner&) = delete;

  void Run(std::function<void()> task);
  // Returns once every task handed to Run so far has returned.
  void Drain();

 private:
  std::mutex mu_;
  std::condition_variable idle_;
  size_t outstanding_ = 0;
};

}  // namespace keel::server
