// The RocksDB store against the in-memory one: the same seeded history of writes must leave
// both showing the same state after every step, and the RocksDB store the same after reopening.
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/raft/storage/storage_test_util.h"

namespace keel::raft::testing {
namespace {

TEST(LogStoreDifferentialTest, RocksDbMatchesMemoryStoreOnRandomHistories) {
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    auto below = [&rng](uint64_t n) { return n == 0 ? 0 : rng() % n; };
    MemoryHarness memory;
    RocksDbSmallCacheHarness rocks;
    StoreHarness* both[] = {&memory, &rocks};
    uint64_t term = 1;
    for (int step = 0; step < 150; ++step) {
      const LogStore& m = memory.store();
      switch (below(7)) {
        case 0:
        case 1:
        case 2: {
          const uint64_t from = m.FirstIndex() + below(m.LastIndex() + 2 - m.FirstIndex());
          if (below(4) == 0) ++term;
          const std::vector<Entry> entries = MakeEntries(from, from + below(6), term);
          for (StoreHarness* h : both) h->Append(entries);
          break;
        }
        case 3: {
          HardState hs{term, below(3), below(m.LastIndex() + 1)};
          for (StoreHarness* h : both) h->SetHardState(hs);
          break;
        }
        case 4: {
          const uint64_t at = m.FirstIndex() - 1 + below(m.LastIndex() + 3 - m.FirstIndex());
          const bool snapshot = below(2) == 0;
          absl::Status want = snapshot ? memory.CreateSnapshot(at, nullptr, Bytes()).status()
                                       : memory.Compact(at);
          absl::Status got = snapshot ? rocks.CreateSnapshot(at, nullptr, Bytes()).status()
                                      : rocks.Compact(at);
          ASSERT_EQ(got, want) << "step " << step;
          break;
        }
        case 5: {
          Snapshot snap = MakeSnapshot(m.LastIndex() + below(4), term, ConfState{{1, 2}, {}}, "s");
          // Save() reads an empty snapshot as "none", ApplySnapshot() as out of date.
          if (snap.IsEmpty()) snap.metadata.index = 1;
          ASSERT_EQ(rocks.ApplySnapshot(snap), memory.ApplySnapshot(snap)) << "step " << step;
          break;
        }
        case 6:
          for (StoreHarness* h : both) h->Sync();
          if (below(2) == 0) rocks.Restart();
          break;
      }
      ASSERT_EQ(DumpStore(rocks.store()), DumpStore(m)) << "step " << step;
    }
  }
}

}  // namespace
}  // namespace keel::raft::testing
