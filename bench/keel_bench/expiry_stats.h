// The arithmetic of lease-expiry (bench_lease_expiry.cc): the keys it attaches to leases, the
// revocation timeline read off the watch's DELETE events, and the writers' latency in a time
// window. Pure: every time is a steady-clock nanosecond count handed in by the caller.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench/keel_bench/histogram.h"

namespace keel::bench {

// The key attached to lease `index`: `prefix` then the index in decimal, zero-padded to 8
// digits (readable in etcdctl, and ordered like the indexes up to 10^8).
std::string LeaseKey(std::string_view prefix, uint64_t index);
// The index LeaseKey encoded in `key`, or nullopt when `key` is not prefix + decimal digits.
std::optional<uint64_t> LeaseKeyIndex(std::string_view key, std::string_view prefix);

// What became of one lease.
struct LeaseOutcome {
  // When it should expire: the grant's acknowledgement + the TTL the server granted. 0 = the
  // grant failed (no due time).
  int64_t due_ns = 0;
  bool key_attached = false;  // the put with the lease succeeded: its DELETE is expected
  int64_t deleted_ns = 0;     // when the watch delivered its key's DELETE; 0 = not seen
};

// Revocations (watch DELETE events) over time.
struct ExpiryTimeline {
  uint64_t expected = 0;    // leases with a key attached
  uint64_t deleted = 0;     // DELETE events seen (one per key at most)
  uint64_t missing = 0;     // expected and not seen
  uint64_t unexpected = 0;  // seen although the put was not acknowledged (it timed out)

  // Due times of the leases with a key; deletion times. All 0 when there are none.
  int64_t first_due_ns = 0;
  int64_t last_due_ns = 0;
  int64_t first_deleted_ns = 0;
  int64_t last_deleted_ns = 0;

  // Deletions in [first + i s, first + (i + 1) s), and the largest of those counts (the peak
  // rate) with its i.
  std::vector<uint64_t> per_second;
  uint64_t peak_second = 0;
  size_t peak_second_index = 0;
  // The most deletions in any window [t, t + 1 s), and where the first such window starts.
  // Higher than peak_second when revocations come in batches that bunch: etcd revokes up to
  // 500 leases every 500 ms, and when one batch is late it lands near the next, so a sliding
  // window can hold three batches (up to 1500) while whole seconds hold about 1000.
  uint64_t peak_sliding_1s = 0;
  int64_t peak_sliding_1s_start_ns = 0;

  // Lateness = deletion - due, over deletions with a due time. The histogram holds it clamped
  // at 0; min and max are exact and signed (a deletion can be seen up to one grant latency
  // before the due time, which counts from the grant's acknowledgement).
  Histogram lateness_ns;
  int64_t min_lateness_ns = 0;
  int64_t max_lateness_ns = 0;
  uint64_t early = 0;  // deletions seen before their due time

  // First to last deletion, in seconds; deletions / that span (0 when under two deletions).
  double storm_s() const;
  double per_s() const;
  // First to last due time, and the rate at which leases came due over it.
  double due_span_s() const;
  double due_per_s() const;
};

ExpiryTimeline ComputeExpiryTimeline(const std::vector<LeaseOutcome>& leases);

// The most of `sorted_ns` (ascending) that fall in one window [t, t + window_ns); *start_ns
// (may be null) gets the first value of the first such window.
uint64_t PeakInWindow(const std::vector<int64_t>& sorted_ns, int64_t window_ns, int64_t* start_ns);

// One completed request of a writer: when it completed, how long it took, whether it succeeded.
struct LatencySample {
  int64_t done_ns = 0;
  int64_t latency_ns = 0;
  bool ok = true;
};

// A writer's samples, bounded: past max_samples they are counted as dropped. Not thread-safe
// (one per writer; read once the writer is closed).
class SampleLog {
 public:
  explicit SampleLog(size_t max_samples) : max_samples_(max_samples) {}
  void Add(int64_t done_ns, int64_t latency_ns, bool ok);
  const std::vector<LatencySample>& samples() const { return samples_; }
  uint64_t dropped() const { return dropped_; }

 private:
  size_t max_samples_;
  std::vector<LatencySample> samples_;
  uint64_t dropped_ = 0;
};

// The requests that completed in [from_ns, to_ns).
struct WindowStats {
  int64_t from_ns = 0;
  int64_t to_ns = 0;
  Histogram latency_ns;  // successful ones
  uint64_t errors = 0;
  double seconds() const { return static_cast<double>(to_ns - from_ns) / 1e9; }
  // Successful requests per second of the window (0 for an empty window).
  double per_s() const;
};

WindowStats SummarizeWindow(const std::vector<const SampleLog*>& logs, int64_t from_ns,
                            int64_t to_ns);

}  // namespace keel::bench
