// MemoryLogStore's disk model: writes are visible at once, durable only after Sync(), and a
// Crash() returns the store to exactly the last synced state.
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "raft/storage/memory_log_store.h"
#include "tests/raft/storage/storage_test_util.h"

namespace keel::raft::testing {
namespace {

TEST(MemoryLogStoreTest, Write_IsVisibleBeforeSync) {
  MemoryLogStore store;
  store.Append(MakeEntries(1, 3, 1));
  store.SetHardState(HardState{1, 1, 2});
  EXPECT_EQ(store.LastIndex(), 3u);
  EXPECT_EQ(store.GetInitialState()->hard_state, (HardState{1, 1, 2}));
  EXPECT_TRUE(store.HasUnsyncedWrites());
  store.Sync();
  EXPECT_FALSE(store.HasUnsyncedWrites());
}

TEST(MemoryLogStoreTest, Crash_LosesUnsyncedWrites) {
  MemoryLogStore store;
  store.Append(MakeEntries(1, 3, 1));
  store.SetHardState(HardState{1, 1, 2});
  store.Sync();
  const std::string synced = DumpStore(store);
  store.Append(MakeEntries(4, 6, 1));
  store.SetHardState(HardState{2, 3, 5});
  store.SetConfState(ConfState{{1, 2}, {}});
  store.Crash();
  EXPECT_EQ(DumpStore(store), synced);
  EXPECT_FALSE(store.HasUnsyncedWrites());
}

TEST(MemoryLogStoreTest, Crash_BeforeAnySyncLeavesEmptyStore) {
  MemoryLogStore store;
  const std::string empty = DumpStore(store);
  store.Append(MakeEntries(1, 3, 1));
  store.Crash();
  EXPECT_EQ(DumpStore(store), empty);
}

TEST(MemoryLogStoreTest, Crash_RestoresTruncatedSuffix) {
  MemoryLogStore store;
  store.Append(MakeEntries(1, 5, 1));
  store.Sync();
  store.Append(MakeEntries(3, 3, 2));  // unsynced truncation of 3..5
  EXPECT_EQ(store.LastIndex(), 3u);
  store.Crash();
  EXPECT_EQ(store.LastIndex(), 5u);
  EXPECT_EQ(*store.Entries(1, 6, UINT64_MAX), MakeEntries(1, 5, 1));
}

TEST(MemoryLogStoreTest, Crash_UndoesUnsyncedCompactionAndSnapshots) {
  MemoryLogStore store;
  store.Append(MakeEntries(1, 10, 1));
  store.Sync();
  const std::string synced = DumpStore(store);
  ASSERT_TRUE(store.CreateSnapshot(6, nullptr, Bytes(std::string("s"))).ok());
  KEEL_ASSERT_OK(store.Compact(6));
  KEEL_ASSERT_OK(store.ApplySnapshot(MakeSnapshot(20, 2, ConfState{{1}, {}})));
  store.Crash();
  EXPECT_EQ(DumpStore(store), synced);
}

TEST(MemoryLogStoreTest, Sync_KeepsWritesAcrossLaterCrashes) {
  MemoryLogStore store;
  store.Append(MakeEntries(1, 10, 1));
  KEEL_ASSERT_OK(store.Compact(3));
  store.Append(MakeEntries(8, 12, 2));
  ASSERT_TRUE(store.CreateSnapshot(9, nullptr, Bytes(std::string("s"))).ok());
  store.Sync();
  const std::string synced = DumpStore(store);
  store.Crash();
  EXPECT_EQ(DumpStore(store), synced);
  store.Crash();
  EXPECT_EQ(DumpStore(store), synced);
}

TEST(MemoryLogStoreTest, GetSnapshot_CanBeMadeTemporarilyUnavailable) {
  MemoryLogStore store;
  store.SetSnapshotTemporarilyUnavailable(true);
  EXPECT_TRUE(IsSnapshotTemporarilyUnavailable(store.GetSnapshot().status()));
  store.SetSnapshotTemporarilyUnavailable(false);
  EXPECT_TRUE(store.GetSnapshot().ok());
}

TEST(MemoryLogStoreDeathTest, Append_GapIsFatal) {
  MemoryLogStore store;
  store.Append(MakeEntries(1, 3, 1));
  EXPECT_DEATH(store.Append(MakeEntries(5, 6, 1)), "gap");
}

TEST(MemoryLogStoreDeathTest, Append_NonContiguousEntriesAreFatal) {
  MemoryLogStore store;
  EXPECT_DEATH(store.Append({MakeEntry(1, 1), MakeEntry(3, 1)}), "contiguous");
}

// A seeded random history of writes, syncs and crashes: after every crash the store must show
// exactly what it showed at the last sync (Sync() replays a journal, so this checks the replay
// reaches the same state as the writes did).
TEST(MemoryLogStoreTest, Crash_AlwaysRestoresLastSyncedState_Randomized) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    auto below = [&rng](uint64_t n) { return n == 0 ? 0 : rng() % n; };
    MemoryLogStore store;
    std::string synced = DumpStore(store);
    uint64_t term = 1;
    for (int step = 0; step < 400; ++step) {
      switch (below(8)) {
        case 0:
        case 1:
        case 2: {  // append, possibly over a conflicting suffix
          const uint64_t first = store.FirstIndex();
          const uint64_t from = first + below(store.LastIndex() + 2 - first);
          if (below(4) == 0) ++term;
          store.Append(MakeEntries(from, from + below(5), term));
          break;
        }
        case 3:
          store.SetHardState(HardState{term, below(3), below(store.LastIndex() + 1)});
          break;
        case 4:
          if (store.LastIndex() >= store.FirstIndex()) {
            const uint64_t at = store.FirstIndex() + below(store.LastIndex() + 1 - store.FirstIndex());
            if (below(2) == 0) {
              (void)store.CreateSnapshot(at, nullptr, Bytes(std::to_string(step)));
            } else {
              KEEL_ASSERT_OK(store.Compact(at));
            }
          }
          break;
        case 5:
          if (below(4) == 0) {
            const uint64_t at = store.LastIndex() + below(5);
            (void)store.ApplySnapshot(MakeSnapshot(at, term, ConfState{{1, 2, 3}, {}}, "snap"));
          } else {
            store.SetConfState(ConfState{{1 + below(3)}, {}});
          }
          break;
        case 6:
          store.Sync();
          synced = DumpStore(store);
          break;
        case 7:
          store.Crash();
          ASSERT_EQ(DumpStore(store), synced) << "step " << step;
          break;
      }
    }
  }
}

}  // namespace
}  // namespace keel::raft::testing
