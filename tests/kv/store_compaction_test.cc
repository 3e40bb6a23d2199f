// Compaction, historical reads, HashKV and restart.
#include "base/etcd_errors.h"
#include "kv_test_util.h"

namespace keel::kv::testing {
namespace {

using CompactionSemantics = StoreFixture;
using Restart = StoreFixture;
using HashKv = StoreFixture;

TEST_F(CompactionSemantics, KeepsLatestRevisionOfEachLiveKey) {
  ASSERT_TRUE(Put("a", "1").ok());  // 2
  ASSERT_TRUE(Put("a", "2").ok());  // 3
  ASSERT_TRUE(Put("b", "1").ok());  // 4
  ASSERT_TRUE(Put("a", "3").ok());  // 5
  ASSERT_TRUE(Compact(4).ok());
  EXPECT_EQ(Get("a", "", 4)->kvs(0).value(), "2");
  EXPECT_EQ(Get("b", "", 4)->kvs(0).value(), "1");
  EXPECT_EQ(Get("a", "", 5)->kvs(0).value(), "3");
  EXPECT_EQ(Get("a", "", 3).status(), ErrCompacted());
  EXPECT_EQ(Get("a")->kvs(0).version(), 3);  // versions are not renumbered
  store_->CheckInvariants();
}

TEST_F(CompactionSemantics, DropsTombstonesAtOrBelowTheRevision) {
  ASSERT_TRUE(Put("a", "1").ok());  // 2
  ASSERT_TRUE(Del("a").ok());       // 3
  ASSERT_TRUE(Put("b", "1").ok());  // 4
  ASSERT_TRUE(Compact(3).ok());
  EXPECT_EQ(Get("a", "", 3)->count(), 0);
  EXPECT_EQ(Get(std::string(1, '\0'), std::string(1, '\0'), 3)->count(), 0);
  Reopen();  // nothing of "a" is left on disk either
  EXPECT_EQ(Get("a", "", 3)->count(), 0);
  EXPECT_EQ(Get("b")->count(), 1);
  store_->CheckInvariants();
}

TEST_F(CompactionSemantics, KeepsTombstonesAboveTheRevision) {
  ASSERT_TRUE(Put("a", "1").ok());  // 2
  ASSERT_TRUE(Put("b", "1").ok());  // 3
  ASSERT_TRUE(Del("a").ok());       // 4
  ASSERT_TRUE(Compact(3).ok());
  EXPECT_EQ(Get("a", "", 3)->kvs(0).value(), "1");
  EXPECT_EQ(Get("a", "", 4)->count(), 0);
}

TEST_F(CompactionSemantics, RefusesPastAndFutureRevisions) {
  ASSERT_TRUE(Put("a", "1").ok());
  ASSERT_TRUE(Put("a", "2").ok());
  EXPECT_EQ(Compact(4).status(), ErrFutureRev());
  ASSERT_TRUE(Compact(3).ok());
  EXPECT_EQ(Compact(3).status(), ErrCompacted());
  EXPECT_EQ(Compact(2).status(), ErrCompacted());
  EXPECT_EQ(store_->CompactedRevision(), 3);
  auto r = Compact(3);
  EXPECT_FALSE(r.ok());
}

TEST_F(CompactionSemantics, CompactionAtCurrentRevisionKeepsTheRevision) {
  ASSERT_TRUE(Put("a", "1").ok());
  ASSERT_TRUE(Del("a").ok());  // 3, the newest write is a tombstone
  ASSERT_TRUE(Compact(3).ok());
  Reopen();
  EXPECT_EQ(store_->CurrentRevision(), 3);
  EXPECT_EQ(store_->CompactedRevision(), 3);
  EXPECT_EQ(Put("b", "1")->response.header().revision(), 4);
}

TEST_F(Restart, RebuildsKeyIndexAndRevision) {
  ASSERT_TRUE(Put("a", "1").ok());
  ASSERT_TRUE(Put("a", "2").ok());
  ASSERT_TRUE(Put("b", "1").ok());
  ASSERT_TRUE(Del("b").ok());
  ASSERT_TRUE(Put("c", "1").ok());
  Reopen();
  store_->CheckInvariants();
  EXPECT_EQ(store_->CurrentRevision(), 6);
  auto a = Get("a");
  EXPECT_EQ(a->kvs(0).version(), 2);
  EXPECT_EQ(a->kvs(0).create_revision(), 2);
  EXPECT_EQ(Get("b")->count(), 0);
  EXPECT_EQ(Get("b", "", 4)->kvs(0).value(), "1");
  // Versions continue from the rebuilt summaries.
  EXPECT_EQ(Put("a", "3")->events[0].kv().version(), 3);
  EXPECT_EQ(Put("b", "2")->events[0].kv().create_revision(), 8);
}

TEST_F(Restart, AppliedIndexSurvives) {
  ASSERT_TRUE(store_->Put(PutReq("a", "1"), 10).ok());
  ASSERT_TRUE(store_->MarkApplied(12).ok());
  Reopen();
  EXPECT_EQ(store_->AppliedIndex(), 12u);
  ASSERT_TRUE(store_->Compact(2, 13).ok());
  Reopen();
  EXPECT_EQ(store_->AppliedIndex(), 13u);
  EXPECT_EQ(store_->CompactedRevision(), 2);
}

TEST_F(Restart, RefusedRequestsLeaveTheAppliedIndex) {
  ASSERT_TRUE(store_->Put(PutReq("a", "1"), 5).ok());
  EXPECT_FALSE(store_->Put(PutReq("", "1"), 6).ok());
  Reopen();
  EXPECT_EQ(store_->AppliedIndex(), 5u);
}

TEST_F(Restart, BatchBecomesVisibleAndDurableOnlyAtCommit) {
  store_->BeginBatch();
  ASSERT_TRUE(Put("a", "1").ok());
  auto second = Put("a", "2");  // sees the uncommitted first put
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->events[0].kv().version(), 2);
  EXPECT_EQ(second->events[0].prev_kv().value(), "1");
  EXPECT_EQ(store_->CurrentRevision(), 1);  // readers do not see the batch yet
  EXPECT_EQ(Get("a")->count(), 0);
  ASSERT_TRUE(store_->CommitBatch().ok());
  EXPECT_EQ(store_->CurrentRevision(), 3);
  EXPECT_EQ(store_->AppliedIndex(), 2u);
  Reopen();
  EXPECT_EQ(Get("a")->kvs(0).value(), "2");
  EXPECT_EQ(store_->AppliedIndex(), 2u);
}

TEST_F(Restart, AttachesToADatabaseOwnedByTheCaller) {
  TempDir dir;
  rocksdb::DBOptions options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()}};
  for (auto& d : MvccStore::ColumnFamilyDescriptors()) families.push_back(d);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(options, dir.path(), families, &handles, &db).ok());
  {
    auto store = MvccStore::Attach(db, handles[1], handles[2], handles[3], MvccStoreOptions());
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Put(PutReq("k", "v"), 1).ok());
    EXPECT_EQ((*store)->Range(RangeReq("k"))->kvs(0).value(), "v");
  }
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  delete db;
}

