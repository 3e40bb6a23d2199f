// The LogStore contract (raft/storage/log_store.h), checked against every store. Cases follow
// etcd's storage_test.go where it has one.
#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "tests/raft/storage/storage_test_util.h"

namespace keel::raft::testing {
namespace {

template <typename H>
class LogStoreContractTest : public ::testing::Test {
 protected:
  LogStore& store() { return h_.store(); }

  // Snapshot at 3/3, then entries 4..last with term == index (etcd's fixture).
  void Fill(uint64_t last) {
    KEEL_ASSERT_OK(h_.ApplySnapshot(MakeSnapshot(3, 3, ConfState{{1, 2, 3}, {}})));
    std::vector<Entry> entries;
    for (uint64_t i = 4; i <= last; ++i) entries.push_back(MakeEntry(i, i));
    h_.Append(entries);
  }

  std::vector<Entry> All() {
    absl::StatusOr<std::vector<Entry>> all =
        store().Entries(store().FirstIndex(), store().LastIndex() + 1, UINT64_MAX);
    EXPECT_TRUE(all.ok()) << all.status();
    return all.ok() ? *all : std::vector<Entry>{};
  }

  H h_;
};

using Harnesses = ::testing::Types<MemoryHarness, RocksDbHarness, RocksDbNoCacheHarness,
                                   RocksDbSmallCacheHarness>;
TYPED_TEST_SUITE(LogStoreContractTest, Harnesses);

TYPED_TEST(LogStoreContractTest, Empty_HasFirstIndexOneLastIndexZero) {
  EXPECT_EQ(this->store().FirstIndex(), 1u);
  EXPECT_EQ(this->store().LastIndex(), 0u);
  ASSERT_TRUE(this->store().Term(0).ok());
  EXPECT_EQ(*this->store().Term(0), 0u);
  EXPECT_TRUE(IsErrUnavailable(this->store().Term(1).status()));
  EXPECT_TRUE(IsErrUnavailable(this->store().Entries(1, 2, UINT64_MAX).status()));
  EXPECT_TRUE(IsCompacted(this->store().Entries(0, 1, UINT64_MAX).status()));
  absl::StatusOr<std::vector<Entry>> none = this->store().Entries(1, 1, UINT64_MAX);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());
}

TYPED_TEST(LogStoreContractTest, Term_ReportsCompactedBelowDummyAndUnavailableAboveLast) {
  this->Fill(5);
  EXPECT_TRUE(IsCompacted(this->store().Term(2).status()));
  for (uint64_t i = 3; i <= 5; ++i) {
    absl::StatusOr<uint64_t> term = this->store().Term(i);
    ASSERT_TRUE(term.ok()) << i << ": " << term.status();
    EXPECT_EQ(*term, i);
  }
  EXPECT_TRUE(IsErrUnavailable(this->store().Term(6).status()));
}

TYPED_TEST(LogStoreContractTest, Entries_ReportsCompactedAndUnavailable) {
  this->Fill(6);
  EXPECT_TRUE(IsCompacted(this->store().Entries(2, 6, UINT64_MAX).status()));
  EXPECT_TRUE(IsCompacted(this->store().Entries(3, 4, UINT64_MAX).status()));
  EXPECT_TRUE(IsErrUnavailable(this->store().Entries(4, 8, UINT64_MAX).status()));
  EXPECT_FALSE(this->store().Entries(5, 4, UINT64_MAX).ok());
  absl::StatusOr<std::vector<Entry>> got = this->store().Entries(4, 7, UINT64_MAX);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, (std::vector<Entry>{MakeEntry(4, 4), MakeEntry(5, 5), MakeEntry(6, 6)}));
}

TYPED_TEST(LogStoreContractTest, Entries_LimitsSizeButReturnsAtLeastOneEntry) {
  this->Fill(6);
  const uint64_t one = MakeEntry(4, 4).SizeBytes();
  struct Case {
    uint64_t max_size_bytes;
    size_t want;
  };
  for (const Case& c : {Case{0, 1}, Case{one - 1, 1}, Case{one, 1}, Case{2 * one - 1, 1},
                        Case{2 * one, 2}, Case{3 * one, 3}, Case{UINT64_MAX, 3}}) {
    absl::StatusOr<std::vector<Entry>> got = this->store().Entries(4, 7, c.max_size_bytes);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->size(), c.want) << "max_size_bytes=" << c.max_size_bytes;
    EXPECT_EQ(got->front(), MakeEntry(4, 4));
  }
}

TYPED_TEST(LogStoreContractTest, Entries_ReturnsLongRangesInOrderAcrossSizeLimits) {
  // Long enough to span RocksDB and the tail cache in the small-cache store.
  this->h_.Append(MakeEntries(1, 50, 1));
  std::vector<Entry> want = MakeEntries(1, 50, 1);
  EXPECT_EQ(this->All(), want);
  const uint64_t limit = TotalSizeBytes(std::vector<Entry>(want.begin() + 10, want.begin() + 30));
  absl::StatusOr<std::vector<Entry>> got = this->store().Entries(11, 51, limit);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, std::vector<Entry>(want.begin() + 10, want.begin() + 30));
}

