// Applier: the apply thread. Takes committed raft entries in order, applies each to the MVCC
// store (one RocksDB write batch per group of entries, recording the applied index with the
// data so a restart never applies an entry twice), then publishes the group's events (to the
// watch hub), completes the proposers' waiters and tells readers how far it got.
//
// Small groups of cheap entries (puts, single-key txns) are applied on the raft thread itself
// when the apply thread is idle: for a lone client the hand-off to the apply thread is one
// thread wake-up on the path of every write (~50 us of a put's ~400 us on a 2-core VM).
// Anything that may take long (ranges of keys, leases, compaction, conf changes) still goes
// to the apply thread, so the raft thread keeps its heartbeats.
//
// A group's replies are written where the gRPC server's completion queue is polled (the
// RPC loop, through the run_replies hook) when there are two or more: a reply finished on
// any other thread makes gRPC wake the loop's thread for its completion, one wake-up per
// reply; under load, sparing them saved 11-18% of a put's CPU (docs/server.md). A lone
// reply is still written here: its bytes leave at once, and the loop is woken once either way.
//
// Apply is deterministic: the outcome depends only on the entry and the state before it.
// Requests refused at apply time (unknown lease, NOSPACE alarm, ...) are refused identically
// on every member and leave nothing but the applied index.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "etcd/kv.pb.h"
#include "keel/request.pb.h"
#include "kv/store.h"
#include "raft/types.h"
#include "server/alarms.h"
#include "server/lessor.h"
#include "server/membership.h"
#include "server/wait_registry.h"

namespace keel::server {

class Applier {
 public:
  struct Hooks {
    // Called after each group is durable in the store's batch and visible to readers.
    std::function<void(uint64_t applied_index)> on_applied;
    // Called after each group's commit, before its waiters complete, with the store's
    // revision and every event the group produced, in revision order (the watch hub).
    std::function<void(int64_t revision, std::vector<mvccpb::Event> events)> on_events;
    // After a conf change is applied (recorded in the membership), with its entry's index.
    std::function<void(const raft::ConfChange& cc, uint64_t index)> on_conf_change;
    // Runs a task that completes two or more of a group's waiters (the member: on its RPC
    // loop, where the replies' completions wake no other thread). Unset, or for a lone
    // waiter, they complete on the applying thread.
    std::function<void(std::function<void()> task)> run_replies;
  };

  // `membership` takes committed conf changes and member attributes; `lessor` hears of every
  // applied lease change.
  // Groups of at most `inline_max_entries` cheap entries are applied by Enqueue's caller when
  // the apply thread is idle; 0 sends everything to the apply thread.
  Applier(kv::MvccStore* store, Alarms* alarms, Membership* membership, Lessor* lessor,
          WaitRegistry* waits, Hooks hooks, size_t inline_max_entries = 0);
  ~Applier();

  void Start();
  void Stop();
  // Hands over committed entries (from the raft loop, one thread at a time). Applies them
  // before returning when they are few and cheap and nothing is queued or being applied;
  // otherwise queues them and never blocks on the apply work itself.
  void Enqueue(std::vector<raft::Entry> entries);
  // Runs `task` on the apply thread after everything enqueued before it (a snapshot restore:
  // it replaces the store under the applier). The applied index is re-read from the store
  // afterwards.
  void RunInOrder(std::function<void()> task);

  uint64_t applied_index() const { return applied_.load(std::memory_order_acquire); }
  // Committed entries handed over but not applied yet (etcd refuses new proposals with
  // "too many requests" when this passes 5000).
  uint64_t Backlog() const { return backlog_.load(std::memory_order_relaxed); }

 private:
  void Run();
  // `decoded`, when given, holds each entry's request, already parsed.
  void ApplyGroup(std::vector<raft::Entry>& entries,
                  std::vector<serverpb::Request>* decoded = nullptr);
  // Parses `entries` into `decoded` if every one is cheap to apply (see the class comment).
  static bool DecodeIfCheap(const std::vector<raft::Entry>& entries,
                            std::vector<serverpb::Request>* decoded);
  // `req` is the decoded entry data (empty for conf changes and leader no-ops).
  // Appends the entry's events to `events`.
  ApplyResult ApplyEntry(const raft::Entry& entry, const serverpb::Request& req,
                         std::vector<mvccpb::Event>* events);
  // Records an entry that wrote nothing to the store (refused, or not a store write) and
  // answers its waiter with `status`.
  ApplyResult MarkApplied(uint64_t index, absl::Status status);
  static void MoveEvents(std::vector<mvccpb::Event>& produced, std::vector<mvccpb::Event>* events);
  // The lease requests (grant, revoke, expiry, renewal, checkpoint).
  ApplyResult ApplyLease(const raft::Entry& entry, const serverpb::Request& req,
                         std::vector<mvccpb::Event>* events);

  kv::MvccStore* store_;
  Alarms* alarms_;
  Membership* membership_;
  Lessor* lessor_;
  WaitRegistry* waits_;
  Hooks hooks_;
  const size_t inline_max_entries_;

  std::mutex mu_;
  std::condition_variable cv_;
  struct Item {
    std::vector<raft::Entry> entries;
    std::function<void()> task;  // set: run it instead
  };
  std::deque<Item> queue_;
  bool stopping_ = false;
  bool applying_ = false;  // a group or task is being applied (by either thread)
  std::thread thread_;
  std::atomic<uint64_t> applied_{0};
  std::atomic<uint64_t> backlog_{0};
};

}  // namespace keel::server
