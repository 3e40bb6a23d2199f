// The etcd Cluster service (etcdserverpb.Cluster): the member list, and membership changes
// proposed through raft (add, remove, promote as conf changes; update as a request), with
// etcd 3.4's rules and errors (ETCD-REFERENCE.md §1.5, docs/cluster.md).
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
  grpc::ServerUnaryReactor* MemberAdd(grpc::CallbackServerContext* context,
                                      const etcdserverpb::MemberAddRequest* request,
                                      etcdserverpb::MemberAddResponse* response) override;
  grpc::ServerUnaryReactor* MemberRemove(grpc::CallbackServerContext* context,
                                         const etcdserverpb::MemberRemoveRequest* request,
                                         etcdserverpb::MemberRemoveResponse* response) override;
  grpc::ServerUnaryReactor* MemberUpdate(grpc::CallbackServerContext* context,
                                         const etcdserverpb::MemberUpdateRequest* request,
                                         etcdserverpb::MemberUpdateResponse* response) override;
  grpc::ServerUnaryReactor* MemberPromote(grpc::CallbackServerContext* context,
                                          const etcdserverpb::MemberPromoteRequest* request,
                                          etcdserverpb::MemberPromoteResponse* response) override;

 private:
  void FillHeader(etcdserverpb::ResponseHeader* header) const;
  // Completes a membership change: header and member list on success, the error otherwise.
  template <typename Response>
  WaitRegistry::Callback ReplyWithMembers(grpc::ServerUnaryReactor* reactor,
                                          Response* response) const;

  const ServiceContext* ctx_;
};

}  // namespace keel::server
