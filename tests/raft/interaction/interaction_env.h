// InteractionEnv: a cluster of RawNodes driven by datadriven commands, one step at a time, for
// golden-text interaction tests (the model is etcd-io/raft's rafttest.InteractionEnv).
//
// Every node owns a MemoryLogStore and an inbox. Nothing happens on its own: a node takes a
// Ready only on `process-ready` (or `stabilize`), and messages sit in the recipient's inbox until
// `deliver-msgs` (or `stabilize`). The driver follows the Ready contract of raft/raw_node.h
// exactly: persist (and sync), send, apply, Advance. Every write is synced, so a `crash` loses
// nothing a node acknowledged; `restart` rebuilds the node from its store, as after a reboot.
//
// See README.md in this folder for the commands.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "raft/raw_node.h"
#include "raft/storage/memory_log_store.h"
#include "tests/raft/interaction/datadriven.h"

namespace keel::raft::interaction {

class InteractionEnv {
 public:
  InteractionEnv() = default;

  // Runs one datadriven block and returns its output.
  std::string Handle(const datadriven::TestData& d);

 private:
  struct Node {
    std::unique_ptr<MemoryLogStore> store;
    // Null while crashed.
    std::unique_ptr<RawNode> raw;
    Config config;
    // Messages addressed to this node, in the order they were sent.
    std::vector<Message> inbox;
    uint64_t applied_index = 0;
    // Membership after each applied conf change (and at the start), so that `compact` can
    // record the membership as of the snapshot index.
    std::map<uint64_t, ConfState> conf_history;
  };

  // Commands (interaction_env.cc: cluster setup and inputs). A non-OK status is a misuse of
  // the command by the script, printed as "error: ..." in the output.
  absl::Status Dispatch(const datadriven::TestData& d);
  absl::Status AddNodes(const datadriven::TestData& d);
  absl::Status ProposeConfChange(NodeId id, const std::string& change);
  absl::Status Compact(NodeId id, uint64_t index);
  absl::Status Restart(NodeId id);
  void Crash(NodeId id);
  void PrintStarted(NodeId id);

  // Readies, delivery and state dumps (interaction_ready.cc).
  // Processes one Ready of `id`, following the Ready contract; false when it had none.
  bool ProcessReady(NodeId id);
  // Steps `id`'s inbox into it, or drops it; false when the inbox was empty.
  bool DeliverMsgs(NodeId id, bool drop);
  absl::Status Stabilize(const std::vector<NodeId>& ids);
  void PrintReady(const Ready& rd);
  void ApplyCommitted(NodeId id, const Ready& rd);
  void PrintStatus(NodeId id);
  void PrintRaftState();
  void PrintRaftLog(NodeId id);
  // Queues an outgoing message into its recipient's inbox, unless the link is cut or the
  // recipient is down.
  void Send(const Message& m);

  // Helpers.
  // The node, or nullptr when there is none with that id.
  Node* Find(NodeId id);
  // Checks that `id` names a running (not crashed) node.
  absl::Status CheckRunning(NodeId id);
  RawNode& Raw(NodeId id) { return *nodes_.at(id).raw; }
  // Output at the current indentation.
  void Line(const std::string& text);

  std::map<NodeId, Node> nodes_;
  // Nodes cut off from everyone (isolate / heal): messages to or from them are lost.
  std::set<NodeId> isolated_;
  std::string out_;
  std::string indent_;
};

}  // namespace keel::raft::interaction
