// Cluster: a set of SimNodes wired through one SimNetwork, in virtual time, plus the client
// operations a scenario performs on them. Single-threaded and deterministic: everything that
// varies comes from the seed in ClusterOptions.
//
// Membership changes are carried out as they are applied: the first node to apply the
// addition of an unknown id creates that node, with an empty store, so it learns the
// configuration from the leader (which must send it a snapshot: the log below the bootstrap
// snapshot never existed). The first node to apply the removal of a node shuts that node down
// for good, as etcd does with a removed member. Both happen after the current step, never in
// the middle of another node's Ready.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "raft/config.h"
#include "tests/raft/sim/checker.h"
#include "tests/raft/sim/driver.h"
#include "tests/raft/sim/network.h"
#include "tests/raft/sim/node.h"
#include "tests/raft/sim/random.h"

namespace keel::raft::sim {

struct ClusterOptions {
  uint64_t seed = 1;
  int initial_nodes = 3;
  // Template for every node's raft Config (id, store, applied index and seed are filled in).
  Config raft;
  NetworkOptions network;
  DriverOptions driver;
  // Check safety properties (off only in benchmarks).
  bool check_safety = true;
  // A crashed node stays down for a number of ticks in this range.
  uint64_t min_down_ticks = 1;
  uint64_t max_down_ticks = 30;
  // Log events to stdout.
  bool verbose = false;
};

class Cluster : public DriverHost {
 public:
  explicit Cluster(const ClusterOptions& options);
  ~Cluster() override;

  // One tick of virtual time: delivers the messages now due, then ticks every up node.
  void Tick();
  // Delivers every message due now (including ones sent with no delay while delivering).
  void DeliverDue();
  uint64_t now() const { return now_; }

  SimNode* node(NodeId id);
  const std::map<NodeId, std::unique_ptr<SimNode>>& nodes() const { return nodes_; }
  // Members that are running / crashed (removed members are neither).
  std::vector<NodeId> UpNodes() const;
  std::vector<NodeId> DownNodes() const;
  // The running node that says it leads, with the highest term; kNone when there is none.
  NodeId Leader() const;

  // Every node's state, one line each, for failure reports in --verbose.
  std::string Describe() const;

  // Faults.
  void Crash(NodeId id);
  void ArmCrash(NodeId id, CrashPoint point);
  void Restart(NodeId id);

  // Client operations; each drives the node's Ready batches afterwards.
  absl::Status Propose(NodeId id, std::string data);
  // Proposes every payload, then drives the node once: one Ready for the whole batch.
  // as_one_message: one RawNode::ProposeBatch call (one append, one broadcast); otherwise one
  // RawNode::Propose per entry (a broadcast per call).
  absl::Status ProposeBatch(NodeId id, std::vector<Bytes> batch, bool as_one_message = false);
  void ReadIndex(NodeId id);
  absl::Status ProposeConfChange(NodeId id, const ConfChange& cc);
  void TransferLeadership(NodeId leader, NodeId transferee);
  void Campaign(NodeId id);
  // An id no node has had.
  NodeId NewNodeId() { return next_node_id_++; }

  // The liveness phase: the index at which `data` was first applied, once it was.
  void WatchFor(std::string data);
  std::optional<uint64_t> watched_index() const { return watched_index_; }
  // Whether a majority of the voters (as the most advanced running node sees them) applied
  // `index`.
  bool QuorumApplied(uint64_t index) const;

  SimNetwork& network() { return network_; }
  const SimNetwork& network() const { return network_; }
  SafetyChecker& checker() { return checker_; }
  const SafetyChecker& checker() const { return checker_; }
  const Driver& driver() const { return driver_; }
  Driver& driver() { return driver_; }
  bool ok() const { return checker_.ok(); }
  uint64_t crashes() const { return crashes_; }
  uint64_t conf_changes_applied() const { return conf_changes_applied_; }

  // DriverHost.
  void Send(SimNode& from, const Message& message) override;
  void OnApplied(SimNode& node, const Entry& entry) override;
  void OnConfChangeApplied(SimNode& node, const ConfChange& cc) override;
  void OnCrashed(SimNode& node) override;

 private:
  void Drive(SimNode& node) { driver_.HandleReadies(node); }
  void Deliver(const Envelope& envelope);
  // Creates and removes nodes as decided by conf changes applied during the step.
  void Settle();
  void Start(SimNode& node);
  template <typename... Args>
  void Log(const Args&... args);

  ClusterOptions options_;
  SimRandom random_;
  SimRandom network_random_;
  SimRandom driver_random_;
  SafetyChecker checker_;
  SimNetwork network_;
  Driver driver_;
  std::map<NodeId, std::unique_ptr<SimNode>> nodes_;
  uint64_t now_ = 0;
  NodeId next_node_id_ = 1;
  uint64_t next_read_ = 0;
  std::set<NodeId> pending_adds_;
  std::set<NodeId> pending_removals_;
  std::string watch_data_;
  std::optional<uint64_t> watched_index_;
  uint64_t crashes_ = 0;
  uint64_t conf_changes_applied_ = 0;
};

}  // namespace keel::raft::sim
