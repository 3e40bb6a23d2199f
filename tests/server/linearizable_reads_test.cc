// LinearizableReads: batching behind ReadIndex rounds, the round hold under load, retries of
// lost rounds, leader changes.
#include "server/linearizable_reads.h"

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <vector>

#include "base/big_endian.h"
#include "base/etcd_errors.h"
#include "base/task_queue.h"
#include "gtest/gtest.h"
#include "server/read_index_context.h"

namespace keel::server {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t kMember = 0x2a;

// Records the read-index requests and the outcome of every read.
class Harness {
 public:
  explicit Harness(std::chrono::microseconds round_hold = std::chrono::microseconds(0))
      : executor_(1, 1024),
        reads_(
            kMember,
            [this](uint64_t ctx) {
              std::lock_guard<std::mutex> lock(mu_);
              requests_.push_back(ctx);
              cv_.notify_all();
            },
            [this](std::function<void()> task) { executor_.Post(std::move(task)); },
            std::chrono::milliseconds(7000), round_hold) {}
  // A served batch's task still touches reads_ after the read's callback: finish it first.
  ~Harness() { executor_.Stop(); }

  void Read() {
    reads_.Read([this](absl::Status st) {
      std::lock_guard<std::mutex> lock(mu_);
      results_.push_back(st);
      cv_.notify_all();
    });
  }
  std::vector<absl::Status> WaitResults(
      size_t n, std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, deadline, [&] { return results_.size() >= n; });
    return results_;
  }
  // Rounds may start on the executor's thread (after a batch is served): read them locked.
  std::vector<uint64_t> Requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  std::vector<uint64_t> WaitRequests(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(10), [&] { return requests_.size() >= n; });
    return requests_;
  }
  void Answer(uint64_t ctx, uint64_t index) {
    reads_.OnReadStates({raft::ReadState{index, EncodeReadIndexContext(kMember, ctx)}});
  }

  TaskQueue executor_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<uint64_t> requests_;
  std::vector<absl::Status> results_;
  LinearizableReads reads_;  // last: its executor tasks use the members above
};

TEST(LinearizableReads, ReadsArrivingDuringARoundShareTheNextOne) {
  Harness h;
  h.Read();
  h.Read();
  h.Read();
  ASSERT_EQ(h.Requests().size(), 1u);  // one round in flight; the others wait for the next
  h.reads_.OnApplied(5);
  h.Answer(h.Requests()[0], 5);
  // Once the first batch is served, the waiting reads start the second round together.
  auto requests = h.WaitRequests(2);
  ASSERT_EQ(requests.size(), 2u);
  h.Answer(requests[1], 5);
  auto results = h.WaitResults(3);
  ASSERT_EQ(results.size(), 3u);
  for (const auto& st : results) EXPECT_TRUE(st.ok()) << st;
  EXPECT_EQ(h.Requests().size(), 2u);
}

TEST(LinearizableReads, NoRoundStartsWhileTheLastBatchIsBeingServed) {
  Harness h;
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  h.reads_.Read([&](absl::Status) {
    entered.set_value();
    released.wait();
  });
  h.reads_.OnApplied(5);
  h.Answer(h.Requests()[0], 5);
  entered.get_future().wait();  // the first batch is being served on the executor
  h.Read();
  h.Read();
  EXPECT_EQ(h.Requests().size(), 1u) << "a round started while a batch was being served";
  release.set_value();
  auto requests = h.WaitRequests(2);
  ASSERT_EQ(requests.size(), 2u) << "served batch did not start the next round";
  h.Answer(requests[1], 5);
  auto results = h.WaitResults(2);
  ASSERT_EQ(results.size(), 2u);
  for (const auto& st : results) EXPECT_TRUE(st.ok()) << st;
  EXPECT_EQ(h.Requests().size(), 2u) << "the two waiting reads shared one round";
}

TEST(LinearizableReads, ALoneReaderNeverWaitsForTheHold) {
  Harness h(std::chrono::seconds(60));
  h.reads_.OnApplied(5);
  for (size_t i = 1; i <= 3; ++i) {
    h.Read();
    // Each read finds no batch before it: its round starts at once, not 60 s later.
    auto requests = h.WaitRequests(i);
    ASSERT_EQ(requests.size(), i);
    h.Answer(requests.back(), 5);
    auto results = h.WaitResults(i);
    ASSERT_EQ(results.size(), i);
    EXPECT_TRUE(results.back().ok()) << results.back();
  }
}

TEST(LinearizableReads, ReadsQueuedBehindABatchWaitForTheHoldThenShareARound) {
  constexpr auto kHold = std::chrono::milliseconds(300);
  Harness h(kHold);
  h.reads_.OnApplied(5);
  h.Read();
  h.Read();  // queued behind the first round
  h.Read();
  ASSERT_EQ(h.Requests().size(), 1u);
  const Clock::time_point answered = Clock::now();
  h.Answer(h.Requests()[0], 5);
  // The first batch is served with two reads already waiting: the next round is held.
  auto requests = h.WaitRequests(2);
  ASSERT_EQ(requests.size(), 2u) << "the held round never started";
  EXPECT_GE(Clock::now() - answered, kHold) << "the next round did not wait for the hold";
  h.Answer(requests[1], 5);
  auto results = h.WaitResults(3);
  ASSERT_EQ(results.size(), 3u);
  for (const auto& st : results) EXPECT_TRUE(st.ok()) << st;
  EXPECT_EQ(h.Requests().size(), 2u) << "the two queued reads shared round 2";
}

