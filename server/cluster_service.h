// The etcd Cluster service (etcdserverpb.Cluster): the member list, and membership changes
// proposed through raft (add, remove, promote as conf changes; update as a request), with
// etcd 3.4's rules and errors (ETCD-REFERENCE.md §1.5, docs/cluster.md).
#pragma once

#include "etcd/rpc.grpc.pb.h"
#include "server/rpc_unary.h"
#include "server/service_context.h"

namespace keel::server {

class ClusterService final {
 public:
  explicit ClusterService(const ServiceContext* ctx) : ctx_(ctx) {}

  void MemberList(UnaryContext* context, const etcdserverpb::MemberListRequest* request,
                  etcdserverpb::MemberListResponse* response);
  void MemberAdd(UnaryContext* context, const etcdserverpb::MemberAddRequest* request,
                 etcdserverpb::MemberAddResponse* response);
  void MemberRemove(UnaryContext* context, const etcdserverpb::MemberRemoveRequest* request,
                    etcdserverpb::MemberRemoveResponse* response);
  void MemberUpdate(UnaryContext* context, const etcdserverpb::MemberUpdateRequest* request,
                    etcdserverpb::MemberUpdateResponse* response);
  void MemberPromote(UnaryContext* context, const etcdserverpb::MemberPromoteRequest* request,
                     etcdserverpb::MemberPromoteResponse* response);

 private:
  void FillHeader(etcdserverpb::ResponseHeader* header) const;
  // Completes a membership change: header and member list on success, the error otherwise.
  template <typename Response>
  WaitRegistry::Callback ReplyWithMembers(UnaryReactor* reactor, Response* response) const;

  const ServiceContext* ctx_;
};

}  // namespace keel::server
