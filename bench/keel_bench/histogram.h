// A latency histogram with log-linear buckets (the HdrHistogram layout): values below
// 2 * kSubBuckets are counted exactly, larger ones in buckets whose width is 1/kSubBuckets of
// their magnitude, so any reported percentile is within 1/128 (0.8%) of the true value. Count,
// minimum, maximum, sum and sum of squares are kept exactly.
//
// Not thread-safe: give each client (or each watch stream) its own and Merge() at the end.
// The bucket array grows to the largest value recorded (at most ~35 KiB), so Record()
// allocates only when it sees a new largest magnitude.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace keel::bench {

class Histogram {
 public:
  // 2^7 sub-buckets per power of two: relative bucket width <= 1/128.
  static constexpr int kSubBucketBits = 7;
  static constexpr uint64_t kSubBuckets = uint64_t{1} << kSubBucketBits;
  // Values above this (about 18 minutes in nanoseconds) share the top bucket; max() stays exact.
  static constexpr uint64_t kMaxTrackable = (uint64_t{1} << 40) - 1;

  Histogram();

  void Record(uint64_t value) { RecordN(value, 1); }
  void RecordN(uint64_t value, uint64_t n);
  void Merge(const Histogram& other);
  void Reset();

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }
  double Mean() const;
  // Population standard deviation, like etcd's benchmark report.
  double Stddev() const;

  // The value at `percentile` (0..100) by the nearest-rank rule: the smallest recorded value v
  // such that at least percentile% of the values are <= v. Reported as the highest value of
  // its bucket, clamped to [min(), max()]; so Percentile(100) == max(). 0 when empty.
  uint64_t Percentile(double percentile) const;

  // Number of recorded values <= `value`: exact for values below 2 * kSubBuckets, otherwise
  // counted by whole buckets (the bucket holding `value` counts entirely), so off by at most
  // the values within 1/128 above `value`.
  uint64_t CountAtOrBelow(uint64_t value) const;

  // Bucket geometry, exposed for tests and for the report's bars.
  static size_t BucketIndex(uint64_t value);
  static uint64_t BucketLowest(size_t index);
  static uint64_t BucketHighest(size_t index);
  static size_t BucketCount();

 private:
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  uint64_t min_ = 0;
  uint64_t max_ = 0;
  long double sum_ = 0;
  long double sum_squares_ = 0;
};

}  // namespace keel::bench
