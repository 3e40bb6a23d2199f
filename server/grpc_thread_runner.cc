#include "server/grpc_thread_runner.h"

#include <grpcpp/alarm.h>

#include <utility>

namespace keel::server {

void GrpcThreadRunner::Run(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++outstanding_;
  }
  auto* alarm = new grpc::Alarm();
  alarm->Set(gpr_inf_past(GPR_CLOCK_MONOTONIC), [this, alarm, task = std::move(task)](bool) mutable {
    task();
    task = nullptr;
    // The callback's own captures are not used once the alarm is gone.
    GrpcThreadRunner* self = this;
    delete alarm;
    std::lock_guard<std::mutex> lock(self->mu_);
    if (--self->outstanding_ == 0) self->idle_.notify_all();
  });
}

void GrpcThreadRunner::Drain() {
  std::unique_lock<std::mutex> lock(mu_);
  idle_.wait(lock, [this] { return outstanding_ == 0; });
}

}  // namespace keel::server
