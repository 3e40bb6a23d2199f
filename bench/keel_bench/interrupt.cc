#include "bench/keel_bench/interrupt.h"

#include <atomic>
#include <csignal>

namespace keel::bench {
namespace {

std::atomic<bool> interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free, "used from a signal handler");

extern "C" void OnInterrupt(int signal_number) {
  interrupted.store(true);
  std::signal(signal_number, SIG_DFL);  // the next one ends the process
}

}  // namespace

void InstallInterruptHandler() {
  std::signal(SIGINT, OnInterrupt);
  std::signal(SIGTERM, OnInterrupt);
}

bool Interrupted() { return interrupted.load(std::memory_order_relaxed); }

}  // namespace keel::bench
