#include "bench/keel_bench/cq_pool.h"

#include <algorithm>

namespace keel::bench {

CqPool::CqPool(int threads) {
  for (int i = 0; i < std::max(1, threads); ++i) {
    queues_.push_back(std::make_unique<grpc::CompletionQueue>());
  }
  for (auto& q : queues_) {
    threads_.emplace_back([cq = q.get()] {
      void* tag = nullptr;
      bool ok = false;
      while (cq->Next(&tag, &ok)) static_cast<CqTag*>(tag)->Proceed(ok);
    });
  }
}

CqPool::~CqPool() { Shutdown(); }

void CqPool::Shutdown() {
  if (threads_.empty()) return;
  for (auto& q : queues_) q->Shutdown();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

int DefaultCqThreads() {
  const unsigned hw = std::thread::hardware_concurrency();
  return static_cast<int>(std::clamp<unsigned>(hw, 1, 4));
}

}  // namespace keel::bench
