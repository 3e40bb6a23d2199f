// RpcLoop: tasks run once each, on the loop's one thread, and Drain waits for them.
#include "server/rpc_loop.h"

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "raft/types.h"
#include "server/linearizable_reads.h"
#include "server/read_index_context.h"

namespace keel::server {
namespace {

std::unique_ptr<RpcLoop> StartedLoop() {
  auto loop = std::make_unique<RpcLoop>(std::make_unique<grpc::CompletionQueue>());
  loop->Start();
  return loop;
}

TEST(RpcLoop, RunsEveryTaskOnceOnOneThreadOffTheCallers) {
  auto runner = StartedLoop();
  std::atomic<int> ran{0};
  std::atomic<int> on_caller{0};
  std::mutex mu;
  std::set<std::thread::id> threads;
  const auto caller = std::this_thread::get_id();
  for (int i = 0; i < 1000; ++i) {
    runner->Run([&] {
      if (std::this_thread::get_id() == caller) ++on_caller;
      ++ran;
      std::lock_guard<std::mutex> lock(mu);
      threads.insert(std::this_thread::get_id());
    });
  }
  runner->Drain();
  EXPECT_EQ(ran.load(), 1000);
  EXPECT_EQ(on_caller.load(), 0);
  EXPECT_EQ(threads.size(), 1u);
}

TEST(RpcLoop, AfterStopATaskRunsOnTheCaller) {
  auto runner = StartedLoop();
  runner->Stop();
  std::thread::id ran_on;
  runner->Run([&] { ran_on = std::this_thread::get_id(); });
  EXPECT_EQ(ran_on, std::this_thread::get_id());
}

TEST(RpcLoop, DrainWaitsForATaskStillRunning) {
  auto runner = StartedLoop();
  std::promise<void> started, release;
  std::atomic<bool> finished{false};
  runner->Run([&] {
    started.set_value();
    release.get_future().wait();
    finished = true;
  });
  started.get_future().wait();
  auto drained = std::async(std::launch::async, [&] { runner->Drain(); });
  EXPECT_EQ(drained.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  release.set_value();
  drained.wait();
  EXPECT_TRUE(finished.load());
}

TEST(RpcLoop, LinearizableReadsServeTheirBatchesThroughIt) {
  auto runner = StartedLoop();
  std::promise<uint64_t> asked;
  LinearizableReads reads(/*member_id=*/1, [&](uint64_t ctx) { asked.set_value(ctx); },
                          [&](std::function<void()> task) { runner->Run(std::move(task)); },
                          std::chrono::milliseconds(7000));
  std::promise<std::pair<absl::Status, std::thread::id>> served;
  reads.Read([&](absl::Status st) { served.set_value({st, std::this_thread::get_id()}); });
  uint64_t ctx = asked.get_future().get();
  reads.OnReadStates({raft::ReadState{0, EncodeReadIndexContext(1, ctx)}});
  auto [status, thread] = served.get_future().get();
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_NE(thread, std::this_thread::get_id());
  runner->Drain();  // before `reads` goes: the task still touches it after serving
}

}  // namespace
}  // namespace keel::server
