// Test harness for rule-by-rule unit tests of the raft state machine: nodes are Raft objects on
// MemoryLogStores (unstable entries are never persisted unless a test asks), and a Network that
// delivers every message synchronously, breadth first, until none is left (the style of
// etcd-io/raft's raft_test.go). Tests name their claim and cite the paper section.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/check.h"
#include "raft/codec.h"
#include "raft/raft.h"
#include "raft/raw_node.h"
#include "raft/storage/memory_log_store.h"

namespace keel::raft::testing {

inline Config MakeConfig(NodeId id, const LogStore* store, int election = 10, int heartbeat = 1) {
  Config c;
  c.id = id;
  c.store = store;
  c.election_timeout_ticks = election;
  c.heartbeat_interval_ticks = heartbeat;
  c.max_size_per_msg_bytes = UINT64_MAX;
  c.max_inflight_msgs = 256;
  c.check_quorum = false;
  c.pre_vote = false;
  c.random_seed = 42;
  return c;
}

inline std::vector<NodeId> Ids(int n) {
  std::vector<NodeId> ids;
  for (int i = 1; i <= n; ++i) ids.push_back(static_cast<NodeId>(i));
  return ids;
}

// A Raft node together with the store it reads.
struct TestNode {
  std::unique_ptr<MemoryLogStore> store;
  std::unique_ptr<Raft> raft;
};

// Builds a node with `voters` (and `learners`) as its initial configuration; `tweak` may adjust
// the config (pre_vote, check_quorum, ...) before the node is created.
template <typename Tweak>
TestNode NewNode(NodeId id, std::vector<NodeId> voters, Tweak tweak,
                 std::vector<NodeId> learners = {}) {
  TestNode n;
  n.store = std::make_unique<MemoryLogStore>();
  n.store->SetConfState(ConfState{std::move(voters), std::move(learners)});
  n.store->Sync();
  Config c = MakeConfig(id, n.store.get());
  tweak(c);
  n.raft = std::make_unique<Raft>(c);
  return n;
}

inline TestNode NewNode(NodeId id, std::vector<NodeId> voters) {
  return NewNode(id, std::move(voters), [](Config&) {});
}

// Builds a node whose store already holds `entries` (terms as given) and hard state term.
template <typename Tweak>
TestNode NewNodeWithLog(NodeId id, std::vector<NodeId> voters, const std::vector<uint64_t>& terms,
                        uint64_t term, Tweak tweak) {
  TestNode n;
  n.store = std::make_unique<MemoryLogStore>();
  n.store->SetConfState(ConfState{std::move(voters), {}});
  std::vector<Entry> entries;
  for (size_t i = 0; i < terms.size(); ++i) {
    Entry e;
    e.index = i + 1;
    e.term = terms[i];
    entries.push_back(e);
  }
  n.store->Append(entries);
  n.store->SetHardState(HardState{term, kNone, 0});
  n.store->Sync();
  Config c = MakeConfig(id, n.store.get());
  tweak(c);
  n.raft = std::make_unique<Raft>(c);
  return n;
}

inline std::vector<Message> TakeMessages(Raft& r) {
  std::vector<Message> out = std::move(r.msgs());
  r.msgs().clear();
  return out;
}

inline Message Msg(NodeId from, NodeId to, MessageType type, uint64_t term = 0) {
  Message m;
  m.from = from;
  m.to = to;
  m.type = type;
  m.term = term;
  return m;
}

inline Message Proposal(NodeId to, std::string data) {
  Message m = Msg(to, to, MessageType::kProp);
  Entry e;
  e.data = Bytes(std::move(data));
  m.entries.push_back(e);
  return m;
}

// Persists what a node has in its unstable log, as a driver would (for tests that need the
// store to hold the entries, e.g. before compaction).
inline void PersistAll(TestNode& n) {
  RaftLog& log = n.raft->log();
  if (!log.UnstableEntries().empty()) {
    const Entry& last = log.UnstableEntries().back();
    n.store->Append(log.UnstableEntries());
    log.StableTo(last.index, last.term);
  }
  n.store->SetHardState(n.raft->GetHardState());
  n.store->Sync();
}

// Delivers messages between nodes until quiet. Links can be cut (both ways or one way) and
// message types ignored, deterministically.
class Network {
 public:
  void Add(TestNode* node) { nodes_[node->raft->id()] = node; }
  Raft& raft(NodeId id) { return *nodes_.at(id)->raft; }
  TestNode& node(NodeId id) { return *nodes_.at(id); }

  void Cut(NodeId a, NodeId b) {
    cut_.insert({a, b});
    cut_.insert({b, a});
  }
  void CutOneWay(NodeId from, NodeId to) { cut_.insert({from, to}); }
  void Isolate(NodeId id) {
    for (auto& [other, n] : nodes_) {
      if (other != id) Cut(id, other);
    }
  }
  void Heal() {
    cut_.clear();
    ignored_.clear();
  }
  void Ignore(MessageType type) { ignored_.insert(type); }

  // Steps `first` into its target and keeps delivering every resulting message.
  void Send(Message first) {
    std::deque<Message> queue;
    queue.push_back(std::move(first));
    while (!queue.empty()) {
      Message m = std::move(queue.front());
      queue.pop_front();
      auto it = nodes_.find(m.to);
      if (it == nodes_.end()) continue;
      (void)it->second->raft->Step(m);
      for (Message& out : TakeMessages(*it->second->raft)) {
        if (Deliverable(out)) queue.push_back(std::move(out));
      }
    }
  }

  // Campaign helper: node `id` starts an election and everything settles.
  void Elect(NodeId id) { Send(Msg(id, id, MessageType::kHup)); }
  void Propose(NodeId id, std::string data) { Send(Proposal(id, std::move(data))); }

  // Ticks every node once and delivers what results.
  void TickAll() {
    std::deque<Message> pending;
    for (auto& [id, n] : nodes_) {
      n->raft->Tick();
      for (Message& out : TakeMessages(*n->raft)) pending.push_back(std::move(out));
    }
    for (Message& m : pending) {
      if (Deliverable(m)) Send(std::move(m));
    }
  }

 private:
  bool Deliverable(const Message& m) const {
    return cut_.count({m.from, m.to}) == 0 && ignored_.count(m.type) == 0;
  }

  std::map<NodeId, TestNode*> nodes_;
  std::set<std::pair<NodeId, NodeId>> cut_;
  std::set<MessageType> ignored_;
};

// A network of n voters 1..n, all with the same tweak.
struct Cluster {
  std::vector<TestNode> nodes;
  Network net;

  template <typename Tweak>
  Cluster(int n, Tweak tweak) {
    nodes.reserve(n);
    for (NodeId id : Ids(n)) nodes.push_back(NewNode(id, Ids(n), tweak));
    for (TestNode& node : nodes) net.Add(&node);
  }
  explicit Cluster(int n) : Cluster(n, [](Config&) {}) {}
  Raft& operator[](NodeId id) { return net.raft(id); }
};

}  // namespace keel::raft::testing
