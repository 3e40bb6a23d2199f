// RpcLoop: the one thread that runs a member's gRPC server.
//
// Every client RPC is served through gRPC's async API on one completion queue, and this
// loop's thread is the only thread that waits on it. gRPC's callback API (used until
// 2026-11-28) waits on its queue with two threads of its own, and the two hand gRPC's poller
// to each other on every event: with the load generator in another session (its own
// scheduler group, as compare.py runs servers), that cost 1-3 thread switches and ~20 us of
// CPU per request, half of a serializable read's whole cost. One waiting thread has nobody
// to hand the poller to (0.02-0.2 switches per request; bench/RESULTS.md, "one RPC thread").
// Any callback-API service, or grpc::Alarm's callback form, would bring those threads back:
// the server registers none (server/rpc_server.h).
//
// What runs on the thread must not block: request handlers, stream reactors' callbacks and
// tasks handed to Run.
#pragma once

#include <grpcpp/completion_queue.h>

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

namespace keel::server {

// A completion-queue event's receiver: the tag given to gRPC is the RpcTag itself.
class RpcTag {
 public:
  virtual void Proceed(bool ok) = 0;

 protected:
  ~RpcTag() = default;
};

class RpcLoop {
 public:
  // `cq` is the server's queue (grpc::ServerBuilder::AddCompletionQueue); tests may pass a
  // plain grpc::CompletionQueue and only Run tasks.
  explicit RpcLoop(std::unique_ptr<grpc::CompletionQueue> cq);
  ~RpcLoop();
  RpcLoop(const RpcLoop&) = delete;
  RpcLoop& operator=(const RpcLoop&) = delete;

  grpc::CompletionQueue* cq() const { return cq_.get(); }

  void Start();
  // Runs `task` on the loop's thread, soon. A reply finished there is written by that
  // thread, which also runs the call's completion: no other thread is woken for it.
  void Run(std::function<void()> task);
  // Returns once every task handed to Run so far has returned.
  void Drain();
  // Shuts the queue down and joins the thread. Call after the gRPC server's Shutdown (whose
  // last completions the loop must still run) and after Drain.
  void Stop();

 private:
  class Task;
  void TaskDone();

  std::unique_ptr<grpc::CompletionQueue> cq_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable idle_;
  size_t outstanding_ = 0;  // guarded by mu_
  bool stopped_ = false;    // guarded by mu_
};

}  // namespace keel::server
