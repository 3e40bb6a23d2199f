// lease-expiry: a mass lease expiry, and what it does to an unrelated write load.
//
//  1. A watch (NOPUT filter) opens on a directory of its own under --key-prefix, before
//     anything is granted, so it sees every deletion.
//  2. --clients writers start putting keys under keel-bench/lease-expiry-load/ (at --rate, or
//     closed loop) on a connection of their own; for --baseline they run alone.
//  3. Setup: --setup-clients clients each grant a lease of --lease-ttl, then put the lease's
//     key (one key per lease), until --leases leases have a key. The grant's acknowledgement
//     plus the TTL the server granted is when the lease is due to expire.
//  4. Then nothing but waiting: every DELETE the watch delivers is stamped with its arrival
//     time, until every attached key is deleted or --expiry-timeout after setup has passed.
//  5. The writers stop. Reported: the revocation timeline (first to last deletion, overall and
//     peak 1-s revocations/s, lateness of each deletion against its due time), and the
//     writers' put latency per window (baseline, setup, the storm).
//
// The arithmetic is in expiry_stats.h (pure, unit-tested). Leases left when the command gives
// up expire on their own; the writers' keys stay (1000 at most).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "bench/keel_bench/bench.h"
#include "bench/keel_bench/bench_common.h"
#include "bench/keel_bench/clock.h"
#include "bench/keel_bench/commands.h"
#include "bench/keel_bench/expiry_stats.h"
#include "bench/keel_bench/interrupt.h"
#include "bench/keel_bench/keys.h"
#include "bench/keel_bench/kv_ops.h"
#include "bench/keel_bench/lease_ops.h"
#include "bench/keel_bench/progress.h"
#include "bench/keel_bench/report.h"
#include "bench/keel_bench/watch_stream.h"

namespace keel::bench {
namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(20);
constexpr auto kWatchCreateTimeout = std::chrono::seconds(30);
// The writers' samples, all writers together: 4 M x 24 bytes. At 10,000 puts/s that is 400 s.
constexpr size_t kMaxWriterSamples = 4'000'000;
constexpr char kWriterPrefix[] = "keel-bench/lease-expiry-load/";
constexpr uint64_t kWriterKeySpace = 1000;
constexpr int kWriterKeySize = 8;

// The watch's DELETE events of this run's keys: when each key's first arrived. Written by the
// stream's thread; deleted() and deleted_ns() may be polled from any thread.
class DeletionLog final : public WatchEventSink {
 public:
  DeletionLog(std::string prefix, size_t leases)
      : prefix_(std::move(prefix)), deleted_ns_(leases) {}

