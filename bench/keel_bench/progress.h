// A progress bar on stderr, redrawn five times a second, only when stderr is a terminal (so
// logs and CI output stay clean). Cleared before the report is printed.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "absl/time/time.h"

namespace keel::bench {

// One line of progress: "label [#####.....]  45%  4500/10000  1234/s  3.2s". `done` is read
// from the progress thread; the fraction is done/total when total > 0, else elapsed/duration.
struct ProgressSpec {
  std::string label;
  std::function<uint64_t()> done;
  uint64_t total = 0;
  absl::Duration duration = absl::ZeroDuration();
  std::string unit = "req";
};

// Pure: the line for `spec` after `elapsed_s` with `done` operations (no carriage return).
std::string ProgressLine(const ProgressSpec& spec, uint64_t done, double elapsed_s, int width);

class Progress {
 public:
  // Does nothing unless stderr is a terminal.
  explicit Progress(ProgressSpec spec);
  ~Progress();  // Finish()
  void Finish();

 private:
  void Loop();
  ProgressSpec spec_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace keel::bench
