#include "bench/keel_bench/progress.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "absl/strings/str_format.h"

namespace keel::bench {

std::string ProgressLine(const ProgressSpec& spec, uint64_t done, double elapsed_s, int width) {
  double fraction = 0;
  if (spec.total > 0) {
    fraction = static_cast<double>(done) / static_cast<double>(spec.total);
  } else if (spec.duration > absl::ZeroDuration()) {
    fraction = elapsed_s / absl::ToDoubleSeconds(spec.duration);
  }
  fraction = std::clamp(fraction, 0.0, 1.0);
  const int filled = static_cast<int>(fraction * width);
  std::string bar = std::string(static_cast<size_t>(filled), '#') +
                    std::string(static_cast<size_t>(width - filled), '.');
  const double rate = elapsed_s > 0 ? static_cast<double>(done) / elapsed_s : 0;
  std::string count =
      spec.total > 0 ? absl::StrFormat("%d/%d", done, spec.total) : absl::StrFormat("%d", done);
  return absl::StrFormat("%s [%s] %3d%%  %s %s  %.0f/s  %.1fs", spec.label, bar,
                         static_cast<int>(fraction * 100), count, spec.unit, rate, elapsed_s);
}

Progress::Progress(ProgressSpec spec) : spec_(std::move(spec)) {
  if (isatty(STDERR_FILENO) != 1) return;
  thread_ = std::thread([this] { Loop(); });
}

Progress::~Progress() { Finish(); }

void Progress::Finish() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
}

void Progress::Loop() {
  const auto start = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, std::chrono::milliseconds(200), [&] { return stop_; })) {
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "\r\033[K%s", ProgressLine(spec_, spec_.done(), elapsed, 30).c_str());
    std::fflush(stderr);
  }
}

}  // namespace keel::bench
