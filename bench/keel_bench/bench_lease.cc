// lease-keepalive: grant --leases leases, then --clients keep-alive streams do round trips as
// fast as they can (or at --rate). Against a server without leases (Keel today) the grant
// fails and the command stops there with the gRPC error.
//
// lease-grant: --clients clients grant leases of --lease-ttl as fast as they can (or at
// --rate) for --total grants or --duration; then, unless --keep-leases, the same number of
// clients revoke every lease granted. The report is the grants'; the revocation adds a line
// (and "revoke" in --json).
#include <algorithm>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "bench/keel_bench/bench.h"
#include "bench/keel_bench/bench_common.h"
#include "bench/keel_bench/commands.h"
#include "bench/keel_bench/interrupt.h"
#include "bench/keel_bench/lease_ops.h"
#include "bench/keel_bench/report.h"

namespace keel::bench {

int RunLeaseKeepalive(const BenchFlags& f) {
  auto endpoints = ResolveEndpoints(f.endpoints, f.target_leader, f.dial_timeout);
  if (!endpoints.ok()) return SetupFailed(std::string(endpoints.status().message()));
  auto conns = OpenConns(*endpoints, f.conns, 0, f.dial_timeout);
  if (!conns.ok()) return SetupFailed(std::string(conns.status().message()));

  auto leases = GrantLeases((*conns)[0].get(), f.leases, f.lease_ttl_s, f.request_timeout);
  if (!leases.ok()) {
    return SetupFailed(
        absl::StrCat("lease-keepalive: cannot grant leases: ", leases.status().message()));
  }
  std::cout << "lease-keepalive: " << leases->size() << " leases (TTL " << f.lease_ttl_s << " s), "
            << (f.total > 0 ? absl::StrCat(f.total, " keep-alives") : "")
            << (f.duration > absl::ZeroDuration()
                    ? absl::StrCat(" ", absl::FormatDuration(f.duration))
                    : "")
            << ", " << f.conns << " conns, " << f.clients << " clients, endpoints "
            << absl::StrJoin(*endpoints, ",") << std::endl;

  CqPool pool(CqThreads(f));
  RunResult result = RunClients(f, *conns, &pool, "lease-keepalive", [&](int client, Conn* conn) {
    return NewLeaseKeepAliveOp(conn, (*leases)[static_cast<size_t>(client) % leases->size()]);
  });
  pool.Shutdown();
  const int revoked = RevokeLeases((*conns)[0].get(), *leases, f.request_timeout);
  nlohmann::json extra;
  extra["leases"] = leases->size();
  extra["revoked"] = revoked;
  return ReportRun(f, *endpoints, result, extra);
}

int RunLeaseGrant(const BenchFlags& f) {
  auto endpoints = ResolveEndpoints(f.endpoints, f.target_leader, f.dial_timeout);
  if (!endpoints.ok()) return SetupFailed(std::string(endpoints.status().message()));
  auto conns = OpenConns(*endpoints, f.conns, 0, f.dial_timeout);
  if (!conns.ok()) return SetupFailed(std::string(conns.status().message()));

  std::string limit;
  if (f.total > 0) absl::StrAppend(&limit, f.total, " grants");
  if (f.duration > absl::ZeroDuration()) {
    absl::StrAppend(&limit, limit.empty() ? "" : " or ", absl::FormatDuration(f.duration));
  }
  std::cout << "lease-grant: " << limit << " of TTL " << f.lease_ttl_s << " s, " << f.conns
            << " conns, " << f.clients << " clients"
            << (f.rate_per_s > 0 ? absl::StrCat(", rate ", f.rate_per_s, "/s") : "")
            << (f.keep_leases ? ", leases kept" : ", revoked at the end") << ", endpoints "
            << absl::StrJoin(*endpoints, ",") << std::endl;

  CqPool pool(CqThreads(f));
  std::vector<std::vector<int64_t>> granted(static_cast<size_t>(f.clients));
  RunResult result = RunClients(f, *conns, &pool, "lease-grant", [&](int client, Conn* conn) {
    return NewLeaseGrantOp(conn, f.lease_ttl_s, &granted[static_cast<size_t>(client)]);
  });
  std::vector<int64_t> ids;
  for (const auto& g : granted) ids.insert(ids.end(), g.begin(), g.end());

  nlohmann::json extra;
  extra["leases_granted"] = ids.size();
  std::string extra_text;
  if (f.keep_leases || ids.empty()) {
    extra["revoke"] = nullptr;
    if (!ids.empty()) {
      extra_text = absl::StrFormat("\nLeases kept: %d (they expire after %d s)\n", ids.size(),
                                   f.lease_ttl_s);
    }
  } else if (Interrupted()) {
    extra["revoke"] = nullptr;
    extra_text = absl::StrFormat("\nNot revoked (interrupted): %d leases expire after %d s\n",
                                 ids.size(), f.lease_ttl_s);
  } else {
    RunLimits limits;
    limits.total = ids.size();
    limits.request_timeout = f.request_timeout;
    const int clients =
        static_cast<int>(std::min<size_t>(static_cast<size_t>(f.clients), ids.size()));
    RunResult revoke = RunOps(limits, clients, *conns, &pool, "revoking",
                              [&](int, Conn* conn) { return NewLeaseRevokeOp(conn, &ids); });
    const uint64_t revoked = revoke.latency_ns.count();
    LatencyReport report;
    report.latency_ns = &revoke.latency_ns;
    report.elapsed_s = revoke.elapsed_s;
    report.completed = revoked;
    report.errors = &revoke.errors;
    extra["revoke"] = LatencyReportJson(report);
    extra["revoke"]["requested"] = ids.size();
    extra_text = absl::StrFormat(
        "\nRevoke: %d of %d leases revoked in %.4f secs (%.1f/s, p50 %s ms, p99 %s ms, %d "
        "clients)\n",
        revoked, ids.size(), revoke.elapsed_s,
        revoke.elapsed_s > 0 ? static_cast<double>(revoked) / revoke.elapsed_s : 0.0,
        FormatMs(static_cast<double>(revoke.latency_ns.Percentile(50)), f.precise),
        FormatMs(static_cast<double>(revoke.latency_ns.Percentile(99)), f.precise), clients);
    if (revoke.errors.total() > 0) {
      absl::StrAppend(&extra_text, absl::StrReplaceAll(revoke.errors.Format(),
                                                       {{"\nError", "Revoke error"}}));
    }
  }
  pool.Shutdown();
  return ReportRun(f, *endpoints, result, extra, extra_text);
}

}  // namespace keel::bench
