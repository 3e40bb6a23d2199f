// Results of a run: errors counted by gRPC status code, and the text and JSON forms of a
// latency summary. Pure: the caller measures, this only formats.
//
// The text follows etcd's benchmark tool (Summary / Response time histogram / Latency
// distribution / Error distribution) with latencies in milliseconds, since this machine's
// latencies are well below etcd's 0.0001-second print resolution; the histogram rows are on a
// 1-2-5 scale because latency tails span decades.
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "bench/keel_bench/histogram.h"

namespace keel::bench {

// gRPC's canonical status code names, "OK" .. "UNAUTHENTICATED"; "CODE_<n>" beyond.
std::string StatusCodeName(int code);

// Failed requests by gRPC status code, with the first message seen for each code.
class ErrorTally {
 public:
  static constexpr int kCodes = 17;
  void Add(int code, std::string_view message);
  void Merge(const ErrorTally& other);
  uint64_t total() const;
  uint64_t count(int code) const { return code >= 0 && code < kCodes ? counts_[code] : 0; }

  // "Error distribution:" lines, one per code seen; empty when there were no errors.
  std::string Format() const;
  nlohmann::json ToJson() const;

 private:
  std::array<uint64_t, kCodes> counts_{};
  std::array<std::string, kCodes> first_message_;
};

// The percentiles printed and written: etcd's set plus p100 (= max).
inline constexpr double kReportPercentiles[] = {10, 25, 50, 75, 90, 95, 99, 99.9, 99.99};

// Latencies are recorded in nanoseconds.
struct LatencyReport {
  std::string unit_name = "Requests";  // "Requests/sec:" or e.g. "Events/sec:"
  const Histogram* latency_ns = nullptr;
  double elapsed_s = 0;
  uint64_t completed = 0;  // operations counted for the rate (usually latency_ns->count())
  const ErrorTally* errors = nullptr;  // may be null
  bool precise = false;
};

std::string FormatLatencyReport(const LatencyReport& r);
nlohmann::json LatencyReportJson(const LatencyReport& r);

// "0.1234" (or full precision) for a nanosecond count in milliseconds.
std::string FormatMs(double ns, bool precise);

}  // namespace keel::bench
