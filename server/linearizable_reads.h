// LinearizableReads: batches linearizable reads behind raft ReadIndex (thesis §6.4).
//
// Reads that arrive while a ReadIndex round is in flight, or while the last batch is being
// served, wait for the next round, so one round (one heartbeat quorum on a leader) confirms
// a whole batch. When the round answers
// with read index I, the batch runs once the apply thread has applied I, through
// `run_batch`, never on the apply thread. A round that gets no answer (no leader) fails its
// batch with etcd's timeout error at its deadline.
//
// Under load, rounds would still run back to back with a few reads each, and a round costs
// far more CPU than a read (a dozen thread hand-offs and six messages between three members).
// So when reads were already waiting when the last round was answered, the next round is
// held for `round_hold` to gather more. A lone reader, or reads that find no round before
// them, never wait for it.
//
// `run_batch` runs each ready batch elsewhere: the member passes its RPC loop (where replies
// complete without waking another thread: see rpc_loop.h), the tests a TaskQueue.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "raft/types.h"

namespace keel::server {

class LinearizableReads {
 public:
  using Clock = std::chrono::steady_clock;
  using Runner = std::function<void(std::function<void()> task)>;
  // `request_read_index(ctx)` asks raft for a read index (RaftLoop::ReadIndex, which sends
  // the context as EncodeReadIndexContext(member_id, ctx)); `run_batch` runs a ready batch's
  // task on another thread, or right here if it cannot take it.
  LinearizableReads(uint64_t member_id, std::function<void(uint64_t ctx)> request_read_index,
                    Runner run_batch, std::chrono::milliseconds timeout,
                    std::chrono::microseconds round_hold = std::chrono::microseconds(0));
  ~LinearizableReads();
  LinearizableReads(const LinearizableReads&) = delete;
  LinearizableReads& operator=(const LinearizableReads&) = delete;

  // `serve(status)` runs through `run_batch`: with OK once the read may be served locally, or
  // with the error that makes it fail.
  void Read(std::function<void(absl::Status)> serve);
  // From the raft loop.
  void OnReadStates(const std::vector<raft::ReadState>& states);
  // From the apply thread.
  void OnApplied(uint64_t applied_index);
  // Fails rounds past their deadline and asks again for rounds unanswered for 500 ms.
  void ExpireBefore(Clock::time_point now);
  // The leader changed: rounds still waiting for their read index will never be answered by
  // the old leader; they fail with etcd's "leader changed" (clients retry), as etcd's
  // linearizableReadLoop does. Reads already holding an index are unaffected.
  void OnLeaderChanged();
  // Fails everything waiting, and every later Read at once (shutdown).
  void FailAll(const absl::Status& status);

 private:
  using Batch = std::vector<std::function<void(absl::Status)>>;
  struct InFlight {
    Batch batch;
    Clock::time_point deadline;
    // A round unanswered by then is asked again under a new context: its request or answer
    // may have been dropped on the way (a peer's full queue, a partition); raft does not
    // retry ReadIndex by itself. etcd retries every 500 ms too (readIndexRetryTime).
    Clock::time_point retry_at;
  };
  struct Ready {
    Batch batch;
    absl::Status status;
  };
  void MaybeStartRoundLocked();
  // Queues `batch` to be served with `status` in ready_; every public method takes ready_
  // before it releases mu_ and hands it to Post.
  void RunLocked(Batch batch, absl::Status status);
  void Post(std::vector<Ready> ready);
  void ExpireBeforeLocked(Clock::time_point now);
  // Starts held rounds when their hold ends (its own thread, only with a round_hold).
  void HoldTimerLoop();

  const uint64_t member_id_;
  std::function<void(uint64_t)> request_read_index_;
  Runner run_batch_;
  const std::chrono::milliseconds timeout_;
  const std::chrono::microseconds round_hold_;

  std::mutex mu_;
  uint64_t next_ctx_;  // from a random start: see read_index_context.h
  uint64_t applied_ = 0;
  bool closed_ = false;
  absl::Status closed_status_;
  int serving_ = 0;                           // batches handed to run_batch, not yet served
  std::vector<Ready> ready_;                  // queued by RunLocked, not yet posted
  Batch pending_;                             // waiting for a round to start
  std::map<uint64_t, InFlight> in_flight_;    // ctx -> batch waiting for its read index
  std::multimap<uint64_t, Batch> waiting_;    // read index -> batch waiting for apply
  Clock::time_point hold_until_;              // no round starts before (see round_hold)
  Clock::time_point first_pending_at_;        // when the oldest read in pending_ arrived
  Clock::time_point last_answer_at_;          // when a round was last answered
  bool holding_ = false;                      // a round is held; the timer will start it
  bool stop_timer_ = false;
  std::condition_variable hold_cv_;
  std::thread hold_timer_;
};

}  // namespace keel::server
