// keel-bench's latency histogram: bucket geometry, exact small values, bounded relative error
// for large ones, nearest-rank percentiles, merge, and the exact moments.
#include "bench/keel_bench/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace keel::bench {
namespace {

TEST(Histogram, EmptyReportsZeros) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.Percentile(50), 0u);
  EXPECT_EQ(h.Mean(), 0.0);
  EXPECT_EQ(h.Stddev(), 0.0);
}

TEST(Histogram, BucketsAreContiguousAndCoverEveryValue) {
  // Every bucket starts right after the previous one ends, and BucketIndex maps both ends of a
  // bucket to it.
  for (size_t i = 0; i + 1 < Histogram::BucketCount(); ++i) {
    ASSERT_EQ(Histogram::BucketHighest(i) + 1, Histogram::BucketLowest(i + 1)) << i;
    ASSERT_EQ(Histogram::BucketIndex(Histogram::BucketLowest(i)), i);
    ASSERT_EQ(Histogram::BucketIndex(Histogram::BucketHighest(i)), i);
  }
  EXPECT_EQ(Histogram::BucketIndex(0), 0u);
  EXPECT_EQ(Histogram::BucketHighest(Histogram::BucketCount() - 1), Histogram::kMaxTrackable);
}

TEST(Histogram, ValuesBelowTwiceSubBucketsAreExact) {
  for (uint64_t v = 0; v < 2 * Histogram::kSubBuckets; ++v) {
    const size_t i = Histogram::BucketIndex(v);
    EXPECT_EQ(Histogram::BucketLowest(i), v);
    EXPECT_EQ(Histogram::BucketHighest(i), v);
  }
}

TEST(Histogram, BucketWidthIsAtMostOneSubBucketOfTheValue) {
  std::mt19937_64 rng(7);
  for (int n = 0; n < 100000; ++n) {
    const uint64_t v = rng() % Histogram::kMaxTrackable;
    const size_t i = Histogram::BucketIndex(v);
    ASSERT_LE(Histogram::BucketLowest(i), v);
    ASSERT_GE(Histogram::BucketHighest(i), v);
    const double width =
        static_cast<double>(Histogram::BucketHighest(i) - Histogram::BucketLowest(i) + 1);
    ASSERT_LE(width / static_cast<double>(std::max<uint64_t>(v, 1)), 1.0 / Histogram::kSubBuckets)
        << v;
  }
}

TEST(Histogram, PercentilesUseNearestRank) {
  Histogram h;
  for (uint64_t v = 1; v <= 100; ++v) h.Record(v);  // exact range
  EXPECT_EQ(h.Percentile(50), 50u);
  EXPECT_EQ(h.Percentile(90), 90u);
  EXPECT_EQ(h.Percentile(99), 99u);
  EXPECT_EQ(h.Percentile(100), 100u);
  EXPECT_EQ(h.Percentile(0), 1u);
  EXPECT_EQ(h.Percentile(0.5), 1u);
  EXPECT_EQ(h.Percentile(1.5), 2u);
}

TEST(Histogram, PointNinePercentilesDoNotRoundUpARank) {
  // 99.9% of 1000 values is the 999th: 99.9 / 100 * 1000 in doubles is 999.0000000000001.
  Histogram h;
  for (uint64_t v = 1; v <= 1000; ++v) h.Record(v < 999 ? 1 : v);  // 998 ones, then 999, 1000
  EXPECT_EQ(h.Percentile(99.9), Histogram::BucketHighest(Histogram::BucketIndex(999)));
  EXPECT_LT(h.Percentile(99.9), 1000u);
  EXPECT_EQ(h.Percentile(100), 1000u);
}

TEST(Histogram, PercentilesOfLargeValuesAreWithinBucketError) {
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> latency(std::log(500'000.0), 1.0);  // ~0.5 ms median
  std::vector<uint64_t> values;
  Histogram h;
  for (int i = 0; i < 200000; ++i) {
    const auto v = static_cast<uint64_t>(latency(rng));
    values.push_back(v);
    h.Record(v);
  }
  std::sort(values.begin(), values.end());
  for (double p : {10.0, 50.0, 90.0, 99.0, 99.9, 99.99}) {
    const size_t rank = static_cast<size_t>(std::ceil(p / 100 * values.size() - 1e-9));
    const double exact = static_cast<double>(values[rank - 1]);
    const double got = static_cast<double>(h.Percentile(p));
    EXPECT_GE(got, exact) << p;  // the bucket's highest value
    EXPECT_LE((got - exact) / exact, 1.0 / Histogram::kSubBuckets) << p;
  }
  EXPECT_EQ(h.max(), values.back());
  EXPECT_EQ(h.min(), values.front());
  EXPECT_EQ(h.Percentile(100), values.back());
}

TEST(Histogram, MeanAndStddevAreExact) {
  Histogram h;
  for (uint64_t v : {2, 4, 4, 4, 5, 5, 7, 9}) h.Record(v * 1'000'000);
  EXPECT_DOUBLE_EQ(h.Mean(), 5'000'000.0);
  EXPECT_NEAR(h.Stddev(), 2'000'000.0, 1e-3);  // population standard deviation
}

TEST(Histogram, ValuesBeyondTheTrackableRangeKeepAnExactMax) {
  Histogram h;
  h.Record(Histogram::kMaxTrackable * 4);
  h.Record(10);
  EXPECT_EQ(h.max(), Histogram::kMaxTrackable * 4);
  EXPECT_EQ(h.Percentile(100), Histogram::kMaxTrackable * 4);
  EXPECT_EQ(h.Percentile(50), 10u);
}

TEST(Histogram, MergeEqualsRecordingEverythingInOne) {
  std::mt19937_64 rng(3);
  Histogram a, b, all;
  for (int i = 0; i < 5000; ++i) {
    const uint64_t v = rng() % 10'000'000;
    (i % 3 == 0 ? a : b).Record(v);
    all.Record(v);
  }
  Histogram merged;
  merged.Merge(a);
  merged.Merge(b);
  EXPECT_EQ(merged.count(), all.count());
  EXPECT_EQ(merged.min(), all.min());
  EXPECT_EQ(merged.max(), all.max());
  EXPECT_DOUBLE_EQ(merged.Mean(), all.Mean());
  for (double p : {1.0, 25.0, 50.0, 99.0, 100.0})
    EXPECT_EQ(merged.Percentile(p), all.Percentile(p));
  Histogram empty;
  merged.Merge(empty);
  EXPECT_EQ(merged.count(), all.count());
}

TEST(Histogram, CountAtOrBelowCountsWholeBuckets) {
  Histogram h;
  for (uint64_t v = 1; v <= 200; ++v) h.Record(v);
  EXPECT_EQ(h.CountAtOrBelow(0), 0u);
  EXPECT_EQ(h.CountAtOrBelow(100), 100u);
  EXPECT_EQ(h.CountAtOrBelow(200), 200u);
  EXPECT_EQ(h.CountAtOrBelow(1'000'000), 200u);
}

TEST(Histogram, RecordNCountsRepeatedValues) {
  Histogram h;
  h.RecordN(1000, 3);
  h.RecordN(5, 0);
  EXPECT_EQ(h.count(), 3u);
  EXPECT_EQ(h.min(), 1000u);
  EXPECT_DOUBLE_EQ(h.Mean(), 1000.0);
}

}  // namespace
}  // namespace keel::bench
