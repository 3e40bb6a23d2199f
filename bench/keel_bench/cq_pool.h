// Completion queues, each served by one thread of ours. Every asynchronous gRPC operation of
// keel-bench is tagged with a CqTag; the thread calls tag->Proceed(ok) when it completes. An
// object whose operations all use one queue is therefore only ever touched by one thread.
#pragma once

#include <grpcpp/completion_queue.h>

#include <memory>
#include <thread>
#include <vector>

namespace keel::bench {

class CqTag {
 public:
  virtual ~CqTag() = default;
  // Called on the queue's thread. `ok` is the completion queue's ok bit.
  virtual void Proceed(bool ok) = 0;
};

class CqPool {
 public:
  explicit CqPool(int threads);
  // Shuts the queues down and joins; every operation must have completed or been cancelled.
  ~CqPool();
  CqPool(const CqPool&) = delete;
  CqPool& operator=(const CqPool&) = delete;

  int size() const { return static_cast<int>(queues_.size()); }
  grpc::CompletionQueue* queue(int i) const {
    return queues_[static_cast<size_t>(i) % queues_.size()].get();
  }

  // Shuts down and joins now (idempotent).
  void Shutdown();

 private:
  std::vector<std::unique_ptr<grpc::CompletionQueue>> queues_;
  std::vector<std::thread> threads_;
};

// min(4, hardware threads), at least 1.
int DefaultCqThreads();

}  // namespace keel::bench

namespace keel::bench {

// A tag that calls a member function: MethodTag<Stream, &Stream::OnRead> read_tag_{this};
template <typename T, void (T::*Method)(bool)>
class MethodTag final : public CqTag {
 public:
  explicit MethodTag(T* target) : target_(target) {}
  void Proceed(bool ok) override { (target_->*Method)(ok); }

 private:
  T* target_;
};

}  // namespace keel::bench
