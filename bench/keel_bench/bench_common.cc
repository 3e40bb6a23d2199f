#include "bench/keel_bench/bench_common.h"

#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/keel_bench/bench.h"
#include "bench/keel_bench/interrupt.h"
#include "bench/keel_bench/progress.h"
#include "bench/keel_bench/report.h"

namespace keel::bench {

int CqThreads(const BenchFlags& flags) {
  return flags.cq_threads > 0 ? flags.cq_threads : DefaultCqThreads();
}

RunLimits LimitsFrom(const BenchFlags& flags) {
  RunLimits limits;
  limits.total = flags.total;
  limits.duration = flags.duration;
  limits.rate_per_s = flags.rate_per_s;
  limits.request_timeout = flags.request_timeout;
  return limits;
}

nlohmann::json ConfigJson(const BenchFlags& f, const std::vector<std::string>& endpoints) {
  nlohmann::json j;
  j["endpoints"] = endpoints;
  j["conns"] = f.conns;
  j["clients"] = f.clients;
  j["total"] = f.total;
  j["duration_s"] = absl::ToDoubleSeconds(f.duration);
  j["rate_per_s"] = f.rate_per_s;
  j["target_leader"] = f.target_leader;
  j["cq_threads"] = CqThreads(f);
  j["request_timeout_s"] = absl::ToDoubleSeconds(f.request_timeout);
  j["seed"] = f.seed;
  switch (f.command) {
    case Command::kPut:
    case Command::kRange:
    case Command::kTxnPut:
    case Command::kTxnUpdate:
    case Command::kWatch:
      j["key_size"] = f.key_size;
      j["key_prefix"] = f.key_prefix;
      if (f.command != Command::kRange) j["val_size"] = f.val_size;
      if (f.command != Command::kWatch) j["key_space_size"] = f.key_space_size;
      if (f.command != Command::kWatch && f.command != Command::kTxnPut) {
        j["sequential_keys"] = f.sequential_keys;
      }
      break;
    default:
      break;
  }
  if (f.command == Command::kRange) {
    j["consistency"] = std::string(1, f.consistency);
    if (f.range_key_set) {
      j["range_key"] = f.range_key;
      j["range_end"] = f.range_end;
    }
    j["limit"] = f.range_limit;
  }
  if (f.command == Command::kTxnPut) j["txn_ops"] = f.txn_ops;
  if (f.command == Command::kWatch || f.command == Command::kWatchGet) {
    j["watchers"] = f.watchers;
    j["streams"] = f.streams;
    j["drain_timeout_s"] = absl::ToDoubleSeconds(f.drain_timeout);
  }
  if (f.command == Command::kWatch) {
    j["watched_key_total"] = f.watched_key_total;
    j["watch_prefix"] = f.watch_prefix;
  }
  if (f.command == Command::kWatchGet) j["events"] = f.watch_get_events;
  if (f.command == Command::kLeaseKeepalive || f.command == Command::kLeaseExpiry) {
    j["leases"] = f.leases;
  }
  if (f.command == Command::kLeaseKeepalive || f.command == Command::kLeaseGrant ||
      f.command == Command::kLeaseExpiry) {
    j["lease_ttl_s"] = f.lease_ttl_s;
  }
  if (f.command == Command::kLeaseGrant) j["keep_leases"] = f.keep_leases;
  if (f.command == Command::kLeaseExpiry) {
    j.erase("total");
    j.erase("duration_s");
    j["key_prefix"] = f.key_prefix;
    j["val_size"] = f.val_size;
    j["setup_clients"] = f.setup_clients;
    j["baseline_s"] = absl::ToDoubleSeconds(f.baseline);
    j["expiry_timeout_s"] = absl::ToDoubleSeconds(f.expiry_timeout);
  }
  return j;
}

absl::Status WriteJsonFile(const std::string& path, const nlohmann::json& json) {
  std::ofstream out(path);
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  // Keys and values are bytes: replace invalid UTF-8 instead of throwing.
  out << json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

int SetupFailed(const std::string& message) {
  std::cerr << "keel-bench: " << message << std::endl;
  return kExitSetupFailed;
}

nlohmann::json JsonEnvelope(const BenchFlags& flags, const std::vector<std::string>& endpoints) {
  nlohmann::json j;
  j["tool"] = "keel-bench";
  j["command"] = CommandName(flags.command);
  j["finished_at"] = absl::FormatTime(absl::Now(), absl::UTCTimeZone());
  j["config"] = ConfigJson(flags, endpoints);
  return j;
}

RunResult RunOps(const RunLimits& limits, int clients,
                 const std::vector<std::unique_ptr<Conn>>& conns, CqPool* pool,
                 const std::string& label, const OpFactory& factory) {
  LoadRunner runner(limits);
  for (int i = 0; i < clients; ++i) {
    Conn* conn = conns[static_cast<size_t>(i) % conns.size()].get();
    runner.Add(factory(i, conn), pool->queue(i));
  }
  Progress progress(ProgressSpec{label, [&runner] { return runner.completed(); }, limits.total,
                                 limits.duration, "req"});
  runner.Start();
  runner.Wait();
  progress.Finish();
  runner.Close();
  return runner.Collect();
}

RunResult RunClients(const BenchFlags& flags, const std::vector<std::unique_ptr<Conn>>& conns,
                     CqPool* pool, const std::string& label, const OpFactory& factory) {
  return RunOps(LimitsFrom(flags), flags.clients, conns, pool, label, factory);
}

std::string RateShortfallNote(const BenchFlags& flags, uint64_t completed, double elapsed_s) {
  if (flags.rate_per_s <= 0 || elapsed_s <= 0) return "";
  const double achieved = static_cast<double>(completed) / elapsed_s;
  if (achieved >= 0.95 * flags.rate_per_s) return "";
  return absl::StrFormat(
      "\nNote: %.1f requests/s of the %g/s asked: with at most %d in flight (--clients) the "
      "server's latency limits the rate.\n",
      achieved, flags.rate_per_s, flags.clients);
}

int ReportRun(const BenchFlags& flags, const std::vector<std::string>& endpoints,
              const RunResult& result, const nlohmann::json& extra, const std::string& extra_text) {
  LatencyReport report;
  report.latency_ns = &result.latency_ns;
  report.elapsed_s = result.elapsed_s;
  report.completed = result.latency_ns.count();
  report.errors = &result.errors;
  report.precise = flags.precise;
  std::cout << FormatLatencyReport(report)
            << RateShortfallNote(flags, result.completed, result.elapsed_s) << extra_text
            << (Interrupted() ? "\n(interrupted: the run ended early)\n" : "") << std::flush;

  if (!flags.json_path.empty()) {
    nlohmann::json j = JsonEnvelope(flags, endpoints);
    nlohmann::json r = LatencyReportJson(report);
    r["requests"] = result.completed;
    r["interrupted"] = Interrupted();
    for (const auto& [k, v] : extra.items()) r[k] = v;
    j["result"] = r;
    if (auto st = WriteJsonFile(flags.json_path, j); !st.ok()) {
      std::cerr << "keel-bench: " << st.message() << std::endl;
      return kExitSetupFailed;
    }
  }
  return result.latency_ns.count() == 0 ? kExitCheckFailed : kExitOk;
}

}  // namespace keel::bench
