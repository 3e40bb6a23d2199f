// RaftLoop on a real RocksDB log: log compaction when the applied state is ahead of the log.
#include "server/raft_loop.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>

#include "raft/storage/rocksdb_log_store.h"
#include "tests/kv/kv_test_util.h"

namespace keel::server {
namespace {

TEST(RaftLoop, CompactionAheadOfTheLogStopsAtTheCommitIndex) {
  // After a snapshot from the leader, the store's applied index (the state dumped when the
  // snapshot was sent) can be past this member's log. Compacting up to it used to record a
  // raft snapshot at an entry the log did not hold, and the member died.
  kv::testing::TempDir dir;
  auto store = raft::RocksDbLogStore::Open(dir.path() + "/raft");
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->SetConfState(raft::ConfState{{1}, {}}).ok());
  raft::Config config;
  config.id = 1;
  std::mutex mu;
  std::condition_variable cv;
  uint64_t committed = 0;  // last index handed to the apply hook
  RaftLoop::Hooks hooks;
  hooks.sync_applied_state = [] { return absl::OkStatus(); };
  hooks.apply = [&](std::vector<raft::Entry> entries) {
    std::lock_guard<std::mutex> lock(mu);
    committed = entries.back().index;
    cv.notify_all();
  };
  RaftLoop loop(config, store->get(), std::move(hooks), std::chrono::milliseconds(10));
  ASSERT_TRUE(loop.Start(/*campaign_now=*/true).ok());
  for (int i = 0; i < 20; ++i) loop.Propose("entry " + std::to_string(i), nullptr);
  uint64_t commit = 0;
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, std::chrono::seconds(10), [&] { return committed >= 21; });
    commit = committed;
  }
  ASSERT_GE(commit, 21u) << "the leader's empty entry and the 20 proposals";

  loop.CompactLog(/*applied_index=*/commit + 100, /*keep_entries=*/5);
  // Inputs run in order on the raft thread: this runs after the compaction.
  std::promise<std::pair<uint64_t, uint64_t>> seen;
  loop.Submit([&](raft::RawNode&) {
    auto snapshot = (*store)->GetSnapshot();
    seen.set_value({(*store)->FirstIndex(), snapshot.ok() ? snapshot->metadata.index : 0});
  });
  auto future = seen.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto [first_index, snapshot_index] = future.get();
  EXPECT_EQ(snapshot_index, commit);
  EXPECT_EQ(first_index, commit - 5 + 1);
  loop.Stop();
}

}  // namespace
}  // namespace keel::server
