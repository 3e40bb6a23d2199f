// RaftLoop: owns a member's raft::RawNode and drives it on the peer transport's event loop.
//
// Raft runs on the transport thread (PeerTransport::io_context) rather than a thread of its
// own: a peer's message is stepped where it was read, and raft's answer is written where it
// was produced, with no thread hand-off either way (each cost a wake-up and a context switch,
// several per write or read round on a 2-core machine; docs/server.md, "Threads").
//
// Everything that touches the node arrives through one queue (proposals, peer messages, read
// index requests, log compaction) or the tick timer, both tasks on the same loop; one drain
// task at a time takes the whole queue, then either task handles each Ready in the order of the
// raft/raw_node.h contract:
//   leader: send messages, then persist; others: persist, then send;
//   persist = one RocksDB write batch (entries + hard state), fsynced when must_sync, so every
//   proposal of the batch shares one fsync (group commit);
//   conf changes are applied to the node, committed entries go to the apply thread;
//   read states go to the linearizable-read batcher; then Advance().
// Callers never block on raft: they enqueue and are called back.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "asio/io_context.hpp"
#include "asio/steady_timer.hpp"
#include "raft/raw_node.h"
#include "raft/storage/rocksdb_log_store.h"

namespace keel::server {

class RaftLoop {
 public:
  struct Hooks {
    // Messages for peers (transport). May be empty for a single member.
    std::function<void(std::vector<raft::Message>)> send;
    // Committed entries, in order, already persisted. Must not block for long.
    std::function<void(std::vector<raft::Entry>)> apply;
    // Answers to ReadIndex requests.
    std::function<void(std::vector<raft::ReadState>)> read_states;
    // The known leader changed (to `leader`, 0 = none). On the loop's thread; must not block.
    std::function<void(uint64_t leader)> leader_changed;
    // A snapshot from the leader, before it is persisted: replace the applied state with its
    // data and return once that is durable.
    std::function<void(const raft::Snapshot&)> restore_snapshot;
    // Called before the log is compacted: everything applied so far must be durable.
    std::function<absl::Status()> sync_applied_state;
  };

  // `io` is run by one thread (the peer transport's), which must outlive Stop().
  RaftLoop(raft::Config config, raft::RocksDbLogStore* store, Hooks hooks,
           std::chrono::milliseconds tick_interval, asio::io_context* io);
  ~RaftLoop();

  // Creates the node and starts ticking on the loop. `campaign_now`: a single-voter member
  // elects itself at once instead of waiting an election timeout.
  absl::Status Start(bool campaign_now);
  // Waits for the loop to finish what it is doing; no raft work runs after it returns.
  // Not from the loop's thread.
  void Stop();

  // Thread-safe inputs. `on_dropped` is called (on the raft thread) if raft refuses it.
  void Propose(std::string data, std::function<void(absl::Status)> on_dropped);
  void ReadIndex(uint64_t ctx);
  void Step(raft::Message message);
  // Compacts the log up to `applied_index` (minus a tail kept for slow followers), or up to
  // the commit index when the applied state is ahead of the log (after a snapshot restore).
  void CompactLog(uint64_t applied_index, uint64_t keep_entries);
  // Runs `fn` on the raft thread with the node: the rare calls (ReportUnreachable,
  // ReportSnapshot, TransferLeadership, ProposeConfChange, status queries). Dropped (never
  // run) once the loop stops.
  void Submit(std::function<void(raft::RawNode&)> fn);

  // Observations, updated after every loop iteration (any thread).
  uint64_t term() const { return term_.load(std::memory_order_relaxed); }
  uint64_t leader() const { return leader_.load(std::memory_order_relaxed); }
  uint64_t commit_index() const { return commit_.load(std::memory_order_relaxed); }
  bool is_leader() const { return leader() == id_; }
  uint64_t id() const { return id_; }

 private:
  struct ProposeInput {
    std::string data;
    std::function<void(absl::Status)> on_dropped;
  };
  struct ReadIndexInput {
    uint64_t ctx;
  };
  struct CompactInput {
    uint64_t applied_index;
    uint64_t keep_entries;
  };
  using NodeCall = std::function<void(raft::RawNode&)>;
  using Input = std::variant<ProposeInput, ReadIndexInput, raft::Message, CompactInput, NodeCall>;

  void Enqueue(Input input);
  // A proposal refused because the loop stopped: its caller hears etcd's "server stopped".
  static void DropStopped(Input& input);
  // The loop's tasks: the queue's drain and the tick timer. Both end in AfterInputs.
  void Drain();
  void OnTick();
  void ScheduleTick();
  void AfterInputs();
  void Handle(Input& input);
  void HandleReady();
  void DoCompact(const CompactInput& in);

  raft::Config config_;
  const uint64_t id_;
  raft::RocksDbLogStore* store_;
  Hooks hooks_;
  const std::chrono::milliseconds tick_interval_;
  asio::io_context* io_;
  std::unique_ptr<raft::RawNode> node_;
  // Loop thread only. Destroyed by Stop, on the loop: it must not outlive the transport's
  // io_context, which the member destroys first.
  std::unique_ptr<asio::steady_timer> tick_timer_;
  std::chrono::steady_clock::time_point next_tick_;
  // The node's role as of the last Ready (loop thread only).
  raft::Role role_ = raft::Role::kFollower;

  std::mutex mu_;
  std::vector<Input> inbox_;   // guarded by mu_
  bool drain_posted_ = false;  // guarded by mu_: a Drain is queued on the loop
  bool stopping_ = false;      // guarded by mu_
  bool running_ = false;       // guarded by mu_: Start's task ran on the loop
  bool started_ = false;       // Start/Stop's caller only
  std::vector<Input> batch_;   // loop thread only: the inbox being handled

  std::atomic<uint64_t> term_{0};
  std::atomic<uint64_t> leader_{0};
  std::atomic<uint64_t> commit_{0};
};

}  // namespace keel::server