TEST(LinearizableReads, ShutdownFailsHeldReadsAtOnce) {
  Harness h(std::chrono::seconds(60));
  h.reads_.OnApplied(5);
  h.Read();
  h.Read();  // will be held after the first batch
  h.Answer(h.Requests()[0], 5);
  ASSERT_EQ(h.WaitResults(1).size(), 1u);
  h.reads_.FailAll(absl::UnavailableError("stopping"));
  auto results = h.WaitResults(2);
  ASSERT_EQ(results.size(), 2u) << "a held read waited out the hold after shutdown";
  EXPECT_EQ(results[1], absl::UnavailableError("stopping"));
}

TEST(LinearizableReads, AFullExecutorServesInlineWithoutDeadlock) {
  // TaskQueue runs a task on the caller's thread when its queue is full or stopped; batches
  // are posted after the lock is released, so that must not deadlock.
  TaskQueue stopped(1, 1);
  stopped.Stop();
  std::vector<uint64_t> requests;
  LinearizableReads reads(kMember, [&](uint64_t ctx) { requests.push_back(ctx); },
                          [&](std::function<void()> task) { stopped.Post(std::move(task)); },
                          std::chrono::milliseconds(7000));
  int served = 0;
  reads.Read([&](absl::Status st) { served += st.ok(); });
  reads.OnApplied(1);
  reads.OnReadStates({raft::ReadState{1, EncodeReadIndexContext(kMember, requests.at(0))}});
  EXPECT_EQ(served, 1);
  reads.Read([&](absl::Status st) { served += st.ok(); });
  ASSERT_EQ(requests.size(), 2u) << "served inline, the next read starts its round at once";
  reads.OnReadStates({raft::ReadState{1, EncodeReadIndexContext(kMember, requests.at(1))}});
  EXPECT_EQ(served, 2);
}

TEST(LinearizableReads, AnUnansweredRoundIsAskedAgainUnderANewContext) {
  Harness h;
  h.Read();
  ASSERT_EQ(h.Requests().size(), 1u);
  const uint64_t lost = h.Requests()[0];
  h.reads_.ExpireBefore(Clock::now() + std::chrono::milliseconds(100));
  EXPECT_EQ(h.Requests().size(), 1u) << "retried too early";
  h.reads_.ExpireBefore(Clock::now() + std::chrono::milliseconds(600));
  ASSERT_EQ(h.Requests().size(), 2u);
  EXPECT_NE(h.Requests()[1], lost);
  h.reads_.OnApplied(3);
  h.Answer(lost, 3);  // a late answer to the old context is ignored
  h.Answer(h.Requests()[1], 3);
  auto results = h.WaitResults(1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(results[0].ok()) << results[0];
}

TEST(ReadIndexContext, TwoMembersRoundsWithTheSameNumberDiffer) {
  // The leader ignores a ReadIndex whose context is already pending (tests/raft:
  // ADuplicatePendingContextIsNotAnswered); members number their rounds independently.
  EXPECT_NE(EncodeReadIndexContext(1, 1).str(), EncodeReadIndexContext(2, 1).str());
  EXPECT_EQ(DecodeReadIndexSeq(2, EncodeReadIndexContext(2, 77)), 77u);
  EXPECT_EQ(DecodeReadIndexSeq(1, EncodeReadIndexContext(2, 77)), std::nullopt);
  EXPECT_EQ(DecodeReadIndexSeq(2, raft::Bytes(BigEndian64(77))), std::nullopt);
}

TEST(LinearizableReads, ARestartedMemberDoesNotReuseItsRoundNumbers) {
  // An answer to a round of the previous run, still pending at the leader, carries an old
  // read index: it must not match a round of the new run.
  Harness before;
  before.Read();
  Harness after;  // the same member id, started again
  after.Read();
  ASSERT_EQ(before.Requests().size(), 1u);
  ASSERT_EQ(after.Requests().size(), 1u);
  EXPECT_NE(before.Requests()[0], after.Requests()[0]);
  before.reads_.FailAll(absl::UnavailableError("stopping"));
  after.reads_.FailAll(absl::UnavailableError("stopping"));
}

TEST(LinearizableReads, AnswersToOtherContextsAreIgnored) {
  Harness h;
  h.Read();
  ASSERT_EQ(h.Requests().size(), 1u);
  const uint64_t seq = h.Requests()[0];
  h.reads_.OnApplied(3);
  h.reads_.OnReadStates({raft::ReadState{3, EncodeReadIndexContext(kMember + 1, seq)},
                         raft::ReadState{3, raft::Bytes(BigEndian64(seq))}});
  EXPECT_TRUE(h.WaitResults(1, std::chrono::milliseconds(50)).empty())
      << "served on another member's or a malformed context";
  h.Answer(seq, 3);
  auto results = h.WaitResults(1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(results[0].ok()) << results[0];
}

TEST(LinearizableReads, ARoundPastItsDeadlineFailsWithEtcdsTimeout) {
  Harness h;
  h.Read();
  h.reads_.ExpireBefore(Clock::now() + std::chrono::milliseconds(8000));
  auto results = h.WaitResults(1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0], ErrTimeout());
}

TEST(LinearizableReads, ALeaderChangeFailsRoundsWaitingForTheirIndexOnly) {
  Harness h;
  h.Read();
  h.Answer(h.Requests()[0], 10);  // holds index 10, waits for apply
  h.Read();                       // a new round, in flight
  ASSERT_EQ(h.Requests().size(), 2u);
  h.reads_.OnLeaderChanged();
  auto results = h.WaitResults(1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0], ErrLeaderChanged());
  h.reads_.OnApplied(10);
  results = h.WaitResults(2);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(results[1].ok()) << results[1];
}

}  // namespace
}  // namespace keel::server
