// watch: fan-out. --streams streams (on --conns connections) carry --watchers watchers on
// --watched-key-total keys (or, with --watch-prefix, on the range holding them all). Once every
// watcher is created, a putter on its own connection writes the keys round-robin at --put-rate
// with up to --clients puts in flight; each value starts with its send time, so every event
// received gives a delivery latency. After the putter stops, the streams get --drain-timeout to
// catch up with the last acknowledged revision; then every watcher's count is checked against
// the puts acknowledged on its key, and its revisions must have strictly increased.
//
// watch-get: etcd's benchmark of the same name: --watchers watchers replay --events past
// revisions of one key while --clients clients send serializable Range requests.
#include <algorithm>
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
#include "bench/keel_bench/interrupt.h"
#include "bench/keel_bench/keys.h"
#include "bench/keel_bench/kv_ops.h"
#include "bench/keel_bench/progress.h"
#include "bench/keel_bench/report.h"
#include "bench/keel_bench/watch_stream.h"

namespace keel::bench {
namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(5);

// Acknowledged puts per watched key, and the highest revision they produced.
class AckTracker final : public PutAckSink {
 public:
  explicit AckTracker(size_t keys) : acked_(keys), max_revision_(keys) {}

  void OnPutAck(uint64_t key_index, int64_t revision) override {
    acked_[key_index].fetch_add(1, std::memory_order_relaxed);
    StoreMax(&max_revision_[key_index], revision);
    StoreMax(&max_revision_all_, revision);
  }

  uint64_t acked(size_t key) const { return acked_[key].load(); }
  uint64_t acked_all() const {
    uint64_t n = 0;
    for (const auto& a : acked_) n += a.load();
    return n;
  }
  int64_t max_revision(size_t key) const { return max_revision_[key].load(); }
  int64_t max_revision_all() const { return max_revision_all_.load(); }

 private:
  static void StoreMax(std::atomic<int64_t>* target, int64_t v) {
    int64_t cur = target->load(std::memory_order_relaxed);
    while (cur < v && !target->compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
    }
  }
  std::vector<std::atomic<uint64_t>> acked_;
  std::vector<std::atomic<int64_t>> max_revision_;
  std::atomic<int64_t> max_revision_all_{0};
};

// --watchers spread over --streams: stream s gets watchers/streams, the first ones one more.
std::vector<std::vector<WatcherSpec>> SpreadWatchers(int watchers, int streams,
                                                     const std::function<WatcherSpec(int)>& spec) {
  std::vector<std::vector<WatcherSpec>> out(static_cast<size_t>(streams));
  int g = 0;
  for (int s = 0; s < streams; ++s) {
    const int n = watchers / streams + (s < watchers % streams ? 1 : 0);
    for (int i = 0; i < n; ++i) out[static_cast<size_t>(s)].push_back(spec(g++));
  }
  return out;
}

struct Streams {
  WatchGroup group;
  std::vector<std::unique_ptr<WatchStream>> streams;

  uint64_t created() const {
    uint64_t n = 0;
    for (const auto& s : streams) n += s->created();
    return n;
  }
  uint64_t events() const {
    uint64_t n = 0;
    for (const auto& s : streams) n += s->events_received();
    return n;
  }
  void CancelAndWait() {
    for (auto& s : streams) s->Cancel();
    group.WaitFinished(static_cast<int>(streams.size()));
  }
};

// Starts the streams and waits until every watcher is created. On failure, cancels them and
// returns the reason.
absl::Status CreateWatchers(const BenchFlags& f, Streams* st, double* seconds) {
  const int64_t start = NowNs();
  Progress progress(ProgressSpec{"creating watchers", [st] { return st->created(); },
                                 static_cast<uint64_t>(f.watchers), absl::ZeroDuration(),
                                 "watchers"});
  for (auto& s : st->streams) s->Start();
  const auto deadline =
      std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(f.create_timeout);
  bool in_time = false;
  while (!in_time && std::chrono::steady_clock::now() < deadline && !Interrupted()) {
    in_time = st->group.WaitReady(
        static_cast<int>(st->streams.size()),
        std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(100)));
  }
  progress.Finish();
  *seconds = static_cast<double>(NowNs() - start) / 1e9;
  const uint64_t created = st->created();
  if (in_time && created == static_cast<uint64_t>(f.watchers)) return absl::OkStatus();
  std::string why = in_time ? "a stream ended"
                    : Interrupted()
                        ? "interrupted"
                        : absl::StrCat("timed out after ", absl::FormatDuration(f.create_timeout));
  st->CancelAndWait();
  for (const auto& s : st->streams) {
    if (!s->status().ok() && !s->canceled_by_us()) {
      why = absl::StrCat("Watch stream: ", DescribeStatus(s->status()));
      break;
    }
    if (!s->cancel_reason().empty()) {
      why = absl::StrCat("watch canceled: ", s->cancel_reason());
      break;
    }
  }
  return absl::UnavailableError(
      absl::StrCat("only ", created, " of ", f.watchers, " watchers created: ", why));
}

}  // namespace

