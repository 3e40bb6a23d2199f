// The etcd Cluster service (etcdserverpb.Cluster): the member list, and membership changes
// proposed through raft as conf changes.
#pragma once

#include "etcd/rpc.grpc.pb.h"
#include "server/service_context.h"

namespace keel::server {

class ClusterService final : public etcdserverpb::Cluster::CallbackService {
 public:
  explicit ClusterService(const ServiceContext* ctx) : ctx_(ctx) {}

  grpc::ServerUnaryReactor* MemberList(grpc::CallbackServerContext* context,
                                       const etcdserverpb::MemberListRequest* request,
                                       etcdserverpb::MemberListResponse* response) override;

 private:
  const ServiceContext* ctx_;
};

}  // namespace keel::server
