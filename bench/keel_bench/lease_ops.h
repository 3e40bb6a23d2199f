// The clients of the lease commands.
//
// lease-keepalive: each client keeps one LeaseKeepAlive stream open and does one keep-alive
// round trip (write the lease id, read the answer) per operation. A broken stream is reported
// as that operation's error and reopened by the next one.
// lease-grant: one LeaseGrant per operation; the revocation at the end is a run of
// LeaseRevoke operations over the granted ids.
// lease-expiry's setup: one operation = LeaseGrant, then a Put of the lease's key with it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
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

// Grants a lease of `ttl_s` per operation and appends its id to *granted (owned by this client
// alone; read it once the run is closed).
std::unique_ptr<ClientOp> NewLeaseGrantOp(Conn* conn, int64_t ttl_s, std::vector<int64_t>* granted);

// Operation `seq` revokes (*ids)[seq]: run it with --total ids->size().
std::unique_ptr<ClientOp> NewLeaseRevokeOp(Conn* conn, const std::vector<int64_t>* ids);

// One lease of lease-expiry, written by the operation that set it up.
struct LeaseRecord {
  int64_t id = 0;
  int64_t ttl_s = 0;       // as granted by the server (it may raise a TTL below its minimum)
  int64_t granted_ns = 0;  // when the grant's response arrived; 0 = not granted
  bool key_put = false;    // the put of its key with the lease was acknowledged
};

struct LeasedPutOptions {
  int64_t ttl_s = 5;
  std::string key_prefix;  // operation `seq` puts LeaseKey(key_prefix, seq)
  std::string value;
  // One per operation: (*records)[seq] is written by operation `seq` only. Run the operations
  // with --total records->size() and read them once the run is closed.
  std::vector<LeaseRecord>* records = nullptr;
  // > 0: instead of ttl_s, each grant asks for the whole seconds left until this time
  // (NowNs() clock), at least 1, so the leases fall due together.
  int64_t expire_at_ns = 0;
};
std::unique_ptr<ClientOp> NewLeasedPutOp(Conn* conn, const LeasedPutOptions& options);

}  // namespace keel::bench
