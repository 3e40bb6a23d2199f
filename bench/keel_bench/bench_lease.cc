// lease-keepalive: grant --leases leases, then --clients keep-alive streams do round trips as
// fast as they can (or at --rate). Against a server without leases (Keel today) the grant
// fails and the command stops there with the gRPC error.
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bench/keel_bench/bench.h"
#include "bench/keel_bench/bench_common.h"
#include "bench/keel_bench/commands.h"
#include "bench/keel_bench/lease_ops.h"

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

}  // namespace keel::bench
