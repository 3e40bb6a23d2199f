#include "server/rpc_loop.h"

#include <grpcpp/alarm.h>

#include <utility>

#include "base/check.h"
#include "base/thread_name.h"

namespace keel::server {

// A task rides an alarm whose deadline has already passed: gRPC posts it to the queue at
// once (a deadline of "now" would wait for the next timer tick, up to ~1 ms).
class RpcLoop::Task final : public RpcTag {
 public:
  Task(RpcLoop* loop, std::function<void()> fn) : loop_(loop), fn_(std::move(fn)) {
    alarm_.Set(loop->cq(), gpr_inf_past(GPR_CLOCK_MONOTONIC), this);
  }
  void Proceed(bool) override {
    fn_();
    RpcLoop* loop = loop_;
    delete this;
    loop->TaskDone();
  }

 private:
  RpcLoop* loop_;
  std::function<void()> fn_;
  grpc::Alarm alarm_;
};

RpcLoop::RpcLoop(std::unique_ptr<grpc::CompletionQueue> cq) : cq_(std::move(cq)) {}

RpcLoop::~RpcLoop() { Stop(); }

void RpcLoop::Start() {
  KEEL_CHECK(!thread_.joinable()) << "RpcLoop started twice";
  thread_ = std::thread([cq = cq_.get()] {
    NameThisThread("keel-rpc");
    void* tag = nullptr;
    bool ok = false;
    while (cq->Next(&tag, &ok)) static_cast<RpcTag*>(tag)->Proceed(ok);
  });
}

void RpcLoop::Run(std::function<void()> task) {
  std::unique_lock<std::mutex> lock(mu_);
  if (stopped_) {
    // A stopped queue takes no more alarms, and nothing is left to wake: run it here.
    lock.unlock();
    task();
    return;
  }
  ++outstanding_;
  new Task(this, std::move(task));  // under mu_, so Stop cannot shut the queue down first
}

void RpcLoop::TaskDone() {
  std::lock_guard<std::mutex> lock(mu_);
  if (--outstanding_ == 0) idle_.notify_all();
}

void RpcLoop::Drain() {
  std::unique_lock<std::mutex> lock(mu_);
  idle_.wait(lock, [this] { return outstanding_ == 0; });
}

void RpcLoop::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  cq_->Shutdown();
  if (thread_.joinable()) {
    thread_.join();
  } else {
    void* tag = nullptr;
    bool ok = false;
    while (cq_->Next(&tag, &ok)) static_cast<RpcTag*>(tag)->Proceed(ok);
  }
}

}  // namespace keel::server
