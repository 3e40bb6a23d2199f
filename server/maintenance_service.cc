#include "server/maintenance_service.h"

#include <chrono>

#include "base/etcd_errors.h"

namespace keel::server {

void MaintenanceService::Status(UnaryContext* context, const etcdserverpb::StatusRequest* request,
                                etcdserverpb::StatusResponse* response) {
  ctx_->FillHeader(response->mutable_header(), 0);
  response->set_version(kEtcdApiVersion);
  response->set_dbsize(ctx_->store->DbSizeBytes());
  response->set_dbsizeinuse(ctx_->store->DbSizeInUseBytes());
  response->set_leader(ctx_->raft->leader());
  response->set_raftindex(ctx_->raft->commit_index());
  response->set_raftterm(ctx_->raft->term());
  response->set_raftappliedindex(ctx_->applier->applied_index());
  etcdserverpb::AlarmResponse alarms = ctx_->alarms->List();
  for (const auto& alarm : alarms.alarms()) {
    if (alarm.alarm() == etcdserverpb::NOSPACE) {
      response->add_errors("memberID:" + std::to_string(alarm.memberid()) + " alarm:NOSPACE ");
    }
  }
  response->set_islearner(ctx_->IsLearner());
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
}

void MaintenanceService::Alarm(UnaryContext* context, const etcdserverpb::AlarmRequest* request,
                               etcdserverpb::AlarmResponse* response) {
  auto* reactor = context->DefaultReactor();
  // Every action goes through raft, as in etcd, so a list reflects all applied changes.
  serverpb::Request req;
  *req.mutable_alarm() = *request;
  ctx_->proposer->Propose(std::move(req), [ctx = ctx_, response, reactor](ApplyResult r) {
    if (!r.status.ok()) {
      reactor->Finish(ToGrpc(r.status));
      return;
    }
    response->CopyFrom(*r.response);
    // etcd 3.4 answers Alarm without a header (`etcdctl alarm list -w json` prints {}); 3.5
    // added one. 3.4 is the reference, so no header.
    response->clear_header();
    reactor->Finish(grpc::Status::OK);
  });
}

void MaintenanceService::HashKV(UnaryContext* context, const etcdserverpb::HashKVRequest* request,
                                etcdserverpb::HashKVResponse* response) {
  auto* reactor = context->DefaultReactor();
  auto hash = ctx_->store->HashKV(request->revision());
  if (!hash.ok()) {
    reactor->Finish(ToGrpc(hash.status()));
    return;
  }
  ctx_->FillHeader(response->mutable_header(), hash->current_revision);
  response->set_hash(hash->hash);
  response->set_compact_revision(hash->compact_revision);
  reactor->Finish(grpc::Status::OK);
}

void MaintenanceService::MoveLeader(UnaryContext* context,
                                    const etcdserverpb::MoveLeaderRequest* request,
                                    etcdserverpb::MoveLeaderResponse* response) {
  auto* reactor = context->DefaultReactor();
  if (!ctx_->raft->is_leader()) {
    reactor->Finish(ToGrpc(ErrNotLeader()));
    return;
  }
  auto target = ctx_->membership->Get(request->targetid());
  if (!target || target->islearner()) {
    reactor->Finish(ToGrpc(ErrBadLeaderTransferee()));
    return;
  }
  const uint64_t to = request->targetid();
  if (to == ctx_->member_id) {
    ctx_->FillHeader(response->mutable_header(), 0);
    reactor->Finish(grpc::Status::OK);
    return;
  }
  // etcd waits for the new leader up to its request timeout (5 s + 2 election timeouts).
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(5000 + 2 * ctx_->config->election_timeout_ms);
  ctx_->leader_waits->Add(to, deadline, ErrTimeoutLeaderTransfer(),
                          [ctx = ctx_, reactor, response](absl::Status st) {
                            if (st.ok()) ctx->FillHeader(response->mutable_header(), 0);
                            reactor->Finish(ToGrpc(st));
                          });
  ctx_->raft->Submit([to](raft::RawNode& node) { node.TransferLeadership(to); });
}

}  // namespace keel::server
