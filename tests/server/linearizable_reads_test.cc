// LinearizableReads: batching behind ReadIndex rounds, retries of lost rounds, leader changes.
#include "server/linearizable_reads.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "base/big_endian.h"
#include "base/etcd_errors.h"
#include "gtest/gtest.h"

namespace keel::server {
namespace {

using Clock = std::chrono::steady_clock;

// Records the read-index requests and the outcome of every read.
class Harness {
 public:
  Harness()
      : executor_(1, 1024),
        reads_([this](uint64_t ctx) { requests_.push_back(ctx); }, &executor_,
               std::chrono::milliseconds(7000)) {}

  void Read() {
    reads_.Read([this](absl::Status st) {
      std::lock_guard<std::mutex> lock(mu_);
      results_.push_back(st);
      cv_.notify_all();
    });
  }
  std::vector<absl::Status> WaitResults(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(10), [&] { return results_.size() >= n; });
    return results_;
  }
  void Answer(uint64_t ctx, uint64_t index) {
    reads_.OnReadStates({raft::ReadState{index, raft::Bytes(BigEndian64(ctx))}});
  }

  TaskQueue executor_;
  LinearizableReads reads_;
  std::vector<uint64_t> requests_;  // only touched by the test thread (calls are synchronous)
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<absl::Status> results_;
};

TEST(LinearizableReads, ReadsArrivingDuringARoundShareTheNextOne) {
  Harness h;
  h.Read();
  h.Read();
  h.Read();
  ASSERT_EQ(h.requests_.size(), 1u);  // one round in flight; the others wait for the next
  h.reads_.OnApplied(5);
  h.Answer(h.requests_[0], 5);
  ASSERT_EQ(h.requests_.size(), 2u);  // the waiting reads start the second round together
  h.Answer(h.requests_[1], 5);
  auto results = h.WaitResults(3);
  ASSERT_EQ(results.size(), 3u);
  for (const auto& st : results) EXPECT_TRUE(st.ok()) << st;
}

TEST(LinearizableReads, AnUnansweredRoundIsAskedAgainUnderANewContext) {
  Harness h;
  h.Read();
  ASSERT_EQ(h.requests_.size(), 1u);
  const uint64_t lost = h.requests_[0];
  h.reads_.ExpireBefore(Clock::now() + std::chrono::milliseconds(100));
  EXPECT_EQ(h.requests_.size(), 1u) << "retried too early";
  h.reads_.ExpireBefore(Clock::now() + std::chrono::milliseconds(600));
  ASSERT_EQ(h.requests_.size(), 2u);
  EXPECT_NE(h.requests_[1], lost);
  h.reads_.OnApplied(3);
  h.Answer(lost, 3);  // a late answer to the old context is ignored
  h.Answer(h.requests_[1], 3);
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
  h.Answer(h.requests_[0], 10);  // holds index 10, waits for apply
  h.Read();                      // a new round, in flight
  ASSERT_EQ(h.requests_.size(), 2u);
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
