#include "bench/keel_bench/bench.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "bench/keel_bench/bench_common.h"
#include "bench/keel_bench/commands.h"
#include "bench/keel_bench/interrupt.h"
#include "bench/keel_bench/keys.h"
#include "bench/keel_bench/kv_ops.h"

namespace keel::bench {
namespace {

std::string Describe(const BenchFlags& f, const std::vector<std::string>& endpoints) {
  std::string limit;
  if (f.total > 0) absl::StrAppend(&limit, f.total, " requests");
  if (f.duration > absl::ZeroDuration()) {
    absl::StrAppend(&limit, limit.empty() ? "" : " or ", absl::FormatDuration(f.duration));
  }
  return absl::StrCat(CommandName(f.command), ": ", limit, ", ", f.conns, " conns, ", f.clients,
                      " clients",
                      f.rate_per_s > 0 ? absl::StrCat(", rate ", f.rate_per_s, "/s") : "",
                      ", endpoints ", absl::StrJoin(endpoints, ","));
}

int RunKv(const BenchFlags& f) {
  auto endpoints = ResolveEndpoints(f.endpoints, f.target_leader, f.dial_timeout);
  if (!endpoints.ok()) return SetupFailed(std::string(endpoints.status().message()));
  KeyGenerator keys(f.key_prefix, f.key_size, f.key_space_size, f.sequential_keys);
  if (auto st = keys.Validate(); !st.ok()) return SetupFailed(std::string(st.message()));
  auto conns = OpenConns(*endpoints, f.conns, 0, f.dial_timeout);
  if (!conns.ok()) return SetupFailed(std::string(conns.status().message()));

  std::cout << Describe(f, *endpoints) << "\n";
  if (f.command == Command::kRange) {
    std::cout << "bench with " << (f.consistency == 'l' ? "linearizable" : "serializable")
              << " range\n";
  }
  std::cout << std::flush;
  const std::string value = RandomBytes(static_cast<size_t>(f.val_size), f.seed);
  TxnUpdateCounters txn_counters;
  OpFactory factory;
  switch (f.command) {
    case Command::kPut:
      factory = [&](int client, Conn* conn) {
        PutOptions o;
        o.keys = &keys;
        o.value = value;
        o.seed = f.seed * 1'000'003 + static_cast<uint64_t>(client);
        return NewPutOp(conn, o);
      };
      break;
    case Command::kRange:
      factory = [&](int client, Conn* conn) {
        RangeOptions o;
        o.keys = &keys;
        if (f.range_key_set) {
          o.key = f.range_key;
          o.range_end = f.range_end;
        }
        o.serializable = f.consistency == 's';
        o.limit = f.range_limit;
        o.seed = f.seed * 1'000'003 + static_cast<uint64_t>(client);
        return NewRangeOp(conn, o);
      };
      break;
    case Command::kTxnPut:
      factory = [&](int, Conn* conn) { return NewTxnPutOp(conn, &keys, value, f.txn_ops); };
      break;
    case Command::kTxnUpdate:
      factory = [&](int client, Conn* conn) {
        return NewTxnUpdateOp(conn, &keys, value,
                              f.seed * 1'000'003 + static_cast<uint64_t>(client), &txn_counters);
      };
      break;
    default:
      return SetupFailed("not a KV command");
  }
  CqPool pool(CqThreads(f));
  RunResult result = RunClients(f, *conns, &pool, CommandName(f.command), factory);
  pool.Shutdown();

  nlohmann::json extra = nlohmann::json::object();
  std::string extra_text;
  if (f.command == Command::kTxnUpdate) {
    const uint64_t txns = txn_counters.txns.load();
    const uint64_t conflicts = txn_counters.conflicts.load();
    extra["txns"] = txns;
    extra["conflicts"] = conflicts;
    extra_text = absl::StrFormat(
        "\nTxn-update: %d updates, %d txns, %d conflicts (compare on mod_revision failed, "
        "retried)\n",
        result.latency_ns.count(), txns, conflicts);
  }
  return ReportRun(f, *endpoints, result, extra, extra_text);
}

}  // namespace

int RunBench(const BenchFlags& flags) {
  // Debian's abseil checks every absl::Mutex acquisition for lock-order cycles; gRPC takes
  // several per call, and the check cost ~6% of keel-bench's CPU in a put run.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  InstallInterruptHandler();
  switch (flags.command) {
    case Command::kPut:
    case Command::kRange:
    case Command::kTxnPut:
    case Command::kTxnUpdate:
      return RunKv(flags);
    case Command::kWatch:
      return RunWatch(flags);
    case Command::kWatchGet:
      return RunWatchGet(flags);
    case Command::kLeaseKeepalive:
      return RunLeaseKeepalive(flags);
    case Command::kLeaseGrant:
      return RunLeaseGrant(flags);
    case Command::kLeaseExpiry:
      return RunLeaseExpiry(flags);
  }
  return kExitUsage;
}

}  // namespace keel::bench
