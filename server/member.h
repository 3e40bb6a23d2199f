// Member: one running keel member. Wires storage, the raft loop, the apply thread, the
// linearizable-read batcher, the gRPC services and the housekeeping timer together; owns
// their lifetimes. It holds no consensus or KV logic of its own.
//
// Threads: the peer transport's, which also runs the raft loop (server/raft_loop.h), apply
// (server/applier.h), a 2-thread executor for snapshot dumps, watch catch-up (watch/hub.h),
// housekeeping (deadlines, auto compaction, raft log compaction, watch progress
// notifications), the RPC loop, which runs every client call and serves the linearizable read
// batches (server/rpc_loop.h), and gRPC's own timer and executor threads.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "base/task_queue.h"
#include "grpcpp/grpcpp.h"
#include "kv/auto_compaction.h"
#include "server/alarms.h"
#include "server/applier.h"
#include "server/cluster_service.h"
#include "server/kv_service.h"
#include "server/lease_service.h"
#include "server/lessor.h"
#include "server/linearizable_reads.h"
#include "server/maintenance_service.h"
#include "server/member_storage.h"
#include "server/membership.h"
#include "server/proposer.h"
#include "server/raft_loop.h"
#include "server/rpc_server.h"
#include "server/server_config.h"
#include "server/service_context.h"
#include "server/transport/peer_transport.h"
#include "server/wait_registry.h"
#include "server/watch_service.h"
#include "watch/history.h"
#include "watch/hub.h"

namespace keel::server {

class Member {
 public:
  // Opens the data dir (bootstrapping it on first start), starts every thread and listens.
  static absl::StatusOr<std::unique_ptr<Member>> Start(const ServerConfig& config);
  ~Member();

  // Graceful stop: in-flight requests get a short grace period, then everything that still
  // waits is failed with "server stopped", then threads are joined and the data dir closed.
  void Stop();

  // The client port actually bound for each --listen-client-urls entry (port 0 picks one).
  const std::vector<int>& client_ports() const { return client_ports_; }
  uint64_t member_id() const { return ctx_.member_id; }
  uint64_t cluster_id() const { return ctx_.cluster_id; }
  // Called once (apply thread) when this member has been removed from the cluster: it must
  // stop, as etcd does. The embedding program decides how (cmd/keel raises SIGTERM).
  void set_on_removed(std::function<void()> on_removed) { on_removed_ = std::move(on_removed); }

 private:
  explicit Member(const ServerConfig& config) : config_(config) {}
  absl::Status Init();
  absl::Status LoadOrBootstrapIdentity();
  absl::Status StartGrpc();
  // Runs a read batch's or a group of replies' task on the RPC loop (inline before the
  // loop has started).
  void RunOnRpcLoop(std::function<void()> task);
  void Housekeeping();
  void MaybeAutoCompact();
  // etcd's publish: once there is a leader, propose this member's name and client URLs so
  // every member lists them. Housekeeping thread.
  void MaybePublishAttributes();
  // The transport is created before the raft loop, which runs on its thread, and started
  // after it.
  absl::Status CreateTransport();
  absl::Status StartTransport();
  // Raft's messages to peers; snapshots get the state attached first (raft thread).
  void SendToPeers(std::vector<raft::Message> messages);
  // A snapshot from the leader replaces the applied state (raft thread; waits for it).
  void RestoreSnapshot(const raft::Snapshot& snapshot);
  // Makes the transport's peers the members of the table (apply thread, at start).
  void SyncPeers();
  void PollPeerFaultFile();
  // A leader asked to stop hands leadership to the most caught-up voter first (etcd's
  // TransferLeadership on shutdown) and waits up to an election timeout for it.
  void HandOverLeadership();
  void OnConfChangeApplied(const raft::ConfChange& cc, uint64_t index);

  ServerConfig config_;
  std::unique_ptr<MemberStorage> storage_;
  std::unique_ptr<Alarms> alarms_;
  std::unique_ptr<Membership> membership_;
  LeaderWaits leader_waits_;  // MoveLeader callers waiting for their target to lead
  std::unique_ptr<WaitRegistry> waits_;
  std::unique_ptr<watch::KvHistory> watch_history_;
  std::unique_ptr<watch::WatchHub> watch_hub_;  // fed by the applier
  // Dumps the state for snapshots sent to peers, off the raft thread.
  std::unique_ptr<TaskQueue> snapshot_executor_;
  std::unique_ptr<Lessor> lessor_;  // lease deadlines, expiry, keep-alive batching
  std::unique_ptr<Applier> applier_;
  std::unique_ptr<RaftLoop> raft_;
  std::unique_ptr<transport::PeerTransport> transport_;
  std::string peer_faults_;  // the fault file's last contents (housekeeping thread)
  std::mutex peers_mu_;
  std::set<uint64_t> peers_;  // guarded by peers_mu_: the transport's peers
  std::unique_ptr<Proposer> proposer_;
  std::unique_ptr<LinearizableReads> reads_;
  std::optional<kv::AutoCompactionPolicy> auto_compaction_;
  std::atomic<uint64_t> last_log_compaction_index_{0};

  ServiceContext ctx_;
  std::unique_ptr<KvService> kv_service_;
  std::unique_ptr<MaintenanceService> maintenance_service_;
  std::unique_ptr<ClusterService> cluster_service_;
  std::unique_ptr<WatchService> watch_service_;
  std::unique_ptr<LeaseService> lease_service_;
  std::unique_ptr<RpcServer> rpc_;  // outlives grpc_server_, whose queue it owns
  // rpc_'s loop once it runs: the apply and raft threads read it.
  std::atomic<RpcLoop*> rpc_loop_{nullptr};
  std::unique_ptr<grpc::Server> grpc_server_;
  std::vector<int> client_ports_;

  std::mutex housekeeping_mu_;
  std::condition_variable housekeeping_cv_;
  bool stopping_ = false;
  std::thread housekeeping_;
  bool stopped_ = false;
  std::atomic<bool> attributes_published_{false};
  std::atomic<bool> attributes_pending_{false};
  std::function<void()> on_removed_;
  // > 0: a member was added at this index; once applied, the leader compacts its log up to
  // it, so the newcomer starts from a snapshot (its conf state is not in the log: the
  // bootstrap membership is written directly, not as conf change entries).
  std::atomic<uint64_t> snapshot_for_new_member_{0};
  std::atomic<int64_t> last_leader_change_ns_{0};  // steady_clock, set by the raft thread
  // A member joining an existing cluster (--initial-cluster-state existing, first start): the
  // peers it was told of, and the promise its first snapshot keeps.
  std::vector<etcdserverpb::Member> join_peers_;
  std::promise<void> joined_;
};

}  // namespace keel::server