int RunWatch(const BenchFlags& f) {
  auto endpoints = ResolveEndpoints(f.endpoints, f.target_leader, f.dial_timeout);
  if (!endpoints.ok()) return SetupFailed(std::string(endpoints.status().message()));
  const auto key_count = static_cast<uint64_t>(f.watched_key_total);
  KeyGenerator keys(f.key_prefix, f.key_size, key_count, /*sequential=*/true);
  if (auto s = keys.Validate(); !s.ok()) return SetupFailed(std::string(s.message()));
  auto conns = OpenConns(*endpoints, f.conns, 0, f.dial_timeout);
  if (!conns.ok()) return SetupFailed(std::string(conns.status().message()));
  auto put_conns = OpenConns(*endpoints, 1, f.conns, f.dial_timeout);
  if (!put_conns.ok()) return SetupFailed(std::string(put_conns.status().message()));

  std::cout << absl::StrFormat(
                   "watch: %d watchers on %d streams over %d conns, %d %s; putter: %s%s at %s, "
                   "%d in flight, %d-byte values; endpoints %s\n",
                   f.watchers, f.streams, f.conns, f.watched_key_total,
                   f.watch_prefix ? "keys under one watched prefix" : "watched keys",
                   f.total > 0 ? absl::StrCat(f.total, " puts") : "",
                   f.duration > absl::ZeroDuration()
                       ? absl::StrCat(f.total > 0 ? " or " : "", absl::FormatDuration(f.duration))
                       : "",
                   f.rate_per_s > 0 ? absl::StrCat(f.rate_per_s, " puts/s") : "no rate limit",
                   f.clients, f.val_size, absl::StrJoin(*endpoints, ","))
            << std::flush;

  CqPool pool(CqThreads(f));
  Streams st;
  const std::string prefix_end = keys.PrefixRangeEnd();
  auto spread = SpreadWatchers(f.watchers, f.streams, [&](int g) {
    WatcherSpec w;
    w.key_index = static_cast<uint32_t>(static_cast<uint64_t>(g) % key_count);
    if (f.watch_prefix) {
      // An empty prefix means every key: clientv3 sends key "\0", range_end "\0".
      w.key = keys.prefix().empty() ? std::string(1, '\0') : keys.prefix();
      w.range_end = prefix_end;
    } else {
      w.key = keys.KeyAt(w.key_index);
    }
    return w;
  });
  for (size_t s = 0; s < spread.size(); ++s) {
    st.streams.push_back(std::make_unique<WatchStream>((*conns)[s % conns->size()].get(),
                                                       pool.queue(static_cast<int>(s)),
                                                       std::move(spread[s]), &st.group));
  }
  double create_s = 0;
  if (auto s = CreateWatchers(f, &st, &create_s); !s.ok())
    return SetupFailed(std::string(s.message()));
  std::cout << absl::StrFormat("Watchers created: %d in %.4f secs (%.1f/s)\n", f.watchers, create_s,
                               create_s > 0 ? f.watchers / create_s : 0.0)
            << std::flush;

  // The putter.
  AckTracker acks(key_count);
  LoadRunner runner(LimitsFrom(f));
  for (int i = 0; i < f.clients; ++i) {
    PutOptions o;
    o.keys = &keys;
    o.value = RandomBytes(static_cast<size_t>(f.val_size), f.seed);
    o.stamp_send_time = true;
    o.ack_sink = &acks;
    runner.Add(NewPutOp((*put_conns)[0].get(), o), pool.queue(i));
  }
  const uint64_t watchers_per_put =
      f.watch_prefix ? static_cast<uint64_t>(f.watchers)
                     : static_cast<uint64_t>(f.watchers) / key_count;  // exact when K divides N
  Progress progress(ProgressSpec{"watch events", [&st] { return st.events(); },
                                 f.total > 0 ? f.total * watchers_per_put : 0, f.duration,
                                 "events"});
  runner.Start();
  runner.Wait();
  const int64_t puts_done_ns = NowNs();

  // Drain: every watcher should reach the last acknowledged revision of what it watches.
  auto target_of = [&](const WatcherState& w) {
    return f.watch_prefix ? acks.max_revision_all() : acks.max_revision(w.key_index);
  };
  auto caught_up = [&] {
    for (const auto& s : st.streams) {
      for (size_t i = 0; i < s->watcher_count(); ++i) {
        const WatcherState& w = s->watcher(i);
        if (w.last_revision.load(std::memory_order_relaxed) < target_of(w)) return false;
      }
    }
    return true;
  };
  const auto drain_deadline =
      std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(f.drain_timeout);
  bool drained = caught_up();
  while (!drained && std::chrono::steady_clock::now() < drain_deadline && !Interrupted()) {
    std::this_thread::sleep_for(kPollInterval);
    drained = caught_up();
  }
  const double drain_s = static_cast<double>(NowNs() - puts_done_ns) / 1e9;
  progress.Finish();
  st.CancelAndWait();
  runner.Close();
  pool.Shutdown();
  RunResult puts = runner.Collect();

  // Check every watcher against the puts acknowledged on what it watches.
  uint64_t received = 0, expected = 0, missing = 0, surplus = 0, violations = 0, canceled = 0;
  uint64_t malformed = 0, unknown_ids = 0, broken_streams = 0, responses = 0;
  std::string first_violation, cancel_reason, broken_status;
  int64_t last_event_ns = 0;
  Histogram delivery;
  for (const auto& s : st.streams) {
    for (size_t i = 0; i < s->watcher_count(); ++i) {
      const WatcherState& w = s->watcher(i);
      const uint64_t want = f.watch_prefix ? acks.acked_all() : acks.acked(w.key_index);
      const uint64_t got = w.events.load();
      received += got;
      expected += want;
      if (got < want) missing += want - got;
      if (got > want) surplus += got - want;
    }
    delivery.Merge(s->delivery_latency_ns());
    last_event_ns = std::max(last_event_ns, s->last_event_ns());
    violations += s->order_violations();
    if (first_violation.empty()) first_violation = s->first_violation();
    canceled += s->canceled_watchers();
    if (cancel_reason.empty()) cancel_reason = s->cancel_reason();
    malformed += s->malformed_responses();
    unknown_ids += s->unknown_watch_ids();
    responses += s->responses();
    if (!s->status().ok() && !s->canceled_by_us()) {
      if (broken_streams++ == 0) broken_status = DescribeStatus(s->status());
    }
  }
  const double events_elapsed_s = last_event_ns > runner.start_ns()
                                      ? static_cast<double>(last_event_ns - runner.start_ns()) / 1e9
                                      : 0;
  const double put_elapsed_s = puts.elapsed_s;
  const double offered_per_s =
      put_elapsed_s > 0 ? static_cast<double>(expected) / put_elapsed_s : 0;

  // Text report.
  LatencyReport put_report;
  put_report.latency_ns = &puts.latency_ns;
  put_report.elapsed_s = puts.elapsed_s;
  put_report.completed = puts.latency_ns.count();
  put_report.errors = &puts.errors;
  put_report.precise = f.precise;
  LatencyReport delivery_report;
  delivery_report.unit_name = "Events";
  delivery_report.latency_ns = &delivery;
  delivery_report.elapsed_s = events_elapsed_s;
  delivery_report.completed = received;
  delivery_report.precise = f.precise;

  std::cout << "\nPut (acknowledged by the server):" << FormatLatencyReport(put_report)
            << RateShortfallNote(f, puts.completed, puts.elapsed_s);
  std::cout << absl::StrFormat(
      "\nWatch events:\n"
      "  Received:\t%d events in %d responses (%.4f secs from the first put to the last event)\n"
      "  Expected:\t%d (acknowledged puts x their watchers; %.1f/s offered)\n"
      "  Missing:\t%d%s\n"
      "  Surplus:\t%d (events beyond the acknowledged puts, e.g. of puts that timed out)\n"
      "  Out of order:\t%d%s\n"
      "  Canceled watchers:\t%d%s\n"
      "  Events/sec:\t%.4f\n",
      received, responses, events_elapsed_s, expected, offered_per_s, missing,
      drained ? absl::StrFormat(" (drained in %.4f secs after the last put)", drain_s)
      : Interrupted()
          ? std::string(" (interrupted before the drain ended)")
          : absl::StrFormat(" (not drained within %s)", absl::FormatDuration(f.drain_timeout)),
      surplus, violations, violations > 0 ? absl::StrCat(" (first: ", first_violation, ")") : "",
      canceled, canceled > 0 ? absl::StrCat(" (", cancel_reason, ")") : "",
      events_elapsed_s > 0 ? static_cast<double>(received) / events_elapsed_s : 0.0);
  if (malformed > 0 || unknown_ids > 0) {
    std::cout << absl::StrFormat(
        "  Malformed responses:\t%d; responses for unknown watch ids:\t%d\n", malformed,
        unknown_ids);
  }
  if (broken_streams > 0) {
    std::cout << absl::StrFormat("  Streams ended by the server:\t%d (%s)\n", broken_streams,
                                 broken_status);
  }
  std::cout << "\nDelivery latency (put sent -> event received):"
            << FormatLatencyReport(delivery_report) << std::flush;

  const bool failed = violations > 0 || missing > 0 || canceled > 0 || broken_streams > 0 ||
                      malformed > 0 || puts.latency_ns.count() == 0;
  if (!f.json_path.empty()) {
    nlohmann::json j = JsonEnvelope(f, *endpoints);
    nlohmann::json r;
    r["watchers_created"] = f.watchers;
    r["create_s"] = create_s;
    r["put"] = LatencyReportJson(put_report);
    r["put"]["requests"] = puts.completed;
    nlohmann::json ev;
    ev["received"] = received;
    ev["responses"] = responses;
    ev["expected"] = expected;
    ev["missing"] = missing;
    ev["surplus"] = surplus;
    ev["out_of_order"] = violations;
    ev["first_out_of_order"] = first_violation;
    ev["canceled_watchers"] = canceled;
    ev["cancel_reason"] = cancel_reason;
    ev["malformed_responses"] = malformed;
    ev["unknown_watch_ids"] = unknown_ids;
    ev["streams_ended_by_server"] = broken_streams;
    ev["drained"] = drained;
    ev["drain_s"] = drain_s;
    ev["elapsed_s"] = events_elapsed_s;
    ev["per_s"] = events_elapsed_s > 0 ? static_cast<double>(received) / events_elapsed_s : 0.0;
    ev["offered_per_s"] = offered_per_s;
    r["events"] = ev;
    r["delivery"] = LatencyReportJson(delivery_report);
    r["check_passed"] = !failed;
    r["interrupted"] = Interrupted();
    j["result"] = r;
    if (auto s = WriteJsonFile(f.json_path, j); !s.ok())
      return SetupFailed(std::string(s.message()));
  }
  return failed ? kExitCheckFailed : kExitOk;
}

