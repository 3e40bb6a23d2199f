// RocksDbLogStore's own claims: one atomic batch per Save, durability across close and reopen,
// the on-disk format, reads of recent entries from memory, and errors as absl::Status.
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "raft/codec.h"
#include "raft/storage/rocksdb_log_store.h"
#include "rocksdb/db.h"
#include "tests/raft/storage/storage_test_util.h"

namespace keel::raft::testing {
namespace {

std::string IndexKey(uint64_t index) {
  std::string key(8, '\0');
  for (int i = 7; i >= 0; --i, index >>= 8) key[i] = static_cast<char>(index & 0xff);
  return key;
}

std::unique_ptr<RocksDbLogStore> OpenOrDie(const std::string& dir,
                                           RocksDbLogStoreOptions options = {}) {
  absl::StatusOr<std::unique_ptr<RocksDbLogStore>> store = RocksDbLogStore::Open(dir, options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(*store) : nullptr;
}

// A DB opened by the test, as the server opens it, with the store's column families.
struct OwnedDb {
  explicit OwnedDb(const std::string& dir) {
    rocksdb::DBOptions options;
    options.create_if_missing = true;
    options.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {
        rocksdb::ColumnFamilyDescriptor(rocksdb::kDefaultColumnFamilyName, {})};
    for (auto& d : RocksDbLogStore::ColumnFamilies()) descriptors.push_back(d);
    rocksdb::DB* raw = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(options, dir, descriptors, &handles, &raw);
    EXPECT_TRUE(s.ok()) << s.ToString();
    db.reset(raw);
  }
  ~OwnedDb() {
    for (auto* h : handles) (void)db->DestroyColumnFamilyHandle(h);
  }
  rocksdb::ColumnFamilyHandle* log_cf() { return handles[1]; }
  rocksdb::ColumnFamilyHandle* meta_cf() { return handles[2]; }
  std::unique_ptr<RocksDbLogStore> Attach(RocksDbLogStoreOptions options = {}) {
    auto store = RocksDbLogStore::Attach(db.get(), log_cf(), meta_cf(), options);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  std::unique_ptr<rocksdb::DB> db;
};

TEST(RocksDbLogStoreTest, Reopen_RecoversSyncedSaves) {
  TempDir dir;
  std::string before;
  {
    auto store = OpenOrDie(dir.path());
    ASSERT_NE(store, nullptr);
    HardState hs{3, 1, 7};
    KEEL_ASSERT_OK(store->Save(&hs, MakeEntries(1, 10, 1), nullptr, /*sync=*/true));
    // A new leader overwrites 8..10 with a shorter suffix.
    KEEL_ASSERT_OK(store->Save(nullptr, MakeEntries(8, 8, 3), nullptr, /*sync=*/true));
    KEEL_ASSERT_OK(store->Compact(4));
    before = DumpStore(*store);
  }
  auto store = OpenOrDie(dir.path());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(DumpStore(*store), before);
  EXPECT_EQ(store->FirstIndex(), 5u);
  EXPECT_EQ(store->LastIndex(), 8u);
  EXPECT_EQ(*store->Term(8), 3u);
  EXPECT_EQ(*store->Term(4), 1u);
}

TEST(RocksDbLogStoreTest, Save_AppliesSnapshotEntriesAndHardStateInOneBatch) {
  TempDir dir;
  std::string before;
  {
    auto store = OpenOrDie(dir.path());
    KEEL_ASSERT_OK(store->Save(nullptr, MakeEntries(1, 5, 1), nullptr, true));
    Snapshot snap = MakeSnapshot(20, 4, ConfState{{1, 2, 3}, {}}, "kv@20");
    HardState hs{4, 2, 20};
    // Entries at or below the snapshot are ignored; the rest follow it.
    KEEL_ASSERT_OK(store->Save(&hs, MakeEntries(19, 22, 4), &snap, true));
    EXPECT_EQ(store->FirstIndex(), 21u);
    EXPECT_EQ(store->LastIndex(), 22u);
    EXPECT_EQ(*store->GetSnapshot(), snap);
    EXPECT_EQ(store->GetInitialState()->conf_state, snap.metadata.conf_state);
    EXPECT_EQ(store->GetInitialState()->hard_state, hs);
    before = DumpStore(*store);
  }
  auto store = OpenOrDie(dir.path());
  EXPECT_EQ(DumpStore(*store), before);
}

TEST(RocksDbLogStoreTest, Save_RejectsGapAndChangesNothing) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  KEEL_ASSERT_OK(store->Save(nullptr, MakeEntries(1, 3, 1), nullptr, true));
  const std::string before = DumpStore(*store);
  HardState hs{9, 9, 9};
  absl::Status s = store->Save(&hs, MakeEntries(5, 6, 1), nullptr, true);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  s = store->Save(&hs, {MakeEntry(4, 1), MakeEntry(6, 1)}, nullptr, true);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_EQ(DumpStore(*store), before);
  store.reset();
  store = OpenOrDie(dir.path());
  EXPECT_EQ(DumpStore(*store), before);
}

TEST(RocksDbLogStoreTest, Save_OutOfDateSnapshotChangesNothing) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  Snapshot snap = MakeSnapshot(10, 2, ConfState{{1}, {}});
  KEEL_ASSERT_OK(store->Save(nullptr, {}, &snap, true));
  const std::string before = DumpStore(*store);
  Snapshot old = MakeSnapshot(8, 2, ConfState{{1}, {}});
  HardState hs{5, 1, 9};
  EXPECT_TRUE(IsSnapOutOfDate(store->Save(&hs, MakeEntries(11, 12, 2), &old, true)));
  EXPECT_EQ(DumpStore(*store), before);
}

TEST(RocksDbLogStoreTest, Term_RecentIndexIsServedFromMemory) {
  // Delete an entry behind the store's back: a store that reads RocksDB notices, one that
  // serves the tail from memory does not.
  TempDir dir;
  OwnedDb db(dir.path());
  auto cached = db.Attach();
  KEEL_ASSERT_OK(cached->Save(nullptr, MakeEntries(1, 10, 1), nullptr, true));
  ASSERT_TRUE(db.db->Delete(rocksdb::WriteOptions(), db.log_cf(), IndexKey(9)).ok());
  EXPECT_EQ(*cached->Term(9), 1u);
  EXPECT_EQ(*cached->Entries(9, 10, UINT64_MAX), MakeEntries(9, 9, 1));

  TempDir dir2;
  OwnedDb db2(dir2.path());
  RocksDbLogStoreOptions no_cache;
  no_cache.tail_cache_bytes = 0;
  auto uncached = db2.Attach(no_cache);
  KEEL_ASSERT_OK(uncached->Save(nullptr, MakeEntries(1, 10, 1), nullptr, true));
  ASSERT_TRUE(db2.db->Delete(rocksdb::WriteOptions(), db2.log_cf(), IndexKey(9)).ok());
  EXPECT_EQ(uncached->Term(9).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(uncached->Entries(8, 11, UINT64_MAX).status().code(), absl::StatusCode::kDataLoss);
}

TEST(RocksDbLogStoreTest, TailCache_StaysWithinItsByteBudget) {
  TempDir dir;
  // Equal-sized entries, so the budget holds exactly ten.
  std::vector<Entry> all;
  for (uint64_t i = 1; i <= 99; ++i) all.push_back(MakeEntry(i, 1, std::string(100, 'x')));
  RocksDbLogStoreOptions options;
  options.tail_cache_bytes = 10 * all[0].SizeBytes();
  auto store = OpenOrDie(dir.path(), options);
  for (size_t i = 0; i < all.size(); i += 9) {
    std::vector<Entry> batch(all.begin() + i, all.begin() + i + 9);
    KEEL_ASSERT_OK(store->Save(nullptr, batch, nullptr, false));
    EXPECT_LE(store->TailCacheBytes(), options.tail_cache_bytes);
  }
  EXPECT_EQ(store->LastIndex(), 99u);
  EXPECT_EQ(store->TailCacheEntries(), 10u);
  EXPECT_EQ(*store->Entries(1, 100, UINT64_MAX), all);
  // Reopening warms the cache from the end of the log.
  store.reset();
  store = OpenOrDie(dir.path(), options);
  EXPECT_EQ(store->TailCacheEntries(), 10u);
  EXPECT_EQ(*store->Entries(1, 100, UINT64_MAX), all);
}

TEST(RocksDbLogStoreTest, Attach_LeavesTheDbToItsOwner) {
  TempDir dir;
  OwnedDb db(dir.path());
  std::string before;
  {
    auto store = db.Attach();
    HardState hs{1, 1, 1};
    KEEL_ASSERT_OK(store->Save(&hs, MakeEntries(1, 3, 1), nullptr, true));
    before = DumpStore(*store);
  }
  // The DB is still open and usable by its owner; a new store sees the same state.
  ASSERT_TRUE(db.db->Put(rocksdb::WriteOptions(), "kv-key", "v").ok());
  auto store = db.Attach();
  EXPECT_EQ(DumpStore(*store), before);
}

TEST(RocksDbLogStoreTest, Attach_RejectsMissingColumnFamilies) {
  TempDir dir;
  OwnedDb db(dir.path());
  EXPECT_EQ(RocksDbLogStore::Attach(db.db.get(), db.log_cf(), db.log_cf()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RocksDbLogStore::Attach(nullptr, db.log_cf(), db.meta_cf()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RocksDbLogStoreTest, Open_WritesDocumentedFormat) {
  TempDir dir;
  OwnedDb db(dir.path());
  {
    auto store = db.Attach();
    HardState hs{2, 1, 3};
    KEEL_ASSERT_OK(store->Save(&hs, MakeEntries(1, 3, 2), nullptr, true));
    KEEL_ASSERT_OK(store->Compact(1));
  }
  std::string value;
  ASSERT_TRUE(db.db->Get({}, db.meta_cf(), "format_version", &value).ok());
  EXPECT_EQ(value, "1");
  ASSERT_TRUE(db.db->Get({}, db.meta_cf(), "log_start", &value).ok());
  EXPECT_EQ(value, IndexKey(1) + IndexKey(2));
  ASSERT_TRUE(db.db->Get({}, db.meta_cf(), "hard_state", &value).ok());
  EXPECT_EQ(*DecodeHardState(value), (HardState{2, 1, 3}));
  ASSERT_TRUE(db.db->Get({}, db.log_cf(), IndexKey(3), &value).ok());
  EXPECT_EQ(*DecodeEntry(value), MakeEntries(3, 3, 2)[0]);
  EXPECT_TRUE(db.db->Get({}, db.log_cf(), IndexKey(1), &value).IsNotFound());
}

TEST(RocksDbLogStoreTest, Open_RefusesUnknownFormatVersion) {
  TempDir dir;
  {
    OwnedDb db(dir.path());
    ASSERT_TRUE(db.db->Put({}, db.meta_cf(), "format_version", "2").ok());
  }
  absl::StatusOr<std::unique_ptr<RocksDbLogStore>> store = RocksDbLogStore::Open(dir.path());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition) << store.status();
}

TEST(RocksDbLogStoreTest, Open_DetectsLogThatDoesNotFollowTheDummy) {
  TempDir dir;
  {
    OwnedDb db(dir.path());
    auto store = db.Attach();
    KEEL_ASSERT_OK(store->Save(nullptr, MakeEntries(1, 5, 1), nullptr, true));
    ASSERT_TRUE(db.db->Delete({}, db.log_cf(), IndexKey(1)).ok());
  }
  absl::StatusOr<std::unique_ptr<RocksDbLogStore>> store = RocksDbLogStore::Open(dir.path());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss) << store.status();
}

TEST(RocksDbLogStoreTest, Open_ReportsRocksDbErrorsAsStatus) {
  TempDir dir;
  const std::string file = dir.path() + "/not-a-dir";
  std::ofstream(file) << "a file where a directory is expected";
  absl::StatusOr<std::unique_ptr<RocksDbLogStore>> store = RocksDbLogStore::Open(file + "/db");
  EXPECT_FALSE(store.ok());
}

}  // namespace
}  // namespace keel::raft::testing
