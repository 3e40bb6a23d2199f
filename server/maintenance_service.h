// The etcd Maintenance service: Status, Alarm, HashKV and MoveLeader. Other RPCs answer
// UNIMPLEMENTED until their issues land (Snapshot, Defragment, Hash, Downgrade).
#pragma once

#include "etcd/rpc.grpc.pb.h"
#include "server/rpc_unary.h"
#include "server/service_context.h"

namespace keel::server {

// The etcd API version Keel implements; clients gate features on it.
inline constexpr char kEtcdApiVersion[] = "3.4.23";

class MaintenanceService final {
 public:
  explicit MaintenanceService(const ServiceContext* ctx) : ctx_(ctx) {}

  void Status(UnaryContext* context, const etcdserverpb::StatusRequest* request,
              etcdserverpb::StatusResponse* response);
  void Alarm(UnaryContext* context, const etcdserverpb::AlarmRequest* request,
             etcdserverpb::AlarmResponse* response);
  void HashKV(UnaryContext* context, const etcdserverpb::HashKVRequest* request,
              etcdserverpb::HashKVResponse* response);
  // etcd's rules: only the leader moves leadership, to a voting member; answers once the
  // target leads ("leader transfer took too long" otherwise).
  void MoveLeader(UnaryContext* context, const etcdserverpb::MoveLeaderRequest* request,
                  etcdserverpb::MoveLeaderResponse* response);

 private:
  const ServiceContext* ctx_;
};

}  // namespace keel::server
