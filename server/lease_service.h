// The etcd Lease service (etcdserverpb.Lease): grant, revoke, keep-alive, time-to-live and
// list. Grants and revocations are proposed and answered from the apply thread; keep-alives
// go through the Lessor, which batches them into renewal proposals (raft forwards a
// follower's to the leader); time-to-live and list wait for a ReadIndex round and then read
// local state, as etcd's linearizableReadNotify does.
#pragma once

#include <mutex>
#include <set>

#include "etcd/rpc.grpc.pb.h"
#include "server/rpc_bidi.h"
#include "server/rpc_unary.h"
#include "server/service_context.h"

namespace keel::server {

// etcd's minimum TTL: ceil(1.5 election timeouts), in seconds, counted in whole heartbeats
// as etcd does ((3 * election ticks) / 2 heartbeats). 2 s with the default timers.
int64_t MinLeaseTtlSeconds(int heartbeat_interval_ms, int election_timeout_ms);
// etcd's MaxLeaseTTL: larger grants fail with "too large lease TTL".
inline constexpr int64_t kMaxLeaseTtlSeconds = 9'000'000'000;

class LeaseService final {
 public:
  explicit LeaseService(const ServiceContext* ctx);

  void LeaseGrant(UnaryContext* context, const etcdserverpb::LeaseGrantRequest* request,
                  etcdserverpb::LeaseGrantResponse* response);
  void LeaseRevoke(UnaryContext* context, const etcdserverpb::LeaseRevokeRequest* request,
                   etcdserverpb::LeaseRevokeResponse* response);
  BidiReactor<etcdserverpb::LeaseKeepAliveRequest, etcdserverpb::LeaseKeepAliveResponse>*
  LeaseKeepAlive(grpc::ServerContext* context);
  void LeaseTimeToLive(UnaryContext* context, const etcdserverpb::LeaseTimeToLiveRequest* request,
                       etcdserverpb::LeaseTimeToLiveResponse* response);
  void LeaseLeases(UnaryContext* context, const etcdserverpb::LeaseLeasesRequest* request,
                   etcdserverpb::LeaseLeasesResponse* response);

  // Ends every open keep-alive stream (Unavailable), for a stopping server.
  void FinishAll();

  class KeepAliveReactor;  // lease_service.cc

 private:
  friend class KeepAliveReactor;
  const ServiceContext* ctx_;
  const int64_t min_ttl_;
  std::mutex mu_;
  std::set<KeepAliveReactor*> reactors_;  // guarded by mu_; a reactor leaves in its OnDone
};

}  // namespace keel::server