TYPED_TEST(LogStoreContractTest, Append_TruncatesConflictingSuffix) {
  this->h_.Append(MakeEntries(1, 5, 1));
  this->h_.Append(MakeEntries(3, 4, 2));
  std::vector<Entry> want = MakeEntries(1, 2, 1);
  for (const Entry& e : MakeEntries(3, 4, 2)) want.push_back(e);
  EXPECT_EQ(this->All(), want);
  EXPECT_EQ(this->store().LastIndex(), 4u);
  EXPECT_TRUE(IsErrUnavailable(this->store().Term(5).status()));
}

TYPED_TEST(LogStoreContractTest, Append_ExtendsAndReplacesFromFirstNewIndex) {
  // etcd TestStorageAppend, on a log of 3/3 4/4 5/5.
  this->Fill(5);
  this->h_.Append({MakeEntry(3, 3), MakeEntry(4, 4), MakeEntry(5, 5), MakeEntry(6, 5)});
  EXPECT_EQ(this->All(), (std::vector<Entry>{MakeEntry(4, 4), MakeEntry(5, 5), MakeEntry(6, 5)}));
  this->h_.Append({MakeEntry(6, 6)});
  EXPECT_EQ(this->All(), (std::vector<Entry>{MakeEntry(4, 4), MakeEntry(5, 5), MakeEntry(6, 6)}));
  this->h_.Append({MakeEntry(7, 6)});
  EXPECT_EQ(this->store().LastIndex(), 7u);
}

TYPED_TEST(LogStoreContractTest, Append_IgnoresEntriesAtOrBelowTheDummy) {
  this->Fill(5);
  this->h_.Append({MakeEntry(2, 3), MakeEntry(3, 3), MakeEntry(4, 6), MakeEntry(5, 6)});
  EXPECT_EQ(this->All(), (std::vector<Entry>{MakeEntry(4, 6), MakeEntry(5, 6)}));
  this->h_.Append({MakeEntry(1, 1), MakeEntry(2, 1)});
  EXPECT_EQ(this->store().FirstIndex(), 4u);
  EXPECT_EQ(this->store().LastIndex(), 5u);
  EXPECT_EQ(*this->store().Term(3), 3u);
}

TYPED_TEST(LogStoreContractTest, Compact_DropsPrefixAndKeepsItsTermAsDummy) {
  this->h_.Append(MakeEntries(1, 10, 2));
  KEEL_ASSERT_OK(this->h_.Compact(4));
  EXPECT_EQ(this->store().FirstIndex(), 5u);
  EXPECT_EQ(this->store().LastIndex(), 10u);
  EXPECT_EQ(*this->store().Term(4), 2u);
  EXPECT_TRUE(IsCompacted(this->store().Term(3).status()));
  EXPECT_TRUE(IsCompacted(this->store().Entries(4, 5, UINT64_MAX).status()));
  EXPECT_EQ(this->All(), MakeEntries(5, 10, 2));
}

TYPED_TEST(LogStoreContractTest, Compact_RejectsCompactedAndFutureIndexes) {
  this->h_.Append(MakeEntries(1, 10, 2));
  KEEL_ASSERT_OK(this->h_.Compact(4));
  EXPECT_TRUE(IsCompacted(this->h_.Compact(4)));
  EXPECT_TRUE(IsCompacted(this->h_.Compact(2)));
  EXPECT_TRUE(IsErrUnavailable(this->h_.Compact(11)));
  KEEL_EXPECT_OK(this->h_.Compact(10));
  EXPECT_EQ(this->store().FirstIndex(), 11u);
  EXPECT_EQ(this->store().LastIndex(), 10u);
  // An empty log after compaction still takes the next entry.
  this->h_.Append({MakeEntry(11, 3)});
  EXPECT_EQ(this->All(), (std::vector<Entry>{MakeEntry(11, 3)}));
}

TYPED_TEST(LogStoreContractTest, CreateSnapshot_RecordsIndexTermMembershipAndData) {
  this->h_.Append(MakeEntries(1, 5, 2));
  ConfState cs{{1, 2, 3}, {4}};
  absl::StatusOr<Snapshot> snap = this->h_.CreateSnapshot(4, &cs, Bytes(std::string("state")));
  ASSERT_TRUE(snap.ok()) << snap.status();
  EXPECT_EQ(*snap, MakeSnapshot(4, 2, cs, "state"));
  EXPECT_EQ(*this->store().GetSnapshot(), *snap);
  EXPECT_EQ(this->store().GetInitialState()->conf_state, cs);
  // The log itself is untouched.
  EXPECT_EQ(this->store().FirstIndex(), 1u);
  EXPECT_EQ(this->All(), MakeEntries(1, 5, 2));
}

