#include "tests/raft/sim/cluster.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/check.h"
#include "raft/raft.h"

namespace keel::raft::sim {

Cluster::Cluster(const ClusterOptions& options)
    : options_(options),
      random_(Mix64(options.seed, 1)),
      network_random_(Mix64(options.seed, 2)),
      driver_random_(Mix64(options.seed, 3)),
      network_(options.network, &network_random_),
      driver_(options.driver, &driver_random_, options.check_safety ? &checker_ : nullptr, this) {
  KEEL_CHECK_GE(options.initial_nodes, 1);
  ConfState voters;
  for (int i = 0; i < options.initial_nodes; ++i) voters.voters.push_back(NewNodeId());
  for (NodeId id : voters.voters) {
    auto node = std::make_unique<SimNode>(id);
    node->Bootstrap(voters);
    nodes_.emplace(id, std::move(node));
  }
  for (auto& [id, node] : nodes_) Start(*node);
}

Cluster::~Cluster() = default;

template <typename... Args>
void Cluster::Log(const Args&... args) {
  if (!options_.verbose) return;
  std::string line = absl::StrCat("[", now_, "] ", args...);
  std::fprintf(stdout, "%s\n", line.c_str());
}

SimNode* Cluster::node(NodeId id) {
  auto it = nodes_.find(id);
  return it == nodes_.end() ? nullptr : it->second.get();
}

std::vector<NodeId> Cluster::UpNodes() const {
  std::vector<NodeId> ids;
  for (const auto& [id, node] : nodes_) {
    if (!node->removed() && node->up()) ids.push_back(id);
  }
  return ids;
}

std::vector<NodeId> Cluster::DownNodes() const {
  std::vector<NodeId> ids;
  for (const auto& [id, node] : nodes_) {
    if (!node->removed() && !node->up()) ids.push_back(id);
  }
  return ids;
}

NodeId Cluster::Leader() const {
  NodeId leader = kNone;
  uint64_t term = 0;
  for (const auto& [id, node] : nodes_) {
    if (node->removed() || !node->up() || node->role() != Role::kLeader) continue;
    if (leader == kNone || node->term() > term) leader = id, term = node->term();
  }
  return leader;
}

std::string Cluster::Describe() const {
  std::string out;
  for (const auto& [id, node] : nodes_) {
    absl::StrAppend(&out, "  node ", id, node->removed() ? " removed" : "",
                    node->up() ? "" : " down", " first=", node->store().FirstIndex(),
                    " last=", node->store().LastIndex(), " applied=", node->app().applied_index(),
                    " conf=", DescribeConfState(node->app().conf_state()));
    if (node->up()) {
      Status st = node->raw_node().GetStatus();
      absl::StrAppend(&out, " ", RoleName(st.soft_state.role), " lead=", st.soft_state.lead,
                      " ", DescribeHardState(st.hard_state));
      for (const auto& [peer, pr] : st.progress) absl::StrAppend(&out, "\n    ", peer, ": ", pr.ToString());
    }
    absl::StrAppend(&out, "\n");
  }
  return out;
}

void Cluster::Start(SimNode& node) {
  uint64_t node_seed = Mix64(options_.seed, Mix64(node.id(), node.incarnation() + 1));
  SnapshotImage image = node.Start(options_.raft, node_seed);
  if (image.index > 0 && options_.check_safety) {
    absl::StatusOr<Snapshot> snapshot = node.store().GetSnapshot();
    KEEL_CHECK(snapshot.ok()) << snapshot.status();
    checker_.OnRestore(node.id(), image, snapshot->metadata.term);
  }
  Drive(node);
}

void Cluster::Tick() {
  ++now_;
  DeliverDue();
  for (auto& [id, node] : nodes_) {
    if (node->removed() || !node->up()) continue;
    node->raw_node().Tick();
    Drive(*node);
  }
  Settle();
}

void Cluster::DeliverDue() {
  Envelope envelope;
  while (network_.PopDue(now_, &envelope)) {
    Deliver(envelope);
  }
  Settle();
}

void Cluster::Deliver(const Envelope& envelope) {
  const Message& m = envelope.message;
  SimNode* to = node(m.to);
  SimNode* from = node(envelope.sender);
  bool from_alive = from != nullptr && from->up() && !from->removed() &&
                    from->incarnation() == envelope.sender_incarnation;
  bool reachable = to != nullptr && to->up() && !to->removed();
  if (envelope.dropped || !reachable) {
    if (!from_alive) return;
    // What a transport would notice: a snapshot that did not arrive must be reported, and a
    // peer behind a cut link or down is unreachable (random loss goes unnoticed).
    if (m.type == MessageType::kSnap) from->raw_node().ReportSnapshot(m.to, /*failed=*/true);
    if (!reachable || network_.IsCut(envelope.sender, m.to)) {
      from->raw_node().ReportUnreachable(m.to);
    }
    Drive(*from);
    return;
  }
  // Errors are expected here (a message from a node this one does not know, a stale term...)
  // and raft already ignores what it should.
  absl::Status status = to->raw_node().Step(m);
  (void)status;
  Drive(*to);
  if (m.type == MessageType::kSnap && from_alive) {
    from->raw_node().ReportSnapshot(m.to, /*failed=*/false);
    Drive(*from);
  }
}

void Cluster::Send(SimNode& from, const Message& message) {
  network_.Send(message, from.id(), from.incarnation(), now_);
}

void Cluster::OnApplied(SimNode& node, const Entry& entry) {
  if (!watched_index_.has_value() && !watch_data_.empty() && entry.type == EntryType::kNormal &&
      entry.data.view() == watch_data_) {
    watched_index_ = entry.index;
    Log("node ", node.id(), " applied the watched proposal at index ", entry.index);
  }
}

void Cluster::OnConfChangeApplied(SimNode& node, const ConfChange& cc) {
  if (cc.node_id == kNone) return;
  ++conf_changes_applied_;
  if (cc.type == ConfChangeType::kRemoveNode) {
    pending_removals_.insert(cc.node_id);
  } else {
    pending_adds_.insert(cc.node_id);
  }
}

void Cluster::Settle() {
  // Adds first: a node added and removed within one step ends up removed.
  while (!pending_adds_.empty() || !pending_removals_.empty()) {
    std::set<NodeId> adds = std::move(pending_adds_);
    std::set<NodeId> removals = std::move(pending_removals_);
    pending_adds_.clear();
    pending_removals_.clear();
    for (NodeId id : adds) {
      SimNode* existing = node(id);
      if (existing == nullptr) {
        Log("node ", id, " created (added to the membership)");
        auto fresh = std::make_unique<SimNode>(id);
        SimNode& ref = *fresh;
        nodes_.emplace(id, std::move(fresh));
        Start(ref);
      } else if (existing->removed()) {
        // Re-added after a removal: it comes back on its own store.
        Log("node ", id, " re-added after removal");
        existing->set_removed(false);
        if (!existing->up()) Start(*existing);
      }
    }
    for (NodeId id : removals) {
      SimNode* gone = node(id);
      if (gone == nullptr || gone->removed()) continue;
      Log("node ", id, " removed from the membership: shut down");
      if (gone->up()) gone->Crash();
      gone->set_removed(true);
    }
  }
}

void Cluster::Crash(NodeId id) {
  SimNode* n = node(id);
  if (n == nullptr || !n->up()) return;
  n->Crash();
  OnCrashed(*n);
}

void Cluster::OnCrashed(SimNode& node) {
  ++crashes_;
  node.set_restart_tick(now_ + random_.Range(options_.min_down_ticks, options_.max_down_ticks));
  Log("node ", node.id(), " crashed; restarts at tick ", node.restart_tick());
}

void Cluster::ArmCrash(NodeId id, CrashPoint point) {
  SimNode* n = node(id);
  if (n != nullptr && n->up()) n->armed_crash() = point;
}

void Cluster::Restart(NodeId id) {
  SimNode* n = node(id);
  if (n == nullptr || n->up() || n->removed()) return;
  Log("node ", id, " restarts");
  Start(*n);
  Settle();
}

absl::Status Cluster::Propose(NodeId id, std::string data) {
  SimNode* n = node(id);
  if (n == nullptr || !n->up()) return absl::UnavailableError("node down");
  absl::Status status = n->raw_node().Propose(Bytes(std::move(data)));
  Drive(*n);
  Settle();
  return status;
}

absl::Status Cluster::ProposeBatch(NodeId id, std::vector<Bytes> batch, bool as_one_message) {
  SimNode* n = node(id);
  if (n == nullptr || !n->up()) return absl::UnavailableError("node down");
  absl::Status status;
  if (as_one_message) {
    status = n->raw_node().ProposeBatch(std::move(batch));
    batch.clear();
  }
  for (Bytes& data : batch) {
    status = n->raw_node().Propose(std::move(data));
    if (!status.ok()) break;
  }
  Drive(*n);
  Settle();
  return status;
}

void Cluster::ReadIndex(NodeId id) {
  SimNode* n = node(id);
  if (n == nullptr || !n->up()) return;
  // Zero-padded so the map orders requests by age.
  std::string ctx = absl::StrFormat("read-%012d", next_read_++);
  auto& reads = n->reads();
  // Requests raft dropped (no leader, lost messages) are never answered: forget the oldest so
  // the set stays small.
  if (reads.size() >= 64) reads.erase(reads.begin());
  reads[ctx].commit_floor = checker_.commit_high();
  n->raw_node().ReadIndex(Bytes(ctx));
  Drive(*n);
  Settle();
}

absl::Status Cluster::ProposeConfChange(NodeId id, const ConfChange& cc) {
  SimNode* n = node(id);
  if (n == nullptr || !n->up()) return absl::UnavailableError("node down");
  absl::Status status = n->raw_node().ProposeConfChange(cc);
  Log("node ", id, " proposes conf change type ", static_cast<int>(cc.type), " node ", cc.node_id,
      ": ", status.ToString());
  Drive(*n);
  Settle();
  return status;
}

void Cluster::TransferLeadership(NodeId leader, NodeId transferee) {
  SimNode* n = node(leader);
  if (n == nullptr || !n->up()) return;
  Log("node ", leader, " transfers leadership to ", transferee);
  n->raw_node().TransferLeadership(transferee);
  Drive(*n);
  Settle();
}

void Cluster::Campaign(NodeId id) {
  SimNode* n = node(id);
  if (n == nullptr || !n->up()) return;
  absl::Status status = n->raw_node().Campaign();
  (void)status;
  Drive(*n);
  Settle();
}

void Cluster::WatchFor(std::string data) {
  watch_data_ = std::move(data);
  watched_index_.reset();
}

bool Cluster::QuorumApplied(uint64_t index) const {
  const SimNode* most = nullptr;
  for (const auto& [id, node] : nodes_) {
    if (node->removed() || !node->up()) continue;
    if (most == nullptr || node->app().applied_index() > most->app().applied_index()) {
      most = node.get();
    }
  }
  if (most == nullptr) return false;
  const std::vector<NodeId>& voters = most->app().conf_state().voters;
  size_t applied = 0;
  for (NodeId v : voters) {
    auto it = nodes_.find(v);
    if (it == nodes_.end()) continue;
    const SimNode& n = *it->second;
    if (!n.removed() && n.up() && n.app().applied_index() >= index) ++applied;
  }
  return !voters.empty() && applied >= voters.size() / 2 + 1;
}

}  // namespace keel::raft::sim
