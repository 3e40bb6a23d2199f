// Pieces every command shares: endpoints and connections, the run limits from the flags,
// one closed-loop run with its progress bar, and the report (text on stdout, --json file).
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/keel_bench/conn.h"
#include "bench/keel_bench/cq_pool.h"
#include "bench/keel_bench/flags.h"
#include "bench/keel_bench/load_runner.h"

namespace keel::bench {

int CqThreads(const BenchFlags& flags);
RunLimits LimitsFrom(const BenchFlags& flags);

// The flags as JSON (the "config" object of the results file).
nlohmann::json ConfigJson(const BenchFlags& flags, const std::vector<std::string>& endpoints);

// The results file: {"tool", "command", "finished_at", "config", "result"}.
absl::Status WriteJsonFile(const std::string& path, const nlohmann::json& json);

// Prints "keel-bench: <message>" on stderr and returns kExitSetupFailed.
int SetupFailed(const std::string& message);

// {"tool", "command", "finished_at", "config"}: the results file without its "result".
nlohmann::json JsonEnvelope(const BenchFlags& flags, const std::vector<std::string>& endpoints);

// Builds one ClientOp for client i on connection `conn`.
using OpFactory = std::function<std::unique_ptr<ClientOp>(int client, Conn* conn)>;

// Runs `clients` clients over `conns` (client i on conns[i % size]) and the pool's queues
// until `limits` are reached, with a progress bar labelled `label`.
RunResult RunOps(const RunLimits& limits, int clients,
                 const std::vector<std::unique_ptr<Conn>>& conns, CqPool* pool,
                 const std::string& label, const OpFactory& factory);
// RunOps with the limits and clients of the flags.
RunResult RunClients(const BenchFlags& flags, const std::vector<std::unique_ptr<Conn>>& conns,
                     CqPool* pool, const std::string& label, const OpFactory& factory);

// A note when a --rate run fell short of its rate (too few --clients for the latency), else "".
std::string RateShortfallNote(const BenchFlags& flags, uint64_t completed, double elapsed_s);

// Prints the text report of a finished unary run, writes --json (with `extra` merged into
// "result"), and returns the exit code.
int ReportRun(const BenchFlags& flags, const std::vector<std::string>& endpoints,
              const RunResult& result, const nlohmann::json& extra = nlohmann::json::object(),
              const std::string& extra_text = "");

}  // namespace keel::bench
