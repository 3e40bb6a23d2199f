// ServiceContext: what the gRPC services of one member share. Plain pointers to parts the
// Member owns; the services only decode, call these, and reply.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "etcd/rpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "kv/store.h"
#include "server/alarms.h"
#include "server/applier.h"
#include "server/leader_waits.h"
#include "server/linearizable_reads.h"
#include "server/membership.h"
#include "server/proposer.h"
#include "server/raft_loop.h"
#include "server/server_config.h"

namespace keel::server {

class Lessor;

// The one place an absl::Status becomes a grpc::Status (codes are the same numbers).
inline grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

struct ServiceContext {
  const ServerConfig* config = nullptr;
  uint64_t cluster_id = 0;
  uint64_t member_id = 0;
  kv::MvccStore* store = nullptr;
  RaftLoop* raft = nullptr;
  Applier* applier = nullptr;
  Proposer* proposer = nullptr;
  LinearizableReads* reads = nullptr;
  Alarms* alarms = nullptr;
  Membership* membership = nullptr;
  LeaderWaits* leader_waits = nullptr;
  Lessor* lessor = nullptr;
  // This member as etcdserverpb.Member (id, name, peer and client URLs).
  etcdserverpb::Member self;

  // A learner serves only serializable reads and Status (etcd 3.4).
  bool IsLearner() const { return membership->IsLearner(member_id); }

  void FillHeader(etcdserverpb::ResponseHeader* header, int64_t revision) const {
    header->set_cluster_id(cluster_id);
    header->set_member_id(member_id);
    header->set_revision(revision > 0 ? revision : store->CurrentRevision());
    header->set_raft_term(raft->term());
  }
};

}  // namespace keel::server
