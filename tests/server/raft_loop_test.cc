// RaftLoop on a real RocksDB log, on an event loop of the test's own (a member's is its peer
// transport's): log compaction when the applied state is ahead of the log; inputs queued
// before Start; one drain for what the loop's own thread queues; nothing after Stop.
#include "server/raft_loop.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "asio/executor_work_guard.hpp"
#include "asio/post.hpp"
#include "base/check.h"
#include "raft/storage/rocksdb_log_store.h"
#include "tests/kv/kv_test_util.h"

namespace keel::server {
namespace {

// An io_context run by one thread, as the peer transport runs its own.
class EventLoopThread {
 public:
  EventLoopThread() : work_(asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
  ~EventLoopThread() {
    work_.reset();
    io_.stop();
    thread_.join();
  }
  asio::io_context* io() { return &io_; }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

// What the apply hook saw: the size of every group of committed entries, and the last index.
struct Applied {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<size_t> groups;
  uint64_t last = 0;

  RaftLoop::Hooks Hooks() {
    RaftLoop::Hooks hooks;
    hooks.sync_applied_state = [] { return absl::OkStatus(); };
    hooks.apply = [this](std::vector<raft::Entry> entries) {
      std::lock_guard<std::mutex> lock(mu);
      groups.push_back(entries.size());
      last = entries.back().index;
      cv.notify_all();
    };
    return hooks;
  }
  bool WaitFor(uint64_t index) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(10), [&] { return last >= index; });
  }
};

// A single-voter raft loop (not started) on an event loop of its own, its log in a temporary
// directory. Members are destroyed in reverse: the raft loop stops before its event loop.
struct SoloLoop {
  EventLoopThread events;
  kv::testing::TempDir dir;
  std::unique_ptr<raft::RocksDbLogStore> store = OpenSoloLog(dir.path() + "/raft");
  Applied applied;
  RaftLoop loop{SoloConfig(), store.get(), applied.Hooks(), std::chrono::milliseconds(10),
                events.io()};

  // Returns once everything posted to the event loop before it has run.
  void RunPosted() {
    std::promise<void> ran;
    asio::post(*events.io(), [&] { ran.set_value(); });
    ran.get_future().wait();
  }

 private:
  static std::unique_ptr<raft::RocksDbLogStore> OpenSoloLog(const std::string& path) {
    auto opened = raft::RocksDbLogStore::Open(path);
    KEEL_CHECK(opened.ok()) << opened.status();
    KEEL_CHECK((*opened)->SetConfState(raft::ConfState{{1}, {}}).ok());
    return std::move(*opened);
  }
  static raft::Config SoloConfig() {
    raft::Config config;
    config.id = 1;
    return config;
  }
};

TEST(RaftLoop, CompactionAheadOfTheLogStopsAtTheCommitIndex) {
  // After a snapshot from the leader, the store's applied index (the state dumped when the
  // snapshot was sent) can be past this member's log. Compacting up to it used to record a
  // raft snapshot at an entry the log did not hold, and the member died.
  SoloLoop solo;
  RaftLoop& loop = solo.loop;
  ASSERT_TRUE(loop.Start(/*campaign_now=*/true).ok());
  for (int i = 0; i < 20; ++i) loop.Propose("entry " + std::to_string(i), nullptr);
  solo.applied.WaitFor(21);
  uint64_t commit = 0;  // last index handed to the apply hook
  {
    std::lock_guard<std::mutex> lock(solo.applied.mu);
    commit = solo.applied.last;
  }
  ASSERT_GE(commit, 21u) << "the leader's empty entry and the 20 proposals";

  loop.CompactLog(/*applied_index=*/commit + 100, /*keep_entries=*/5);
  // Inputs run in order on the loop: this runs after the compaction.
  std::promise<std::pair<uint64_t, uint64_t>> seen;
  loop.Submit([&](raft::RawNode&) {
    auto snapshot = solo.store->GetSnapshot();
    seen.set_value({solo.store->FirstIndex(), snapshot.ok() ? snapshot->metadata.index : 0});
  });
  auto future = seen.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto [first_index, snapshot_index] = future.get();
  EXPECT_EQ(snapshot_index, commit);
  EXPECT_EQ(first_index, commit - 5 + 1);
  loop.Stop();
}

TEST(RaftLoop, InputsQueuedBeforeStartAreHandledOnStart) {
  SoloLoop solo;
  RaftLoop& loop = solo.loop;
  // A peer's message can arrive before the member starts raft: it waits, it is not lost.
  std::promise<uint64_t> term;
  loop.Submit([&](raft::RawNode& node) { term.set_value(node.GetHardState().term); });
  auto future = term.get_future();
  EXPECT_EQ(future.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout)
      << "an input ran before Start";
  ASSERT_TRUE(loop.Start(/*campaign_now=*/true).ok());
  ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(future.get(), 1u) << "the campaign comes before the queued input";
  loop.Propose("after start", nullptr);
  EXPECT_TRUE(solo.applied.WaitFor(2)) << "the leader's empty entry and the proposal";
  loop.Stop();
}

TEST(RaftLoop, ProposalsFromTheLoopsOwnThreadShareOneDrain) {
  SoloLoop solo;
  RaftLoop& loop = solo.loop;
  ASSERT_TRUE(loop.Start(/*campaign_now=*/true).ok());
  ASSERT_TRUE(solo.applied.WaitFor(1)) << "the leader's empty entry";
  // As a peer connection's read handler steps several messages: they are gathered into one
  // drain after the handler, so raft appends (and fsyncs) them as one batch.
  asio::post(*solo.events.io(), [&] {
    for (int i = 0; i < 10; ++i) loop.Propose("entry " + std::to_string(i), nullptr);
  });
  ASSERT_TRUE(solo.applied.WaitFor(11));
  {
    std::lock_guard<std::mutex> lock(solo.applied.mu);
    EXPECT_EQ(solo.applied.groups.back(), 10u) << "the ten proposals committed as one group";
  }
  loop.Stop();
}

TEST(RaftLoop, NothingRunsAfterStop) {
  SoloLoop solo;
  RaftLoop& loop = solo.loop;
  ASSERT_TRUE(loop.Start(/*campaign_now=*/true).ok());
  ASSERT_TRUE(solo.applied.WaitFor(1));
  loop.Stop();
  // The event loop runs on (it is the transport's); the raft loop's inputs no longer reach
  // the node, and proposals are refused at once.
  bool ran = false;
  loop.Submit([&](raft::RawNode&) { ran = true; });
  absl::Status refused;
  loop.Propose("after stop", [&](absl::Status st) { refused = st; });
  EXPECT_EQ(refused.message(), "etcdserver: server stopped");
  solo.RunPosted();
  EXPECT_FALSE(ran);
  std::lock_guard<std::mutex> lock(solo.applied.mu);
  EXPECT_EQ(solo.applied.last, 1u);
}

TEST(RaftLoop, ProposalsStillQueuedAtStopAreDropped) {
  SoloLoop solo;
  RaftLoop& loop = solo.loop;
  // Never started (a member whose start failed half-way): what was queued is failed, so no
  // caller waits for an answer that cannot come.
  absl::Status dropped;
  loop.Propose("never proposed", [&](absl::Status st) { dropped = st; });
  solo.RunPosted();  // the drain that Propose posted has run (and left it queued)
  EXPECT_TRUE(dropped.ok());
  loop.Stop();
  EXPECT_EQ(dropped.message(), "etcdserver: server stopped");
}

}  // namespace
}  // namespace keel::server
