#include "server/cluster_service.h"

#include <set>

#include "base/etcd_errors.h"
#include "raft/codec.h"
#include "server/url.h"

namespace keel::server {
namespace {

int Quorum(int voters) { return voters / 2 + 1; }

// etcd's "started" members: those that published their attributes (they have a name).
struct Counts {
  int voters = 0;
  int started_voters = 0;
  int learners = 0;
};

Counts CountMembers(const std::vector<etcdserverpb::Member>& members) {
  Counts c;
  for (const auto& m : members) {
    if (m.islearner()) {
      ++c.learners;
    } else {
      ++c.voters;
      if (!m.name().empty()) ++c.started_voters;
    }
  }
  return c;
}

template <typename Response>
void FillMembers(const ServiceContext* ctx, Response* response) {
  for (auto& m : ctx->membership->List()) *response->add_members() = std::move(m);
}

template <typename Urls>
bool ValidPeerUrls(const Urls& urls) {
  if (urls.empty()) return false;
  for (const auto& u : urls) {
    if (!ParseUrl(u).ok()) return false;
  }
  return true;
}

// Whether a member other than `except` already uses one of `urls`.
template <typename Urls>
bool PeerUrlsInUse(const Membership& membership, const Urls& urls, uint64_t except) {
  std::set<std::string> wanted(urls.begin(), urls.end());
  for (const auto& m : membership.List()) {
    if (m.id() == except) continue;
    for (const auto& u : m.peerurls()) {
      if (wanted.count(u) > 0) return true;
    }
  }
  return false;
}

}  // namespace

template <typename Response>
WaitRegistry::Callback ClusterService::ReplyWithMembers(UnaryReactor* reactor,
                                                        Response* response) const {
  return [this, reactor, response](ApplyResult r) {
    if (r.status.ok()) {
      FillHeader(response->mutable_header());
      FillMembers(ctx_, response);
    }
    reactor->Finish(ToGrpc(r.status));
  };
}

void ClusterService::FillHeader(etcdserverpb::ResponseHeader* header) const {
  // etcd's cluster service header carries no revision (cluster_server.go header()).
  header->set_cluster_id(ctx_->cluster_id);
  header->set_member_id(ctx_->member_id);
  header->set_raft_term(ctx_->raft->term());
}

void ClusterService::MemberList(UnaryContext* context,
                                const etcdserverpb::MemberListRequest* request,
                                etcdserverpb::MemberListResponse* response) {
  FillHeader(response->mutable_header());
  FillMembers(ctx_, response);
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
}

void ClusterService::MemberAdd(UnaryContext* context, const etcdserverpb::MemberAddRequest* request,
                               etcdserverpb::MemberAddResponse* response) {
  auto* reactor = context->DefaultReactor();
  std::vector<std::string> urls(request->peerurls().begin(), request->peerurls().end());
  if (!ValidPeerUrls(urls)) {
    reactor->Finish(ToGrpc(ErrMemberBadURLs()));
    return;
  }
  if (PeerUrlsInUse(*ctx_->membership, urls, /*except=*/0)) {
    reactor->Finish(ToGrpc(ErrPeerURLExist()));
    return;
  }
  Counts c = CountMembers(ctx_->membership->List());
  if (request->islearner() && c.learners >= 1) {  // etcd's --max-learners default
    reactor->Finish(ToGrpc(ErrTooManyLearners()));
    return;
  }
  // etcd's strict reconfiguration check: the started voters must still be a quorum of the
  // larger cluster, or the cluster stalls until the new member starts.
  if (!request->islearner() && c.started_voters < Quorum(c.voters + 1)) {
    reactor->Finish(ToGrpc(ErrMemberNotEnoughStarted()));
    return;
  }
  etcdserverpb::Member added;
  added.set_id(MemberIdFor(urls, ctx_->config->initial_cluster_token));
  for (const auto& u : urls) added.add_peerurls(u);
  added.set_islearner(request->islearner());
  if (ctx_->membership->Get(added.id())) {
    reactor->Finish(ToGrpc(ErrMemberExist()));
    return;
  }
  raft::ConfChange cc;
  cc.type =
      request->islearner() ? raft::ConfChangeType::kAddLearnerNode : raft::ConfChangeType::kAddNode;
  cc.node_id = added.id();
  cc.context = raft::Bytes(added.SerializeAsString());
  *response->mutable_member() = added;  // sent only with an OK status
  ctx_->proposer->ProposeConfChange(std::move(cc), nullptr, ReplyWithMembers(reactor, response));
}

void ClusterService::MemberRemove(UnaryContext* context,
                                  const etcdserverpb::MemberRemoveRequest* request,
                                  etcdserverpb::MemberRemoveResponse* response) {
  auto* reactor = context->DefaultReactor();
  std::vector<etcdserverpb::Member> members = ctx_->membership->List();
  auto target = ctx_->membership->Get(request->id());
  if (!target) {
    reactor->Finish(ToGrpc(ErrMemberNotFound()));
    return;
  }
  Counts c = CountMembers(members);
  if (!target->islearner()) {
    int started_after = c.started_voters - (target->name().empty() ? 0 : 1);
    if (started_after < Quorum(c.voters - 1)) {
      reactor->Finish(ToGrpc(ErrMemberNotEnoughStarted()));
      return;
    }
  }
  raft::ConfChange cc;
  cc.type = raft::ConfChangeType::kRemoveNode;
  cc.node_id = request->id();
  ctx_->proposer->ProposeConfChange(std::move(cc), nullptr, ReplyWithMembers(reactor, response));
}

void ClusterService::MemberUpdate(UnaryContext* context,
                                  const etcdserverpb::MemberUpdateRequest* request,
                                  etcdserverpb::MemberUpdateResponse* response) {
  auto* reactor = context->DefaultReactor();
  if (!ValidPeerUrls(request->peerurls())) {
    reactor->Finish(ToGrpc(ErrMemberBadURLs()));
    return;
  }
  if (!ctx_->membership->Get(request->id())) {
    reactor->Finish(ToGrpc(ErrMemberNotFound()));
    return;
  }
  if (PeerUrlsInUse(*ctx_->membership, request->peerurls(), request->id())) {
    reactor->Finish(ToGrpc(ErrPeerURLExist()));
    return;
  }
  serverpb::Request req;
  *req.mutable_member_update() = *request;
  ctx_->proposer->Propose(std::move(req), ReplyWithMembers(reactor, response));
}

void ClusterService::MemberPromote(UnaryContext* context,
                                   const etcdserverpb::MemberPromoteRequest* request,
                                   etcdserverpb::MemberPromoteResponse* response) {
  auto* reactor = context->DefaultReactor();
  auto target = ctx_->membership->Get(request->id());
  if (!target) {
    reactor->Finish(ToGrpc(ErrMemberNotFound()));
    return;
  }
  if (!target->islearner()) {
    reactor->Finish(ToGrpc(ErrMemberNotLearner()));
    return;
  }
  raft::ConfChange cc;
  cc.type = raft::ConfChangeType::kAddNode;
  cc.node_id = request->id();
  const uint64_t learner = request->id();
  // Only the leader knows how far the learner got (etcd forwards the request to it; here a
  // follower answers "not leader"). etcd's rule: the learner's match index is at least 90%
  // of the leader's.
  auto check = [learner](const raft::Status& status) -> absl::Status {
    if (status.soft_state.role != raft::Role::kLeader) return ErrNotLeader();
    auto self = status.progress.find(status.id);
    auto it = status.progress.find(learner);
    if (self == status.progress.end() || it == status.progress.end() ||
        static_cast<double>(it->second.match) < 0.9 * static_cast<double>(self->second.match)) {
      return ErrLearnerNotReady();
    }
    return absl::OkStatus();
  };
  ctx_->proposer->ProposeConfChange(std::move(cc), check, ReplyWithMembers(reactor, response));
}

}  // namespace keel::server