TYPED_TEST(LogStoreContractTest, CreateSnapshot_WithoutMembershipKeepsCurrentOne) {
  this->h_.Append(MakeEntries(1, 5, 2));
  KEEL_ASSERT_OK(this->h_.SetConfState(ConfState{{7, 8, 9}, {}}));
  absl::StatusOr<Snapshot> snap = this->h_.CreateSnapshot(3, nullptr, Bytes());
  ASSERT_TRUE(snap.ok()) << snap.status();
  EXPECT_EQ(snap->metadata.conf_state, (ConfState{{7, 8, 9}, {}}));
}

TYPED_TEST(LogStoreContractTest, CreateSnapshot_RejectsOldCompactedAndFutureIndexes) {
  this->h_.Append(MakeEntries(1, 10, 2));
  ASSERT_TRUE(this->h_.CreateSnapshot(5, nullptr, Bytes()).ok());
  EXPECT_TRUE(IsSnapOutOfDate(this->h_.CreateSnapshot(5, nullptr, Bytes()).status()));
  EXPECT_TRUE(IsSnapOutOfDate(this->h_.CreateSnapshot(3, nullptr, Bytes()).status()));
  EXPECT_TRUE(IsErrUnavailable(this->h_.CreateSnapshot(11, nullptr, Bytes()).status()));
  KEEL_ASSERT_OK(this->h_.Compact(8));
  EXPECT_TRUE(IsCompacted(this->h_.CreateSnapshot(7, nullptr, Bytes()).status()));
  EXPECT_EQ(this->store().GetSnapshot()->metadata.index, 5u);
}

TYPED_TEST(LogStoreContractTest, ApplySnapshot_ReplacesTheWholeLog) {
  this->h_.Append(MakeEntries(1, 10, 2));
  Snapshot snap = MakeSnapshot(6, 3, ConfState{{1, 2}, {}}, "data");
  KEEL_ASSERT_OK(this->h_.ApplySnapshot(snap));
  EXPECT_EQ(this->store().FirstIndex(), 7u);
  EXPECT_EQ(this->store().LastIndex(), 6u);
  EXPECT_EQ(*this->store().Term(6), 3u);
  EXPECT_TRUE(IsErrUnavailable(this->store().Term(7).status()));
  EXPECT_EQ(*this->store().GetSnapshot(), snap);
  EXPECT_EQ(this->store().GetInitialState()->conf_state, snap.metadata.conf_state);
  this->h_.Append(MakeEntries(7, 8, 3));
  EXPECT_EQ(this->All(), MakeEntries(7, 8, 3));
}

TYPED_TEST(LogStoreContractTest, ApplySnapshot_RejectsOneNotNewerThanCurrent) {
  KEEL_ASSERT_OK(this->h_.ApplySnapshot(MakeSnapshot(4, 4, ConfState{{1}, {}})));
  EXPECT_TRUE(IsSnapOutOfDate(this->h_.ApplySnapshot(MakeSnapshot(4, 4, ConfState{{1}, {}}))));
  EXPECT_TRUE(IsSnapOutOfDate(this->h_.ApplySnapshot(MakeSnapshot(3, 3, ConfState{{1}, {}}))));
  EXPECT_EQ(this->store().FirstIndex(), 5u);
}

TYPED_TEST(LogStoreContractTest, GetInitialState_ReturnsHardStateAndBootstrapMembership) {
  this->h_.SetHardState(HardState{5, 2, 3});
  KEEL_ASSERT_OK(this->h_.SetConfState(ConfState{{1, 2, 3}, {4}}));
  absl::StatusOr<InitialState> init = this->store().GetInitialState();
  ASSERT_TRUE(init.ok()) << init.status();
  EXPECT_EQ(init->hard_state, (HardState{5, 2, 3}));
  EXPECT_EQ(init->conf_state, (ConfState{{1, 2, 3}, {4}}));
}

TYPED_TEST(LogStoreContractTest, Restart_RecoversSyncedState) {
  // Every kind of write, then a sync: a restart must show exactly this state.
  this->h_.Append(MakeEntries(1, 20, 1));
  this->h_.Append(MakeEntries(15, 17, 2));  // truncates 18..20
  KEEL_ASSERT_OK(this->h_.Compact(5));
  ConfState cs{{1, 2, 3}, {}};
  ASSERT_TRUE(this->h_.CreateSnapshot(12, &cs, Bytes(std::string("kv@12"))).ok());
  this->h_.SetHardState(HardState{2, 1, 12});
  this->h_.Sync();
  const std::string before = DumpStore(this->store());
  this->h_.Restart();
  EXPECT_EQ(DumpStore(this->store()), before);

  // And again after a snapshot replaced the log.
  KEEL_ASSERT_OK(this->h_.ApplySnapshot(MakeSnapshot(30, 4, ConfState{{1, 2}, {3}}, "kv@30")));
  this->h_.Append(MakeEntries(31, 33, 4));
  this->h_.Sync();
  const std::string after_snapshot = DumpStore(this->store());
  this->h_.Restart();
  EXPECT_EQ(DumpStore(this->store()), after_snapshot);
}

}  // namespace
}  // namespace keel::raft::testing
