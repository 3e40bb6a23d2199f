// MvccStore::ReadEvents: the history of changes that watch catch-up replays.
#include <string>
#include <vector>

#include "kv_test_util.h"

namespace keel::kv::testing {
namespace {

using ReadEvents = StoreFixture;

std::vector<std::string> Describe(const EventsChunk& chunk) {
  std::vector<std::string> out;
  for (const auto& e : chunk.events) {
    std::string s = e.type() == mvccpb::Event::PUT ? "PUT " : "DELETE ";
    s += e.kv().key() + "@" + std::to_string(e.kv().mod_revision());
    if (e.type() == mvccpb::Event::PUT) s += "=" + e.kv().value();
    out.push_back(s);
  }
  return out;
}

TEST_F(ReadEvents, ReplaysPutsDeletesAndTxnsInSubRevisionOrder) {
  ASSERT_TRUE(Put("b", "1").ok());  // 2
  ASSERT_TRUE(Del("b").ok());       // 3
  etcdserverpb::TxnRequest txn;     // 4: written z, then a
  *txn.add_success() = PutOp("z", "t");
  *txn.add_success() = PutOp("a", "t");
  ASSERT_TRUE(Txn(txn).ok());
  EventsChunk chunk = store_->ReadEvents(2, 4, 100, 1 << 20);
  EXPECT_EQ(Describe(chunk), (std::vector<std::string>{"PUT b@2=1", "DELETE b@3", "PUT z@4=t",
                                                       "PUT a@4=t"}));
  EXPECT_EQ(chunk.next_revision, 5);
  EXPECT_EQ(chunk.compact_revision, 0);
  EXPECT_FALSE(chunk.events[0].has_prev_kv());
}

TEST_F(ReadEvents, ChunksEndAtRevisionBoundaries) {
  etcdserverpb::TxnRequest txn;  // 2: three events in one revision
  for (const char* k : {"a", "b", "c"}) *txn.add_success() = PutOp(k, "v");
  ASSERT_TRUE(Txn(txn).ok());
  ASSERT_TRUE(Put("d", "v").ok());  // 3
  EventsChunk first = store_->ReadEvents(2, 3, 1, 1 << 20);
  EXPECT_EQ(first.events.size(), 3u);  // the limit is reached inside revision 2: not split
  EXPECT_EQ(first.next_revision, 3);
  EventsChunk second = store_->ReadEvents(first.next_revision, 3, 1, 1 << 20);
  EXPECT_EQ(Describe(second), (std::vector<std::string>{"PUT d@3=v"}));
  EXPECT_EQ(second.next_revision, 4);
  EventsChunk none = store_->ReadEvents(4, 3, 1, 1 << 20);
  EXPECT_TRUE(none.events.empty());
  EXPECT_EQ(none.next_revision, 4);
}

TEST_F(ReadEvents, BelowTheCompactedRevisionReportsIt) {
  ASSERT_TRUE(Put("a", "1").ok());  // 2
  ASSERT_TRUE(Put("a", "2").ok());  // 3
  ASSERT_TRUE(Put("a", "3").ok());  // 4
  ASSERT_TRUE(Compact(3).ok());
  EventsChunk below = store_->ReadEvents(2, 4, 100, 1 << 20);
  EXPECT_TRUE(below.events.empty());
  EXPECT_EQ(below.compact_revision, 3);
  EventsChunk at = store_->ReadEvents(3, 4, 100, 1 << 20);  // a start at C is allowed
  EXPECT_EQ(at.compact_revision, 0);
  EXPECT_EQ(Describe(at), (std::vector<std::string>{"PUT a@3=2", "PUT a@4=3"}));
}

}  // namespace
}  // namespace keel::kv::testing

namespace keel::kv::testing {
namespace {

using Snapshot = StoreFixture;

// A dump restored into another store reproduces every read, the history, the compaction
// state and the applied index; the target's own earlier contents are gone.
TEST_F(Snapshot, DumpRestoredElsewhereReproducesTheStore) {
  ASSERT_TRUE(Put("a", "1").ok());  // 2
  ASSERT_TRUE(Put("b", "1").ok());  // 3
  ASSERT_TRUE(Del("a").ok());       // 4
  ASSERT_TRUE(Put("b", "2").ok());  // 5
  ASSERT_TRUE(Compact(3).ok());
  auto dump = store_->Dump();
  ASSERT_TRUE(dump.ok()) << dump.status();

  TempDir other_dir;
  auto other = MvccStore::Open(other_dir.path(), MvccStoreOptions());
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE((*other)->Put(PutReq("stale", "x"), 1).ok());
  ASSERT_TRUE((*other)->RestoreDump(*dump).ok());
  MvccStore& o = **other;
  EXPECT_EQ(o.CurrentRevision(), store_->CurrentRevision());
  EXPECT_EQ(o.CompactedRevision(), 3);
  EXPECT_EQ(o.AppliedIndex(), store_->AppliedIndex());
  EXPECT_EQ(o.Range(RangeReq("stale"))->count(), 0);
  EXPECT_EQ(o.Range(RangeReq("b"))->kvs(0).value(), "2");
  EXPECT_EQ(o.Range(RangeReq("b", "", 3))->kvs(0).value(), "1");
  EXPECT_EQ(Describe(o.ReadEvents(4, 5, 100, 1 << 20)),
            (std::vector<std::string>{"DELETE a@4", "PUT b@5=2"}));
  EXPECT_EQ(o.HashKV(0)->hash, store_->HashKV(0)->hash);
  o.CheckInvariants();
  // It keeps working as a store: the next write continues the revisions.
  auto put = o.Put(PutReq("c", "1"), store_->AppliedIndex() + 1);
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(put->response.header().revision(), 6);
}

TEST_F(Snapshot, MalformedDumpIsRefused) {
  EXPECT_EQ(store_->RestoreDump(std::string("\x07garbage", 8)).code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace keel::kv::testing