int RunWatchGet(const BenchFlags& f) {
  auto endpoints = ResolveEndpoints(f.endpoints, f.target_leader, f.dial_timeout);
  if (!endpoints.ok()) return SetupFailed(std::string(endpoints.status().message()));
  auto conns = OpenConns(*endpoints, f.conns, 0, f.dial_timeout);
  if (!conns.ok()) return SetupFailed(std::string(conns.status().message()));
  auto get_conns = OpenConns(*endpoints, 1, f.conns, f.dial_timeout);
  if (!get_conns.ok()) return SetupFailed(std::string(get_conns.status().message()));

  // The history the watchers replay: --events puts of "watchkey" (etcd's key).
  const std::string watch_key = "watchkey";
  int64_t watch_revision = 0;
  for (int i = 0; i < f.watch_get_events; ++i) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     absl::ToChronoNanoseconds(f.request_timeout));
    etcdserverpb::PutRequest req;
    req.set_key(watch_key);
    req.set_value(std::to_string(i));
    etcdserverpb::PutResponse resp;
    grpc::Status s = (*get_conns)[0]->kv->Put(&ctx, req, &resp);
    if (!s.ok()) return SetupFailed(absl::StrCat("watch-get: Put: ", DescribeStatus(s)));
    if (i == 0) watch_revision = resp.header().revision();
  }
  std::cout << absl::StrFormat(
                   "watch-get: %d watchers on %d streams replay %d events from revision %d while "
                   "%d clients send serializable gets; endpoints %s\n",
                   f.watchers, f.streams, f.watch_get_events, watch_revision, f.clients,
                   absl::StrJoin(*endpoints, ","))
            << std::flush;

  CqPool pool(CqThreads(f));
  Streams st;
  auto spread = SpreadWatchers(f.watchers, f.streams, [&](int) {
    WatcherSpec w;
    w.key = watch_key;
    w.start_revision = watch_revision;
    return w;
  });
  for (size_t s = 0; s < spread.size(); ++s) {
    st.streams.push_back(std::make_unique<WatchStream>((*conns)[s % conns->size()].get(),
                                                       pool.queue(static_cast<int>(s)),
                                                       std::move(spread[s]), &st.group));
  }
  LoadRunner runner(LimitsFrom(f));
  for (int i = 0; i < f.clients; ++i) {
    RangeOptions o;
    o.key = "abc";  // as etcd's tool: a key that need not exist
    o.serializable = true;
    runner.Add(NewRangeOp((*get_conns)[0].get(), o), pool.queue(i));
  }
  const uint64_t want =
      static_cast<uint64_t>(f.watchers) * static_cast<uint64_t>(f.watch_get_events);
  Progress progress(ProgressSpec{"watch-get events", [&st] { return st.events(); }, want,
                                 absl::ZeroDuration(), "events"});
  const int64_t start_ns = NowNs();
  for (auto& s : st.streams) s->Start();
  runner.Start();
  auto all_received = [&] {
    for (const auto& s : st.streams) {
      for (size_t i = 0; i < s->watcher_count(); ++i) {
        if (s->watcher(i).events.load(std::memory_order_relaxed) <
            static_cast<uint64_t>(f.watch_get_events)) {
          return false;
        }
      }
    }
    return true;
  };
  const auto deadline = std::chrono::steady_clock::now() +
                        absl::ToChronoNanoseconds(f.create_timeout + f.drain_timeout);
  bool done = all_received();
  while (!done && std::chrono::steady_clock::now() < deadline && !Interrupted()) {
    std::this_thread::sleep_for(kPollInterval);
    done = all_received();
  }
  const double watch_s = static_cast<double>(NowNs() - start_ns) / 1e9;
  runner.Stop();
  runner.Wait();
  progress.Finish();
  st.CancelAndWait();
  runner.Close();
  pool.Shutdown();
  RunResult gets = runner.Collect();

  const uint64_t received = st.events();
  const std::string text =
      absl::StrFormat("\nWatchers: %d of %d events received %s %.4f secs\n", received, want,
                      done ? "in" : "(INCOMPLETE) after", watch_s);
  std::cout << "Get during watch summary:";
  nlohmann::json extra;
  extra["watch_events_received"] = received;
  extra["watch_events_expected"] = want;
  extra["watch_s"] = watch_s;
  extra["watch_complete"] = done;
  const int rc = ReportRun(f, *endpoints, gets, extra, text);
  return done ? rc : kExitCheckFailed;
}

}  // namespace keel::bench
