// lease-expiry's arithmetic: lease keys and their inverse, the revocation timeline (span,
// overall and peak 1-s rates, per-second counts, lateness against the due time), and the
// writers' latency in a window.
#include "bench/keel_bench/expiry_stats.h"

#include <gtest/gtest.h>

namespace keel::bench {
namespace {

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kS = 1'000'000'000;

TEST(LeaseKey, IsPrefixAndZeroPaddedIndexAndParsesBack) {
  EXPECT_EQ(LeaseKey("p/", 42), "p/00000042");
  EXPECT_EQ(LeaseKey("p/", 123456789), "p/123456789") << "wider than 8 digits is not cut";
  EXPECT_EQ(LeaseKeyIndex(LeaseKey("p/", 99999), "p/"), 99999u);
  EXPECT_EQ(LeaseKeyIndex("p/123456789", "p/"), 123456789u);
  EXPECT_FALSE(LeaseKeyIndex("p/", "p/")) << "no digits";
  EXPECT_FALSE(LeaseKeyIndex("q/00000001", "p/")) << "other prefix";
  EXPECT_FALSE(LeaseKeyIndex("p/0000000x", "p/"));
  EXPECT_FALSE(LeaseKeyIndex("p/-1", "p/"));
  EXPECT_FALSE(LeaseKeyIndex(std::string("p/1\0", 4), "p/")) << "keys are bytes";
}

TEST(PeakInWindow, CountsTheBusiestHalfOpenWindow) {
  int64_t start = -1;
  EXPECT_EQ(PeakInWindow({}, kS, &start), 0u);
  EXPECT_EQ(PeakInWindow({5}, kS, &start), 1u);
  EXPECT_EQ(start, 5);
  // 0, 0.5, 0.999 in the first second; 1.0 starts the next window (half-open); 1.2, 1.4, 1.9
  // with 1.0 make four in [1.0, 2.0).
  const std::vector<int64_t> t = {0,          500 * kMs,  999 * kMs,  1000 * kMs,
                                  1200 * kMs, 1400 * kMs, 1900 * kMs, 5000 * kMs};
  EXPECT_EQ(PeakInWindow(t, kS, &start), 5u) << "[0.5, 1.5) holds 0.5, 0.999, 1.0, 1.2, 1.4";
  EXPECT_EQ(start, 500 * kMs);
  EXPECT_EQ(PeakInWindow({7, 7, 7, 7}, 1, &start), 4u) << "equal times share a window";
  EXPECT_EQ(PeakInWindow(t, kS, nullptr), 5u);
}

TEST(ExpiryTimeline, SpanRatesPerSecondAndLateness) {
  // Four leases due at 10 s; deleted at 10.5, 11.0, 11.2 and 12.5 s. One lease whose key was
  // never attached and never deleted.
  std::vector<LeaseOutcome> leases(5);
  const int64_t deleted[] = {10'500 * kMs, 11'000 * kMs, 11'200 * kMs, 12'500 * kMs};
  for (int i = 0; i < 4; ++i) {
    leases[static_cast<size_t>(i)] = LeaseOutcome{10 * kS + i * kMs, true, deleted[i]};
  }
  leases[4] = LeaseOutcome{10 * kS, false, 0};
  const ExpiryTimeline t = ComputeExpiryTimeline(leases);
  EXPECT_EQ(t.expected, 4u);
  EXPECT_EQ(t.deleted, 4u);
  EXPECT_EQ(t.missing, 0u);
  EXPECT_EQ(t.unexpected, 0u);
  EXPECT_EQ(t.first_due_ns, 10 * kS);
  EXPECT_EQ(t.last_due_ns, 10 * kS + 3 * kMs);
  EXPECT_EQ(t.first_deleted_ns, 10'500 * kMs);
  EXPECT_EQ(t.last_deleted_ns, 12'500 * kMs);
  EXPECT_DOUBLE_EQ(t.storm_s(), 2.0);
  EXPECT_DOUBLE_EQ(t.per_s(), 2.0) << "4 deletions over 2 s";
  EXPECT_EQ(t.peak_sliding_1s, 3u) << "10.5, 11.0, 11.2";
  EXPECT_EQ(t.peak_sliding_1s_start_ns, 10'500 * kMs);
  EXPECT_EQ(t.per_second, (std::vector<uint64_t>{3, 0, 1}))
      << "[10.5, 11.5): 10.5, 11.0, 11.2; [11.5, 12.5): none; [12.5, 13.5): 12.5";
  EXPECT_EQ(t.peak_second, 3u);
  EXPECT_EQ(t.peak_second_index, 0u);
  EXPECT_EQ(t.min_lateness_ns, 500 * kMs);
  EXPECT_EQ(t.max_lateness_ns, 2'497 * kMs);
  EXPECT_EQ(t.early, 0u);
  EXPECT_EQ(t.lateness_ns.count(), 4u);
  EXPECT_NEAR(static_cast<double>(t.lateness_ns.Percentile(50)), 999 * kMs, 999 * kMs / 128.0)
      << "the second of 500, 999, 1198, 2497 ms";
  EXPECT_EQ(t.lateness_ns.Percentile(100), static_cast<uint64_t>(2'497 * kMs));
}

TEST(ExpiryTimeline, MissingUnexpectedAndEarlyDeletions) {
  std::vector<LeaseOutcome> leases = {
      {10 * kS, true, 0},                  // attached, never deleted
      {10 * kS, false, 12 * kS},           // put not acknowledged, but applied and deleted
      {10 * kS, true, 10 * kS - 3 * kMs},  // seen 3 ms before its due time
      {0, false, 0},                       // grant failed
  };
  const ExpiryTimeline t = ComputeExpiryTimeline(leases);
  EXPECT_EQ(t.expected, 2u);
  EXPECT_EQ(t.missing, 1u);
  EXPECT_EQ(t.deleted, 2u);
  EXPECT_EQ(t.unexpected, 1u);
  EXPECT_EQ(t.early, 1u);
  EXPECT_EQ(t.min_lateness_ns, -3 * kMs) << "exact and signed";
  EXPECT_EQ(t.max_lateness_ns, 2 * kS);
  EXPECT_EQ(t.lateness_ns.min(), 0u) << "the histogram clamps at 0";
  EXPECT_EQ(t.per_second.size(), 3u) << "from 9.997 s to 12 s";
}

TEST(ExpiryTimeline, EmptyAndSingleDeletionHaveNoRate) {
  const ExpiryTimeline none = ComputeExpiryTimeline({});
  EXPECT_EQ(none.deleted, 0u);
  EXPECT_EQ(none.per_s(), 0);
  EXPECT_EQ(none.due_per_s(), 0);
  EXPECT_TRUE(none.per_second.empty());
  EXPECT_EQ(none.lateness_ns.count(), 0u);
  const ExpiryTimeline one = ComputeExpiryTimeline({{5 * kS, true, 6 * kS}});
  EXPECT_EQ(one.deleted, 1u);
  EXPECT_EQ(one.storm_s(), 0);
  EXPECT_EQ(one.per_s(), 0) << "no span to divide by";
  EXPECT_EQ(one.peak_second, 1u);
  EXPECT_EQ(one.peak_sliding_1s, 1u);
  EXPECT_EQ(one.per_second, std::vector<uint64_t>{1});
}

TEST(ExpiryTimeline, ARateLimitedStormShowsItsRate) {
  // 10,000 leases all due at 5 s, revoked at 1,000/s from 5.5 s on: the storm lasts ~10 s,
  // the peak 1-s window holds 1,000, lateness grows to ~10.5 s.
  std::vector<LeaseOutcome> leases;
  for (int64_t i = 0; i < 10'000; ++i) {
    leases.push_back({5 * kS, true, 5'500 * kMs + i * kMs});
  }
  const ExpiryTimeline t = ComputeExpiryTimeline(leases);
  EXPECT_NEAR(t.storm_s(), 9.999, 1e-9);
  EXPECT_NEAR(t.per_s(), 1000.1, 0.01);
  EXPECT_EQ(t.peak_second, 1000u);
  EXPECT_EQ(t.peak_sliding_1s, 1000u);
  EXPECT_EQ(t.per_second.size(), 10u);
  for (uint64_t n : t.per_second) EXPECT_EQ(n, 1000u);
  EXPECT_EQ(t.min_lateness_ns, 500 * kMs);
  EXPECT_EQ(t.max_lateness_ns, 10'499 * kMs);
  EXPECT_NEAR(static_cast<double>(t.lateness_ns.Percentile(50)), 5'499 * kMs, 5'499 * kMs / 128.0);
  EXPECT_EQ(t.due_span_s(), 0);
  EXPECT_EQ(t.due_per_s(), 0) << "all due at once: no span";
}

TEST(ExpiryTimeline, BatchedRevocationsPeakHigherInASlidingWindowThanInWholeSeconds) {
  // etcd's pattern: 500 revocations every 500 ms, from 2 s to 4.5 s, but the batch of 3.0 s
  // is delayed to 3.4 s (a slow apply) and bunches with the next one. Every whole second from
  // the first deletion still holds two batches; the sliding window from 3.4 s holds three.
  std::vector<LeaseOutcome> leases;
  for (int64_t at_ms : {2000, 2500, 3400, 3500, 4000, 4500}) {
    for (int i = 0; i < 500; ++i) leases.push_back({kS, true, at_ms * kMs});
  }
  const ExpiryTimeline t = ComputeExpiryTimeline(leases);
  EXPECT_EQ(t.per_second, (std::vector<uint64_t>{1000, 1000, 1000}));
  EXPECT_EQ(t.peak_second, 1000u);
  EXPECT_EQ(t.peak_sliding_1s, 1500u);
  EXPECT_EQ(t.peak_sliding_1s_start_ns, 3400 * kMs);
  EXPECT_NEAR(t.per_s(), 3000 / 2.5, 1e-9);
}

TEST(SampleLog, KeepsUpToItsLimitAndCountsTheRest) {
  SampleLog log(2);
  log.Add(1, 10, true);
  log.Add(2, 20, false);
  log.Add(3, 30, true);
  ASSERT_EQ(log.samples().size(), 2u);
  EXPECT_EQ(log.samples()[1].latency_ns, 20);
  EXPECT_FALSE(log.samples()[1].ok);
  EXPECT_EQ(log.dropped(), 1u);
}

TEST(SummarizeWindow, TakesCompletionsInTheHalfOpenWindowFromEveryLog) {
  SampleLog a(100), b(100);
  a.Add(0, 1 * kMs, true);       // before
  a.Add(1 * kS, 2 * kMs, true);  // at from: in
  a.Add(1500 * kMs, 4 * kMs, false);
  b.Add(1800 * kMs, 8 * kMs, true);
  b.Add(3 * kS, 16 * kMs, true);  // at to: out
  const WindowStats w = SummarizeWindow({&a, &b}, 1 * kS, 3 * kS);
  EXPECT_EQ(w.latency_ns.count(), 2u);
  EXPECT_EQ(w.errors, 1u);
  EXPECT_EQ(w.latency_ns.min(), static_cast<uint64_t>(2 * kMs));
  EXPECT_EQ(w.latency_ns.max(), static_cast<uint64_t>(8 * kMs));
  EXPECT_DOUBLE_EQ(w.seconds(), 2.0);
  EXPECT_DOUBLE_EQ(w.per_s(), 1.0) << "successes per second of the window";
  const WindowStats empty = SummarizeWindow({&a}, 5 * kS, 5 * kS);
  EXPECT_EQ(empty.latency_ns.count(), 0u);
  EXPECT_EQ(empty.per_s(), 0);
}

}  // namespace
}  // namespace keel::bench
