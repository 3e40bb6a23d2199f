#include "server/cluster_service.h"

namespace keel::server {

grpc::ServerUnaryReactor* ClusterService::MemberList(grpc::CallbackServerContext* context,
                                                     const etcdserverpb::MemberListRequest* request,
                                                     etcdserverpb::MemberListResponse* response) {
  // etcd's cluster service header carries no revision (cluster_server.go header()).
  auto* header = response->mutable_header();
  header->set_cluster_id(ctx_->cluster_id);
  header->set_member_id(ctx_->member_id);
  header->set_raft_term(ctx_->raft->term());
  for (auto& m : ctx_->membership->List()) *response->add_members() = std::move(m);
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace keel::server
