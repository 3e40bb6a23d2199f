// Proposer: turns a client write into a replicated request and calls back with the outcome.
//
// It checks what can be checked before proposing (request size, apply backlog), wraps the
// request in the keel.serverpb.Request envelope with a fresh id, registers a waiter, and hands
// the bytes to the raft loop. The waiter completes when the apply thread has applied the
// entry, fails at once if raft drops the proposal (no leader), or fails with etcd's timeout
// error if nothing happens before the deadline.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

#include "keel/request.pb.h"
#include "server/applier.h"
#include "server/raft_loop.h"
#include "server/wait_registry.h"

namespace keel::server {

class Proposer {
 public:
  Proposer(RaftLoop* raft, Applier* applier, WaitRegistry* waits, uint64_t max_request_bytes,
           std::chrono::milliseconds timeout);

  // `done` runs on the apply thread (or the raft thread when dropped): it must not block.
  void Propose(serverpb::Request request, WaitRegistry::Callback done);
  // A fresh member-unique id (etcd derives lease ids from the same generator).
  uint64_t NextId() { return waits_->NextId(); }
  // A membership change: `done` runs once the conf change is applied (or fails as above).
  // `check` runs on the raft thread just before proposing, with the node's status (the
  // leader-only checks, e.g. a learner's progress); a non-OK result fails `done` instead.
  void ProposeConfChange(raft::ConfChange cc,
                         std::function<absl::Status(const raft::Status&)> check,
                         WaitRegistry::Callback done);

 private:
  RaftLoop* raft_;
  Applier* applier_;
  WaitRegistry* waits_;
  const uint64_t max_request_bytes_;
  const std::chrono::milliseconds timeout_;
};

}  // namespace keel::server
