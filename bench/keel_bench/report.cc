#include "bench/keel_bench/report.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace keel::bench {
namespace {

constexpr const char* kCodeNames[ErrorTally::kCodes] = {
    "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED"};

// 1-2-5 steps in nanoseconds: 1000, 2000, 5000, 10000, ...
uint64_t NextEdge(uint64_t edge) {
  uint64_t decade = 1;
  while (decade * 10 <= edge) decade *= 10;
  const uint64_t lead = edge / decade;
  if (lead < 2) return 2 * decade;
  if (lead < 5) return 5 * decade;
  return 10 * decade;
}

std::string PercentLabel(double p) { return absl::StrFormat("%g%%", p); }

}  // namespace

std::string StatusCodeName(int code) {
  if (code >= 0 && code < ErrorTally::kCodes) return kCodeNames[code];
  return absl::StrCat("CODE_", code);
}

void ErrorTally::Add(int code, std::string_view message) {
  if (code < 0 || code >= kCodes) code = 2;  // UNKNOWN
  if (counts_[code]++ == 0) first_message_[code] = std::string(message);
}

void ErrorTally::Merge(const ErrorTally& other) {
  for (int c = 0; c < kCodes; ++c) {
    if (counts_[c] == 0 && other.counts_[c] > 0) first_message_[c] = other.first_message_[c];
    counts_[c] += other.counts_[c];
  }
}

uint64_t ErrorTally::total() const {
  uint64_t n = 0;
  for (uint64_t c : counts_) n += c;
  return n;
}

std::string ErrorTally::Format() const {
  if (total() == 0) return "";
  std::string out = "\nError distribution:\n";
  for (int c = 0; c < kCodes; ++c) {
    if (counts_[c] == 0) continue;
    absl::StrAppend(&out, "  [", counts_[c], "]\t", StatusCodeName(c), ": ", first_message_[c],
                    "\n");
  }
  return out;
}

nlohmann::json ErrorTally::ToJson() const {
  nlohmann::json j = nlohmann::json::object();
  for (int c = 0; c < kCodes; ++c) {
    if (counts_[c] == 0) continue;
    j[StatusCodeName(c)] = {{"count", counts_[c]}, {"example", first_message_[c]}};
  }
  return j;
}

std::string FormatMs(double ns, bool precise) {
  return precise ? absl::StrFormat("%g", ns / 1e6) : absl::StrFormat("%.4f", ns / 1e6);
}

std::string FormatLatencyReport(const LatencyReport& r) {
  const Histogram& h = *r.latency_ns;
  std::string out;
  const double per_s = r.elapsed_s > 0 ? static_cast<double>(r.completed) / r.elapsed_s : 0;
  if (h.count() > 0) {
    absl::StrAppend(&out, "\nSummary:\n");
    absl::StrAppend(
        &out, "  Total:\t",
        r.precise ? absl::StrFormat("%g", r.elapsed_s) : absl::StrFormat("%.4f", r.elapsed_s),
        " secs.\n");
    absl::StrAppend(&out, "  Slowest:\t", FormatMs(static_cast<double>(h.max()), r.precise),
                    " ms.\n");
    absl::StrAppend(&out, "  Fastest:\t", FormatMs(static_cast<double>(h.min()), r.precise),
                    " ms.\n");
    absl::StrAppend(&out, "  Average:\t", FormatMs(h.Mean(), r.precise), " ms.\n");
    absl::StrAppend(&out, "  Stddev:\t", FormatMs(h.Stddev(), r.precise), " ms.\n");
    absl::StrAppend(&out, "  ", r.unit_name, "/sec:\t",
                    r.precise ? absl::StrFormat("%g", per_s) : absl::StrFormat("%.4f", per_s),
                    "\n");

    // Rows on a 1-2-5 scale from the first edge >= min to the first edge >= max; each row
    // counts the values in (previous edge, edge].
    absl::StrAppend(&out, "\nResponse time histogram:\n");
    uint64_t edge = 1000;  // 1 µs
    while (edge < h.min()) edge = NextEdge(edge);
    std::vector<std::pair<uint64_t, uint64_t>> rows;
    uint64_t below = 0;
    for (;;) {
      const uint64_t at_or_below = edge >= h.max() ? h.count() : h.CountAtOrBelow(edge);
      rows.emplace_back(edge, at_or_below - below);
      below = at_or_below;
      if (edge >= h.max()) break;
      edge = NextEdge(edge);
    }
    uint64_t tallest = 1;
    for (const auto& row : rows) tallest = std::max(tallest, row.second);
    for (const auto& [e, n] : rows) {
      std::string bar;
      for (uint64_t i = 0; i < n * 40 / tallest; ++i) bar += "\u220e";  // ∎, as etcd's tool
      absl::StrAppend(&out, "  ",
                      absl::StrFormat("%10s", FormatMs(static_cast<double>(e), r.precise)), " ms [",
                      n, "]\t|", bar, "\n");
    }

    absl::StrAppend(&out, "\nLatency distribution:\n");
    for (double p : kReportPercentiles) {
      absl::StrAppend(&out, "  ", PercentLabel(p), " in ",
                      FormatMs(static_cast<double>(h.Percentile(p)), r.precise), " ms.\n");
    }
    absl::StrAppend(&out, "  100% in ", FormatMs(static_cast<double>(h.max()), r.precise),
                    " ms.\n");
  } else {
    absl::StrAppend(&out, "\nSummary:\n  no successful ",
                    r.unit_name == "Requests" ? "requests" : r.unit_name, " in ",
                    absl::StrFormat("%.4f", r.elapsed_s), " secs.\n");
  }
  if (r.errors != nullptr) out += r.errors->Format();
  return out;
}

nlohmann::json LatencyReportJson(const LatencyReport& r) {
  const Histogram& h = *r.latency_ns;
  nlohmann::json j;
  j["count"] = r.completed;
  j["elapsed_s"] = r.elapsed_s;
  j["per_s"] = r.elapsed_s > 0 ? static_cast<double>(r.completed) / r.elapsed_s : 0.0;
  nlohmann::json lat;
  lat["count"] = h.count();
  lat["min"] = static_cast<double>(h.min()) / 1e6;
  lat["mean"] = h.Mean() / 1e6;
  lat["stddev"] = h.Stddev() / 1e6;
  for (double p : kReportPercentiles) {
    lat[absl::StrFormat("p%g", p)] = static_cast<double>(h.Percentile(p)) / 1e6;
  }
  lat["max"] = static_cast<double>(h.max()) / 1e6;
  j["latency_ms"] = lat;
  // Non-empty buckets of the histogram itself, for re-plotting: [highest value in ms, count].
  // Buckets are merged to at most ~1% width to keep the file small.
  nlohmann::json buckets = nlohmann::json::array();
  if (h.count() > 0) {
    uint64_t edge = std::max<uint64_t>(h.min(), 1000);
    uint64_t below = 0;
    for (;;) {
      const uint64_t at_or_below = edge >= h.max() ? h.count() : h.CountAtOrBelow(edge);
      if (at_or_below > below)
        buckets.push_back({static_cast<double>(edge) / 1e6, at_or_below - below});
      below = at_or_below;
      if (edge >= h.max()) break;
      edge = std::max(edge + 1, edge + edge / 100);
    }
  }
  j["histogram_ms"] = buckets;
  if (r.errors != nullptr) {
    j["errors"] = r.errors->ToJson();
    j["error_count"] = r.errors->total();
  }
  return j;
}

}  // namespace keel::bench
