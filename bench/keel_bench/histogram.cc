#include "bench/keel_bench/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace keel::bench {

// Layout: index i < kSubBuckets holds the value i. Above, a value with highest set bit m
// (m >= kSubBucketBits) is shifted right by s = m - kSubBucketBits, leaving a mantissa in
// [kSubBuckets, 2 * kSubBuckets); its index is kSubBuckets * (s + 1) + (mantissa - kSubBuckets).
// So [kSubBuckets, 2 * kSubBuckets) is still exact (s = 0) and every later power of two is
// split into kSubBuckets equal buckets.
size_t Histogram::BucketIndex(uint64_t value) {
  value = std::min(value, kMaxTrackable);
  if (value < kSubBuckets) return static_cast<size_t>(value);
  const int msb = 63 - std::countl_zero(value);
  const int shift = msb - kSubBucketBits;
  const uint64_t mantissa = value >> shift;
  return static_cast<size_t>(kSubBuckets * static_cast<uint64_t>(shift + 1) +
                             (mantissa - kSubBuckets));
}

uint64_t Histogram::BucketLowest(size_t index) {
  if (index < kSubBuckets) return index;
  const uint64_t shift = index / kSubBuckets - 1;
  const uint64_t mantissa = kSubBuckets + index % kSubBuckets;
  return mantissa << shift;
}

uint64_t Histogram::BucketHighest(size_t index) {
  if (index < kSubBuckets) return index;
  const uint64_t shift = index / kSubBuckets - 1;
  const uint64_t mantissa = kSubBuckets + index % kSubBuckets;
  return ((mantissa + 1) << shift) - 1;
}

size_t Histogram::BucketCount() { return BucketIndex(kMaxTrackable) + 1; }

Histogram::Histogram() = default;

void Histogram::RecordN(uint64_t value, uint64_t n) {
  if (n == 0) return;
  const size_t index = BucketIndex(value);
  if (index >= counts_.size()) counts_.resize(index + 1, 0);
  counts_[index] += n;
  if (count_ == 0 || value < min_) min_ = value;
  if (value > max_) max_ = value;
  count_ += n;
  const long double v = static_cast<long double>(value);
  sum_ += v * n;
  sum_squares_ += v * v * n;
}

void Histogram::Merge(const Histogram& other) {
  if (other.count_ == 0) return;
  if (other.counts_.size() > counts_.size()) counts_.resize(other.counts_.size(), 0);
  for (size_t i = 0; i < other.counts_.size(); ++i) counts_[i] += other.counts_[i];
  if (count_ == 0 || other.min_ < min_) min_ = other.min_;
  max_ = std::max(max_, other.max_);
  count_ += other.count_;
  sum_ += other.sum_;
  sum_squares_ += other.sum_squares_;
}

void Histogram::Reset() { *this = Histogram(); }

double Histogram::Mean() const { return count_ == 0 ? 0.0 : static_cast<double>(sum_ / count_); }

double Histogram::Stddev() const {
  if (count_ == 0) return 0.0;
  const long double mean = sum_ / count_;
  const long double variance = sum_squares_ / count_ - mean * mean;
  return variance <= 0 ? 0.0 : std::sqrt(static_cast<double>(variance));
}

uint64_t Histogram::Percentile(double percentile) const {
  if (count_ == 0) return 0;
  percentile = std::clamp(percentile, 0.0, 100.0);
  // Nearest rank: the ceil(p/100 * n)-th smallest value (1-based), at least the first. In
  // integers (p in millionths of a percent) so that 99.9% of 1000 values is rank 999, not the
  // 1000 that 99.9 / 100 * 1000 = 999.0000000000001 would give.
  const unsigned __int128 scaled = static_cast<unsigned __int128>(std::llround(percentile * 1e6));
  const unsigned __int128 denominator = 100'000'000;
  uint64_t rank = static_cast<uint64_t>((scaled * count_ + denominator - 1) / denominator);
  rank = std::clamp<uint64_t>(rank, 1, count_);
  if (rank == count_) return max_;
  uint64_t seen = 0;
  const size_t top = BucketIndex(kMaxTrackable);  // holds values of any size beyond
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return i == top ? max_ : std::clamp(BucketHighest(i), min_, max_);
  }
  return max_;
}

uint64_t Histogram::CountAtOrBelow(uint64_t value) const {
  uint64_t n = 0;
  for (size_t i = 0; i < counts_.size() && BucketLowest(i) <= value; ++i) n += counts_[i];
  // Values above kMaxTrackable all sit in the last bucket.
  if (value >= max_) return count_;
  return n;
}

}  // namespace keel::bench
