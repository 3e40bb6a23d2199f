// lease-keepalive: each client keeps one LeaseKeepAlive stream open and does one keep-alive
// round trip (write the lease id, read the answer) per operation. A broken stream is reported
// as that operation's error and reopened by the next one.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "bench/keel_bench/conn.h"
#include "bench/keel_bench/load_runner.h"

namespace keel::bench {

// Grants `n` leases with `ttl_s` on `conn` (synchronously, before the run).
absl::StatusOr<std::vector<int64_t>> GrantLeases(Conn* conn, int n, int64_t ttl_s,
                                                 absl::Duration timeout);
// Best effort; returns how many were revoked.
int RevokeLeases(Conn* conn, const std::vector<int64_t>& ids, absl::Duration timeout);

std::unique_ptr<ClientOp> NewLeaseKeepAliveOp(Conn* conn, int64_t lease_id);

}  // namespace keel::bench