  void OnEvents(const std::vector<WatchEventView>& events, int64_t received_ns) override {
    for (const WatchEventView& ev : events) {
      if (ev.type != 1) continue;  // DELETE only (the watch filters PUTs out anyway)
      const auto index = LeaseKeyIndex(ev.key, prefix_);
      if (!index || *index >= deleted_ns_.size()) {
        foreign_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      std::atomic<int64_t>& slot = deleted_ns_[*index];
      if (slot.load(std::memory_order_relaxed) != 0) {
        duplicates_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      slot.store(received_ns, std::memory_order_relaxed);
      deleted_.fetch_add(1, std::memory_order_relaxed);
    }
  }

  uint64_t deleted() const { return deleted_.load(std::memory_order_relaxed); }
  int64_t deleted_ns(size_t index) const {
    return deleted_ns_[index].load(std::memory_order_relaxed);
  }
  uint64_t foreign() const { return foreign_.load(); }
  uint64_t duplicates() const { return duplicates_.load(); }

 private:
  const std::string prefix_;
  std::vector<std::atomic<int64_t>> deleted_ns_;
  std::atomic<uint64_t> deleted_{0};
  std::atomic<uint64_t> foreign_{0};     // DELETEs under the prefix of keys we never put
  std::atomic<uint64_t> duplicates_{0};  // a second DELETE of one key
};

// Waits `d` (polling for Ctrl-C).
void WaitFor(absl::Duration d) {
  const int64_t until = NowNs() + absl::ToInt64Nanoseconds(d);
  while (!Interrupted() && NowNs() < until) {
    std::this_thread::sleep_for(std::min<std::chrono::nanoseconds>(
        kPollInterval, std::chrono::nanoseconds(until - NowNs())));
  }
}

// Seconds from `origin_ns` to `t_ns`.
double At(int64_t t_ns, int64_t origin_ns) { return static_cast<double>(t_ns - origin_ns) / 1e9; }

double Ms(uint64_t ns) { return static_cast<double>(ns) / 1e6; }

struct NamedWindow {
  std::string name;
  WindowStats stats;
};

nlohmann::json WindowJson(const WindowStats& w, int64_t origin_ns) {
  nlohmann::json j;
  j["from_s"] = At(w.from_ns, origin_ns);
  j["to_s"] = At(w.to_ns, origin_ns);
  j["requests"] = w.latency_ns.count();
  j["per_s"] = w.per_s();
  j["errors"] = w.errors;
  j["latency_ms"] = {{"p50", Ms(w.latency_ns.Percentile(50))},
                     {"p99", Ms(w.latency_ns.Percentile(99))},
                     {"max", Ms(w.latency_ns.max())},
                     {"mean", w.latency_ns.Mean() / 1e6}};
  return j;
}

std::string WindowTable(const std::vector<NamedWindow>& windows, int64_t origin_ns, bool precise) {
  std::string out =
      absl::StrFormat("  %-18s %17s %9s %9s %10s %10s %10s %7s\n", "window", "from..to (s)", "puts",
                      "puts/s", "p50 ms", "p99 ms", "max ms", "errors");
  for (const auto& [name, w] : windows) {
    absl::StrAppend(
        &out, absl::StrFormat(
                  "  %-18s %17s %9d %9.1f %10s %10s %10s %7d\n", name,
                  absl::StrFormat("%.2f..%.2f", At(w.from_ns, origin_ns), At(w.to_ns, origin_ns)),
                  w.latency_ns.count(), w.per_s(),
                  FormatMs(static_cast<double>(w.latency_ns.Percentile(50)), precise),
                  FormatMs(static_cast<double>(w.latency_ns.Percentile(99)), precise),
                  FormatMs(static_cast<double>(w.latency_ns.max()), precise), w.errors));
  }
  return out;
}

std::string Seconds(int64_t ns) { return absl::StrFormat("%.3f s", static_cast<double>(ns) / 1e9); }

}  // namespace

int RunLeaseExpiry(const BenchFlags& f) {
  auto endpoints = ResolveEndpoints(f.endpoints, f.target_leader, f.dial_timeout);
  if (!endpoints.ok()) return SetupFailed(std::string(endpoints.status().message()));
  auto conns = OpenConns(*endpoints, f.conns, 0, f.dial_timeout);
  if (!conns.ok()) return SetupFailed(std::string(conns.status().message()));
  // The watch and the writers each on a connection of their own.
  auto watch_conns = OpenConns(*endpoints, 1, f.conns, f.dial_timeout);
  if (!watch_conns.ok()) return SetupFailed(std::string(watch_conns.status().message()));
  auto writer_conns = OpenConns(*endpoints, 1, f.conns + 1, f.dial_timeout);
  if (!writer_conns.ok()) return SetupFailed(std::string(writer_conns.status().message()));

  // A server without leases fails here, before anything else is set up.
  {
    auto probe = GrantLeases((*conns)[0].get(), 1, f.lease_ttl_s, f.request_timeout);
    if (!probe.ok()) {
      return SetupFailed(
          absl::StrCat("lease-expiry: cannot grant a lease: ", probe.status().message()));
    }
    RevokeLeases((*conns)[0].get(), *probe, f.request_timeout);
  }

  // A directory per run, so that an earlier run's keys (expiring late) cannot be counted.
  const std::string prefix =
      absl::StrCat(f.key_prefix, absl::StrFormat("%x", absl::ToUnixMicros(absl::Now())), "/");
  const auto leases = static_cast<size_t>(f.leases);
  std::cout << absl::StrFormat(
                   "lease-expiry: %d leases of TTL %d s, one key each under \"%s\" (%d-byte "
                   "values), set up by %d clients over %d conns; writers: %d clients, %s, under "
                   "\"%s\"; baseline %s; timeout %s after setup; endpoints %s\n",
                   f.leases, f.lease_ttl_s, prefix, f.val_size, f.setup_clients, f.conns, f.clients,
                   f.rate_per_s > 0 ? absl::StrCat(f.rate_per_s, " puts/s") : "no rate limit",
                   kWriterPrefix, absl::FormatDuration(f.baseline),
                   absl::FormatDuration(f.expiry_timeout), absl::StrJoin(*endpoints, ","))
            << std::flush;

  CqPool pool(CqThreads(f));

  // 1. The watch.
  DeletionLog deletions(prefix, leases);
  WatchGroup group;
  WatcherSpec spec;
  spec.key = prefix;
  spec.range_end = PrefixEnd(prefix);
  spec.no_put = true;
  WatchStream stream((*watch_conns)[0].get(), pool.queue(0), {spec}, &group, &deletions);
  stream.Start();
  if (!group.WaitReady(1, std::chrono::steady_clock::now() + kWatchCreateTimeout) ||
      stream.created() != 1) {
    stream.Cancel();
    group.WaitFinished(1);
    pool.Shutdown();
    return SetupFailed(absl::StrCat(
        "lease-expiry: the watch on the prefix was not created",
        stream.status().ok() ? std::string() : ": " + DescribeStatus(stream.status())));
  }

  // 2. The writers, then the baseline.
  KeyGenerator writer_keys(kWriterPrefix, kWriterKeySize, kWriterKeySpace, /*sequential=*/false);
  RunLimits writer_limits;
  writer_limits.rate_per_s = f.rate_per_s;
  writer_limits.request_timeout = f.request_timeout;
  LoadRunner writers(writer_limits);
  std::vector<std::unique_ptr<SampleLog>> samples;
  for (int i = 0; i < f.clients; ++i) {
    samples.push_back(
        std::make_unique<SampleLog>(kMaxWriterSamples / static_cast<size_t>(f.clients)));
    PutOptions o;
    o.keys = &writer_keys;
    o.value = RandomBytes(static_cast<size_t>(f.val_size), f.seed);
    o.samples = samples.back().get();
    o.seed = f.seed * 1'000'003 + static_cast<uint64_t>(i);
    writers.Add(NewPutOp((*writer_conns)[0].get(), o), pool.queue(i + 1));
  }
  writers.Start();
  const int64_t writers_start_ns = writers.start_ns();
  if (f.baseline > absl::ZeroDuration()) {
    Progress progress(ProgressSpec{"baseline (writers alone)", [&] { return writers.completed(); },
                                   0, f.baseline, "puts"});
    WaitFor(f.baseline);
  }

  // 3. Setup.
  std::vector<LeaseRecord> records(leases);
  LeasedPutOptions setup_options;
  setup_options.ttl_s = f.lease_ttl_s;
  setup_options.key_prefix = prefix;
  setup_options.value = RandomBytes(static_cast<size_t>(f.val_size), f.seed + 1);
  setup_options.records = &records;
  RunLimits setup_limits;
  setup_limits.total = leases;
  setup_limits.request_timeout = f.request_timeout;
  const int64_t setup_start_ns = NowNs();
  if (f.expire_together) setup_options.expire_at_ns = setup_start_ns + f.lease_ttl_s * 1'000'000'000;
  RunResult setup;
  if (!Interrupted()) {
    setup = RunOps(setup_limits, f.setup_clients, *conns, &pool, "lease grant+put",
                   [&](int, Conn* conn) { return NewLeasedPutOp(conn, setup_options); });
  }
  const int64_t setup_end_ns = NowNs();
  uint64_t granted = 0, attached = 0;
  int64_t ttl_min = 0, ttl_max = 0;
  for (const LeaseRecord& r : records) {
    if (r.granted_ns == 0) continue;
    ttl_min = granted == 0 ? r.ttl_s : std::min(ttl_min, r.ttl_s);
    ttl_max = std::max(ttl_max, r.ttl_s);
    ++granted;
    if (r.key_put) ++attached;
  }
  const std::string granted_ttl =
      ttl_min == ttl_max ? absl::StrCat(ttl_min) : absl::StrCat(ttl_min, "..", ttl_max);
  std::cout << absl::StrFormat(
                   "Setup: %d leases granted (TTL %s s as granted), %d keys attached in %.4f secs "
                   "(%.1f/s; grant+put p50 %s ms, p99 %s ms)%s\n",
                   granted, granted_ttl, attached, setup.elapsed_s,
                   setup.elapsed_s > 0 ? static_cast<double>(attached) / setup.elapsed_s : 0.0,
                   FormatMs(static_cast<double>(setup.latency_ns.Percentile(50)), f.precise),
                   FormatMs(static_cast<double>(setup.latency_ns.Percentile(99)), f.precise),
                   setup.errors.total() > 0 ? absl::StrCat("; ", setup.errors.total(), " failed")
                                            : "")
            << std::flush;

  // 4. Wait for every attached key's DELETE.
  auto all_deleted = [&] {
    if (deletions.deleted() < attached) return false;
    for (size_t i = 0; i < leases; ++i) {
      if (records[i].key_put && deletions.deleted_ns(i) == 0) return false;
    }
    return true;
  };
  const int64_t deadline_ns = setup_end_ns + absl::ToInt64Nanoseconds(f.expiry_timeout);
  bool completed = false, timed_out = false, watch_ended = false;
  if (attached > 0 && !Interrupted()) {
    Progress progress(ProgressSpec{"waiting for expiry", [&] { return deletions.deleted(); },
                                   attached, absl::ZeroDuration(), "keys deleted"});
    for (;;) {
      if (all_deleted()) {
        completed = true;
        break;
      }
      if (Interrupted()) break;
      if (group.finished() > 0) {
        watch_ended = true;
        break;
      }
      if (NowNs() >= deadline_ns) {
        timed_out = true;
        break;
      }
      std::this_thread::sleep_for(kPollInterval);
    }
  }

  // 5. Stop everything, then compute.
  const int64_t writers_stop_ns = NowNs();
  writers.Stop();
  writers.Wait();
  writers.Close();
  const RunResult writes = writers.Collect();
  stream.Cancel();
  group.WaitFinished(1);
  pool.Shutdown();

  std::vector<LeaseOutcome> outcomes(leases);
  for (size_t i = 0; i < leases; ++i) {
    const LeaseRecord& r = records[i];
    outcomes[i].due_ns = r.granted_ns == 0 ? 0 : r.granted_ns + r.ttl_s * 1'000'000'000;
    outcomes[i].key_attached = r.key_put;
    outcomes[i].deleted_ns = deletions.deleted_ns(i);
  }
  const ExpiryTimeline t = ComputeExpiryTimeline(outcomes);

  std::vector<const SampleLog*> logs;
  uint64_t samples_dropped = 0;
  for (const auto& s : samples) {
    logs.push_back(s.get());
    samples_dropped += s->dropped();
  }
  std::vector<NamedWindow> windows;
  auto add_window = [&](const std::string& name, int64_t from, int64_t to) {
    if (to > from) windows.push_back({name, SummarizeWindow(logs, from, to)});
  };
  if (f.baseline > absl::ZeroDuration()) add_window("baseline", writers_start_ns, setup_start_ns);
  add_window("setup", setup_start_ns, setup_end_ns);
  if (t.deleted == 0) {
    add_window("after setup", setup_end_ns, writers_stop_ns);
  } else {
    add_window("before storm", setup_end_ns, t.first_deleted_ns);
    add_window("storm", t.first_deleted_ns, t.last_deleted_ns + 1);
    if (setup_end_ns > t.first_deleted_ns) {
      add_window("storm after setup", setup_end_ns, t.last_deleted_ns + 1);
    }
  }
  auto find_window = [&](const std::string& name) -> const WindowStats* {
    for (const auto& w : windows) {
      if (w.name == name && w.stats.latency_ns.count() > 0) return &w.stats;
    }
    return nullptr;
  };

  // Text report. Times are from the start of setup (the first grant).
  const int64_t origin = setup_start_ns;
  std::string text = "\nExpiry (times in s from the start of setup):\n";
  absl::StrAppend(&text, absl::StrFormat("  Keys deleted:\t%d of %d (%d missing)\n", t.deleted,
                                         t.expected, t.missing));
  if (t.unexpected > 0 || deletions.foreign() > 0 || deletions.duplicates() > 0) {
    absl::StrAppend(&text,
                    absl::StrFormat("  Also deleted:\t%d keys whose put had failed; %d unknown "
                                    "keys; %d second deletions\n",
                                    t.unexpected, deletions.foreign(), deletions.duplicates()));
  }
  if (t.expected > 0) {
    absl::StrAppend(&text, absl::StrFormat("  Leases due:\t%.3f .. %.3f (over %.3f s, %.1f/s)\n",
                                           At(t.first_due_ns, origin), At(t.last_due_ns, origin),
                                           t.due_span_s(), t.due_per_s()));
  }
  if (t.deleted > 0) {
    absl::StrAppend(
        &text,
        absl::StrFormat("  Deletions:\t%.3f .. %.3f (first to last: %.3f s)\n",
                        At(t.first_deleted_ns, origin), At(t.last_deleted_ns, origin), t.storm_s()),
        absl::StrFormat("  Revocations/sec:\t%.1f overall; peak %d (second %d after the first "
                        "deletion); busiest sliding 1-s window %d (from %.3f)\n",
                        t.per_s(), t.peak_second, t.peak_second_index + 1, t.peak_sliding_1s,
                        At(t.peak_sliding_1s_start_ns, origin)));
  }
  if (t.lateness_ns.count() > 0) {
    absl::StrAppend(
        &text, absl::StrFormat("  Lateness (deletion seen - (grant acknowledged + TTL)):\n"
                               "    min %s, p50 %s, p90 %s, p99 %s, max %s (%d seen before due)\n",
                               Seconds(t.min_lateness_ns),
                               Seconds(static_cast<int64_t>(t.lateness_ns.Percentile(50))),
                               Seconds(static_cast<int64_t>(t.lateness_ns.Percentile(90))),
                               Seconds(static_cast<int64_t>(t.lateness_ns.Percentile(99))),
                               Seconds(t.max_lateness_ns), t.early));
  }
  absl::StrAppend(&text, "\nWriters (", f.clients, " clients",
                  f.rate_per_s > 0 ? absl::StrCat(", ", f.rate_per_s, " puts/s asked") : "",
                  "; put latency by window, times from the start of setup):\n",
                  WindowTable(windows, origin, f.precise));
  const WindowStats* baseline = find_window("baseline");
  const WindowStats* storm = find_window("storm");
  nlohmann::json vs = nullptr;
  if (baseline != nullptr && storm != nullptr) {
    auto ratio = [](uint64_t a, uint64_t b) {
      return b > 0 ? static_cast<double>(a) / static_cast<double>(b) : 0.0;
    };
    vs = {{"p50", ratio(storm->latency_ns.Percentile(50), baseline->latency_ns.Percentile(50))},
          {"p99", ratio(storm->latency_ns.Percentile(99), baseline->latency_ns.Percentile(99))},
          {"max", ratio(storm->latency_ns.max(), baseline->latency_ns.max())},
          {"per_s", baseline->per_s() > 0 ? storm->per_s() / baseline->per_s() : 0.0}};
    absl::StrAppend(&text, absl::StrFormat("  Storm vs baseline: p50 x%.2f, p99 x%.2f, max x%.2f, "
                                           "puts/s x%.2f\n",
                                           vs["p50"].get<double>(), vs["p99"].get<double>(),
                                           vs["max"].get<double>(), vs["per_s"].get<double>()));
  }
  if (samples_dropped > 0) {
    absl::StrAppend(&text, absl::StrFormat("  (%d samples past the %d kept were not windowed)\n",
                                           samples_dropped, kMaxWriterSamples));
  }
  absl::StrAppend(&text, writes.errors.Format());

  std::string failure;
  if (attached == 0 && !Interrupted()) {
    failure = "no key could be attached to a lease";
  } else if (timed_out) {
    failure = absl::StrFormat("only %d of %d keys deleted within %s after setup (gave up)",
                              t.deleted - t.unexpected, t.expected,
                              absl::FormatDuration(f.expiry_timeout));
  } else if (watch_ended) {
    failure = absl::StrCat("the watch stream ended: ", DescribeStatus(stream.status()),
                           stream.cancel_reason().empty() ? "" : " ", stream.cancel_reason());
  }
  std::cout << text << setup.errors.Format()
            << (Interrupted() ? "\n(interrupted: the run ended early)\n" : "") << std::flush;
  if (!failure.empty()) std::cerr << "keel-bench: lease-expiry: " << failure << std::endl;

  if (!f.json_path.empty()) {
    nlohmann::json j = JsonEnvelope(f, *endpoints);
    nlohmann::json r;
    r["completed"] = completed;
    r["timed_out"] = timed_out;
    r["watch_ended"] = watch_ended;
    r["interrupted"] = Interrupted();
    r["failure"] = failure;
    r["key_prefix_of_run"] = prefix;

    LatencyReport setup_report;
    setup_report.latency_ns = &setup.latency_ns;
    setup_report.elapsed_s = setup.elapsed_s;
    setup_report.completed = setup.latency_ns.count();
    setup_report.errors = &setup.errors;
    nlohmann::json s = LatencyReportJson(setup_report);
    s["leases_granted"] = granted;
    s["keys_attached"] = attached;
    s["granted_ttl_s_min"] = ttl_min;
    s["granted_ttl_s_max"] = ttl_max;
    s["end_s"] = At(setup_end_ns, origin);
    r["setup"] = s;

    nlohmann::json e;
    e["expected"] = t.expected;
    e["deleted"] = t.deleted;
    e["missing"] = t.missing;
    e["unexpected"] = t.unexpected;
    e["foreign"] = deletions.foreign();
    e["duplicates"] = deletions.duplicates();
    e["first_due_s"] = At(t.first_due_ns, origin);
    e["last_due_s"] = At(t.last_due_ns, origin);
    e["due_span_s"] = t.due_span_s();
    e["due_per_s"] = t.due_per_s();
    if (t.deleted > 0) {
      e["first_deletion_s"] = At(t.first_deleted_ns, origin);
      e["last_deletion_s"] = At(t.last_deleted_ns, origin);
      e["peak_1s_from_s"] =
          At(t.first_deleted_ns, origin) + static_cast<double>(t.peak_second_index);
      e["peak_sliding_1s_from_s"] = At(t.peak_sliding_1s_start_ns, origin);
    }
    e["storm_s"] = t.storm_s();
    e["per_s"] = t.per_s();
    e["peak_1s_per_s"] = t.peak_second;
    e["peak_sliding_1s_per_s"] = t.peak_sliding_1s;
    e["lateness_ms"] = {{"min", static_cast<double>(t.min_lateness_ns) / 1e6},
                        {"p50", Ms(t.lateness_ns.Percentile(50))},
                        {"p90", Ms(t.lateness_ns.Percentile(90))},
                        {"p99", Ms(t.lateness_ns.Percentile(99))},
                        {"max", static_cast<double>(t.max_lateness_ns) / 1e6},
                        {"mean", t.lateness_ns.Mean() / 1e6},
                        {"count", t.lateness_ns.count()}};
    e["early"] = t.early;
    e["per_second"] = t.per_second;
    r["expiry"] = e;

    LatencyReport writes_report;
    writes_report.latency_ns = &writes.latency_ns;
    writes_report.elapsed_s = writes.elapsed_s;
    writes_report.completed = writes.latency_ns.count();
    writes_report.errors = &writes.errors;
    nlohmann::json w = LatencyReportJson(writes_report);
    w["start_s"] = At(writers_start_ns, origin);
    w["samples_dropped"] = samples_dropped;
    nlohmann::json wj = nlohmann::json::object();
    for (const auto& [name, stats] : windows) wj[name] = WindowJson(stats, origin);
    w["windows"] = wj;
    w["storm_vs_baseline"] = vs;
    r["writers"] = w;
    j["result"] = r;
    if (auto st = WriteJsonFile(f.json_path, j); !st.ok()) {
      return SetupFailed(std::string(st.message()));
    }
  }
  return failure.empty() ? kExitOk : kExitCheckFailed;
}

}  // namespace keel::bench
