#include "bench/keel_bench/expiry_stats.h"

#include <algorithm>
#include <limits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"

namespace keel::bench {

namespace {
constexpr int64_t kSecondNs = 1'000'000'000;
}  // namespace

std::string LeaseKey(std::string_view prefix, uint64_t index) {
  return absl::StrFormat("%s%08d", absl::string_view(prefix.data(), prefix.size()), index);
}

std::optional<uint64_t> LeaseKeyIndex(std::string_view key, std::string_view prefix) {
  if (key.size() <= prefix.size() || key.substr(0, prefix.size()) != prefix) return std::nullopt;
  const std::string_view digits = key.substr(prefix.size());
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  uint64_t index;
  if (!absl::SimpleAtoi(absl::string_view(digits.data(), digits.size()), &index)) {
    return std::nullopt;
  }
  return index;
}

double ExpiryTimeline::storm_s() const {
  return static_cast<double>(last_deleted_ns - first_deleted_ns) / 1e9;
}

double ExpiryTimeline::per_s() const {
  const double s = storm_s();
  return deleted >= 2 && s > 0 ? static_cast<double>(deleted) / s : 0;
}

double ExpiryTimeline::due_span_s() const {
  return static_cast<double>(last_due_ns - first_due_ns) / 1e9;
}

double ExpiryTimeline::due_per_s() const {
  const double s = due_span_s();
  return expected >= 2 && s > 0 ? static_cast<double>(expected) / s : 0;
}

uint64_t PeakInWindow(const std::vector<int64_t>& sorted_ns, int64_t window_ns, int64_t* start_ns) {
  uint64_t best = 0;
  int64_t best_start = 0;
  size_t end = 0;
  for (size_t begin = 0; begin < sorted_ns.size(); ++begin) {
    end = std::max(end, begin);
    while (end < sorted_ns.size() && sorted_ns[end] < sorted_ns[begin] + window_ns) ++end;
    if (end - begin > best) {
      best = end - begin;
      best_start = sorted_ns[begin];
    }
  }
  if (start_ns != nullptr) *start_ns = best_start;
  return best;
}

ExpiryTimeline ComputeExpiryTimeline(const std::vector<LeaseOutcome>& leases) {
  ExpiryTimeline t;
  std::vector<int64_t> deleted;
  int64_t min_late = std::numeric_limits<int64_t>::max();
  int64_t max_late = std::numeric_limits<int64_t>::min();
  for (const LeaseOutcome& l : leases) {
    if (l.key_attached) {
      ++t.expected;
      if (t.first_due_ns == 0 || l.due_ns < t.first_due_ns) t.first_due_ns = l.due_ns;
      t.last_due_ns = std::max(t.last_due_ns, l.due_ns);
      if (l.deleted_ns == 0) ++t.missing;
    }
    if (l.deleted_ns == 0) continue;
    if (!l.key_attached) ++t.unexpected;
    deleted.push_back(l.deleted_ns);
    if (l.due_ns == 0) continue;
    const int64_t late = l.deleted_ns - l.due_ns;
    min_late = std::min(min_late, late);
    max_late = std::max(max_late, late);
    if (late < 0) ++t.early;
    t.lateness_ns.Record(static_cast<uint64_t>(std::max<int64_t>(late, 0)));
  }
  if (t.lateness_ns.count() > 0) {
    t.min_lateness_ns = min_late;
    t.max_lateness_ns = max_late;
  }
  t.deleted = deleted.size();
  if (deleted.empty()) return t;
  std::sort(deleted.begin(), deleted.end());
  t.first_deleted_ns = deleted.front();
  t.last_deleted_ns = deleted.back();
  t.peak_sliding_1s = PeakInWindow(deleted, kSecondNs, &t.peak_sliding_1s_start_ns);
  t.per_second.assign(static_cast<size_t>((t.last_deleted_ns - t.first_deleted_ns) / kSecondNs) + 1,
                      0);
  for (int64_t d : deleted) {
    ++t.per_second[static_cast<size_t>((d - t.first_deleted_ns) / kSecondNs)];
  }
  for (size_t i = 0; i < t.per_second.size(); ++i) {
    if (t.per_second[i] > t.peak_second) {
      t.peak_second = t.per_second[i];
      t.peak_second_index = i;
    }
  }
  return t;
}

void SampleLog::Add(int64_t done_ns, int64_t latency_ns, bool ok) {
  if (samples_.size() >= max_samples_) {
    ++dropped_;
    return;
  }
  samples_.push_back(LatencySample{done_ns, latency_ns, ok});
}

double WindowStats::per_s() const {
  const double s = seconds();
  return s > 0 ? static_cast<double>(latency_ns.count()) / s : 0;
}

WindowStats SummarizeWindow(const std::vector<const SampleLog*>& logs, int64_t from_ns,
                            int64_t to_ns) {
  WindowStats w;
  w.from_ns = from_ns;
  w.to_ns = to_ns;
  for (const SampleLog* log : logs) {
    for (const LatencySample& s : log->samples()) {
      if (s.done_ns < from_ns || s.done_ns >= to_ns) continue;
      if (s.ok) {
        w.latency_ns.Record(static_cast<uint64_t>(std::max<int64_t>(s.latency_ns, 0)));
      } else {
        ++w.errors;
      }
    }
  }
  return w;
}

}  // namespace keel::bench