TEST_F(HashKv, EqualHistoriesHashEqual) {
  TempDir other_dir;
  auto other = MvccStore::Open(other_dir.path(), MvccStoreOptions());
  ASSERT_TRUE(other.ok());
  uint64_t i = 1;
  for (const char* k : {"a", "b", "a", "c"}) {
    ASSERT_TRUE(Put(k, "v").ok());
    ASSERT_TRUE((*other)->Put(PutReq(k, "v"), i++).ok());
  }
  EXPECT_EQ(store_->HashKV(0)->hash, (*other)->HashKV(0)->hash);
  EXPECT_EQ(store_->HashKV(3)->hash, (*other)->HashKV(3)->hash);
  EXPECT_NE(store_->HashKV(3)->hash, store_->HashKV(4)->hash);
  ASSERT_TRUE(Put("d", "x").ok());
  ASSERT_TRUE((*other)->Put(PutReq("d", "y"), i++).ok());
  EXPECT_NE(store_->HashKV(0)->hash, (*other)->HashKV(0)->hash);
  EXPECT_EQ(store_->HashKV(5)->hash, (*other)->HashKV(5)->hash);
}

TEST_F(HashKv, ReportsCompactionAndRefusesOutOfRange) {
  ASSERT_TRUE(Put("a", "1").ok());
  ASSERT_TRUE(Put("a", "2").ok());
  ASSERT_TRUE(Put("a", "3").ok());
  ASSERT_TRUE(Compact(3).ok());
  auto h = store_->HashKV(0);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->compact_revision, 3);
  EXPECT_EQ(h->hash_revision, 4);
  EXPECT_EQ(store_->HashKV(3).status(), ErrCompacted());  // etcd: <= compacted
  EXPECT_EQ(store_->HashKV(5).status(), ErrFutureRev());
  EXPECT_TRUE(store_->HashKV(4).ok());
}

TEST_F(HashKv, DbSizeGrowsWithData) {
  const int64_t before = store_->DbSizeBytes();
  // (The key is built with append: gcc 12 at -O3 warns falsely about "k" + to_string here.)
  for (int i = 0; i < 100; ++i) {
    std::string key = "k";
    key.append(std::to_string(i));
    ASSERT_TRUE(Put(key, std::string(1000, 'x')).ok());
  }
  EXPECT_GT(store_->DbSizeBytes(), before + 50000);
  EXPECT_GT(store_->DbSizeInUseBytes(), 0);
}

}  // namespace
}  // namespace keel::kv::testing
