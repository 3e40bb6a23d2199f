// The text and JSON reports: etcd's section layout, percentiles, 1-2-5 histogram rows,
// errors by gRPC code; and the progress line.
#include "bench/keel_bench/report.h"

#include <gtest/gtest.h>

#include "bench/keel_bench/progress.h"

namespace keel::bench {
namespace {

TEST(ErrorTally, CountsByCodeAndKeepsTheFirstMessage) {
  ErrorTally a;
  a.Add(14, "etcdserver: no leader");
  a.Add(14, "other text");
  a.Add(4, "context deadline exceeded");
  ErrorTally b;
  b.Add(14, "later");
  b.Add(12, "");
  a.Merge(b);
  EXPECT_EQ(a.total(), 5u);
  EXPECT_EQ(a.count(14), 3u);
  const std::string text = a.Format();
  EXPECT_NE(text.find("Error distribution:"), std::string::npos);
  EXPECT_NE(text.find("[3]\tUNAVAILABLE: etcdserver: no leader"), std::string::npos) << text;
  EXPECT_NE(text.find("[1]\tDEADLINE_EXCEEDED"), std::string::npos);
  EXPECT_NE(text.find("[1]\tUNIMPLEMENTED"), std::string::npos);
  EXPECT_EQ(a.ToJson()["UNAVAILABLE"]["count"], 3);
  EXPECT_EQ(ErrorTally().Format(), "");
}

TEST(StatusCodeName, NamesCanonicalCodes) {
  EXPECT_EQ(StatusCodeName(0), "OK");
  EXPECT_EQ(StatusCodeName(16), "UNAUTHENTICATED");
  EXPECT_EQ(StatusCodeName(99), "CODE_99");
}

TEST(LatencyReport, HasEtcdsSectionsInMilliseconds) {
  Histogram h;
  for (int i = 1; i <= 1000; ++i) h.Record(static_cast<uint64_t>(i) * 1000);  // 1 µs .. 1 ms
  LatencyReport r;
  r.latency_ns = &h;
  r.elapsed_s = 2;
  r.completed = 1000;
  const std::string text = FormatLatencyReport(r);
  for (const char* s : {"Summary:", "Total:\t2.0000 secs.", "Slowest:\t1.0000 ms.",
                        "Fastest:\t0.0010 ms.", "Requests/sec:\t500.0000",
                        "Response time histogram:", "Latency distribution:", "50% in 0.50",
                        "99.9% in 0.99", "100% in 1.0000 ms."}) {
    EXPECT_NE(text.find(s), std::string::npos) << s << "\n" << text;
  }
  // 1-2-5 rows from 1 µs to 1 ms: 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000 µs, each counting
  // (previous edge, edge] up to the bucket width (1/128).
  EXPECT_NE(text.find("0.0010 ms [1]"), std::string::npos) << text;
  EXPECT_NE(text.find("0.0020 ms [1]"), std::string::npos) << text;
  EXPECT_NE(text.find("0.0100 ms [5]"), std::string::npos) << text;
  EXPECT_NE(text.find("0.5000 ms [30"), std::string::npos) << text;  // 300 +- bucket width
  EXPECT_NE(text.find("1.0000 ms [49"), std::string::npos) << text;  // 500 -+ bucket width
  EXPECT_EQ(text.find("2.0000 ms"), std::string::npos) << "no row past the max";
}

TEST(LatencyReport, EmptyRunSaysSoAndListsErrors) {
  Histogram h;
  ErrorTally e;
  e.Add(12, "unknown service etcdserverpb.Lease");
  LatencyReport r;
  r.latency_ns = &h;
  r.errors = &e;
  r.elapsed_s = 1;
  const std::string text = FormatLatencyReport(r);
  EXPECT_NE(text.find("no successful requests"), std::string::npos) << text;
  EXPECT_NE(text.find("UNIMPLEMENTED: unknown service"), std::string::npos) << text;
}

TEST(LatencyReport, JsonHasRatePercentilesAndHistogram) {
  Histogram h;
  for (int i = 1; i <= 100; ++i) h.Record(static_cast<uint64_t>(i) * 1'000'000);  // 1..100 ms
  ErrorTally e;
  e.Add(14, "down");
  LatencyReport r;
  r.latency_ns = &h;
  r.elapsed_s = 4;
  r.completed = 100;
  r.errors = &e;
  const nlohmann::json j = LatencyReportJson(r);
  EXPECT_EQ(j["count"], 100);
  EXPECT_DOUBLE_EQ(j["per_s"].get<double>(), 25.0);
  EXPECT_DOUBLE_EQ(j["latency_ms"]["min"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(j["latency_ms"]["max"].get<double>(), 100.0);
  EXPECT_NEAR(j["latency_ms"]["p50"].get<double>(), 50.0, 50.0 / 128);
  EXPECT_NEAR(j["latency_ms"]["p99.9"].get<double>(), 100.0, 100.0 / 128);
  EXPECT_EQ(j["error_count"], 1);
  uint64_t total = 0;
  for (const auto& b : j["histogram_ms"]) total += b[1].get<uint64_t>();
  EXPECT_EQ(total, 100u) << "histogram rows add up to the count";
}

TEST(ProgressLine, ShowsFractionOfTotalOrOfDuration) {
  ProgressSpec by_total{"put", nullptr, 1000, absl::ZeroDuration(), "req"};
  EXPECT_EQ(ProgressLine(by_total, 250, 2.0, 8), "put [##......]  25%  250/1000 req  125/s  2.0s");
  ProgressSpec by_time{"watch", nullptr, 0, absl::Seconds(10), "events"};
  EXPECT_EQ(ProgressLine(by_time, 5000, 5.0, 4), "watch [##..]  50%  5000 events  1000/s  5.0s");
  EXPECT_EQ(ProgressLine(by_time, 5000, 20.0, 4).substr(0, 16), "watch [####] 100");
}

}  // namespace
}  // namespace keel::bench
