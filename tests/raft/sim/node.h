// SimNode: one simulated server: a durable MemoryLogStore (the "disk", which survives
// crashes), and while the node is up, a RawNode and the application state machine in memory.
//
// A crash loses the RawNode, the application state and every unsynced write of the store.
// A restart builds a new RawNode on the same store with applied_index = the snapshot index,
// and rebuilds the application from the snapshot; raft then hands the committed entries after
// it out again, and the application re-applies them.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "raft/config.h"
#include "raft/raw_node.h"
#include "raft/storage/memory_log_store.h"
#include "tests/raft/sim/state_machine.h"

namespace keel::raft::sim {

// Where, inside the handling of one Ready, a node crashes (see driver.h).
enum class CrashPoint : uint8_t {
  kBeforePersist,  // nothing of the Ready was written
  kAfterWrite,     // written but not synced: Crash() loses the writes
  kAfterSync,      // durable, but messages not sent
  kAfterSend,      // sent, nothing applied
  kAfterApply,     // applied, Advance() not called
};
inline constexpr int kCrashPointCount = 5;
const char* CrashPointName(CrashPoint point);

// A ReadIndex request waiting for its answer, or an answer waiting for the apply to catch up.
struct PendingRead {
  // The highest commit index known anywhere when the read was requested.
  uint64_t commit_floor = 0;
  // Set once raft answered.
  std::optional<uint64_t> read_index;
};

class SimNode {
 public:
  explicit SimNode(NodeId id) : id_(id) {}

  // Writes the bootstrap snapshot (index 1, term 1, membership `voters`) and syncs it.
  void Bootstrap(const ConfState& voters);
  // Creates the RawNode from what the store holds. `config` supplies everything but id,
  // store, applied index and random seed. Returns the restored snapshot image (to check).
  SnapshotImage Start(const Config& config, uint64_t random_seed);
  // Loses everything not synced, and the in-memory state.
  void Crash();

  NodeId id() const { return id_; }
  bool up() const { return raw_node_ != nullptr; }
  RawNode& raw_node() { return *raw_node_; }
  MemoryLogStore& store() { return store_; }
  const MemoryLogStore& store() const { return store_; }
  SimStateMachine& app() { return app_; }
  const SimStateMachine& app() const { return app_; }
  // Counts starts; messages carry it so reports go only to the life that sent them.
  uint64_t incarnation() const { return incarnation_; }

  // Role, leader and term as the node last reported them in a Ready.
  Role role() const { return role_; }
  NodeId lead() const { return lead_; }
  uint64_t term() const { return term_; }
  void set_soft_state(const SoftState& ss) { role_ = ss.role, lead_ = ss.lead; }
  void set_term(uint64_t term) { term_ = term; }
  // The commit index as the node last reported it.
  uint64_t commit() const { return commit_; }
  void set_commit(uint64_t commit) { commit_ = commit; }

  // Read requests by context, in the order they were made.
  std::map<std::string, PendingRead>& reads() { return reads_; }

  // A crash armed to happen in the node's next Ready.
  std::optional<CrashPoint>& armed_crash() { return armed_crash_; }

  // Removed from the membership: shut down for good.
  bool removed() const { return removed_; }
  void set_removed(bool removed) { removed_ = removed; }
  // When down: the tick at which the scenario restarts it.
  uint64_t restart_tick() const { return restart_tick_; }
  void set_restart_tick(uint64_t tick) { restart_tick_ = tick; }

 private:
  NodeId id_;
  MemoryLogStore store_;
  std::unique_ptr<RawNode> raw_node_;
  SimStateMachine app_;
  uint64_t incarnation_ = 0;
  Role role_ = Role::kFollower;
  NodeId lead_ = kNone;
  uint64_t term_ = 0;
  uint64_t commit_ = 0;
  std::map<std::string, PendingRead> reads_;
  std::optional<CrashPoint> armed_crash_;
  bool removed_ = false;
  uint64_t restart_tick_ = 0;
};

}  // namespace keel::raft::sim
