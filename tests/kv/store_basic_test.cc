// Revision semantics, Put and DeleteRange (etcd 3.4 behaviour, see ETCD-REFERENCE §1.1-1.2).
#include "base/etcd_errors.h"
#include "kv_test_util.h"

namespace keel::kv::testing {
namespace {

using RevisionSemantics = StoreFixture;
using PutSemantics = StoreFixture;
using DeleteSemantics = StoreFixture;

TEST_F(RevisionSemantics, FreshStoreIsAtRevisionOne) {
  EXPECT_EQ(store_->CurrentRevision(), 1);
  EXPECT_EQ(store_->CompactedRevision(), -1) << "never compacted, as etcd's compactMainRev";
  auto r = Get("a");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->header().revision(), 1);
  EXPECT_EQ(r->count(), 0);
}

TEST_F(RevisionSemantics, FirstWriteIsRevisionTwo) {
  auto put = Put("a", "1");
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(put->response.header().revision(), 2);
  auto r = Get("a");
  ASSERT_EQ(r->kvs_size(), 1);
  EXPECT_EQ(r->kvs(0).create_revision(), 2);
  EXPECT_EQ(r->kvs(0).mod_revision(), 2);
  EXPECT_EQ(r->kvs(0).version(), 1);
  EXPECT_EQ(r->kvs(0).value(), "1");
}

TEST_F(RevisionSemantics, VersionCountsPutsAndResetsOnDelete) {
  ASSERT_TRUE(Put("a", "1").ok());
  ASSERT_TRUE(Put("a", "2").ok());
  EXPECT_EQ(Get("a")->kvs(0).version(), 2);
  EXPECT_EQ(Get("a")->kvs(0).create_revision(), 2);
  ASSERT_TRUE(Del("a").ok());  // rev 4
  EXPECT_EQ(Get("a")->count(), 0);
  ASSERT_TRUE(Put("a", "3").ok());  // rev 5
  auto r = Get("a");
  EXPECT_EQ(r->kvs(0).version(), 1);
  EXPECT_EQ(r->kvs(0).create_revision(), 5);
  EXPECT_EQ(r->kvs(0).mod_revision(), 5);
}

TEST_F(RevisionSemantics, KeysAndValuesAreArbitraryBytes) {
  const std::string k1("a\0b", 3), k2("a\xff", 2), k3("\xff\xff", 2), v("\0\xff\0", 3);
  ASSERT_TRUE(Put(k1, v).ok());
  ASSERT_TRUE(Put(k2, v).ok());
  ASSERT_TRUE(Put(k3, v).ok());
  EXPECT_EQ(Get(k1)->kvs(0).value(), v);
  // "\xff" sorts above "a": unsigned byte order.
  EXPECT_EQ(Keys(*Get(std::string(1, '\0'), std::string(1, '\0'))),
            (std::vector<std::string>{k1, k2, k3}));
  EXPECT_EQ(Keys(*Get("a", PrefixRangeEnd("a"))), (std::vector<std::string>{k1, k2}));
  EXPECT_EQ(Keys(*Get(k3, PrefixRangeEnd(k3))), (std::vector<std::string>{k3}));
}

TEST_F(PutSemantics, PrevKvReturnsThePreviousVersion) {
  ASSERT_TRUE(Put("a", "1").ok());
  auto req = PutReq("a", "2");
  req.set_prev_kv(true);
  auto put = Put(req);
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(put->response.prev_kv().value(), "1");
  EXPECT_EQ(put->response.prev_kv().mod_revision(), 2);
  auto fresh = PutReq("b", "x");
  fresh.set_prev_kv(true);
  EXPECT_FALSE(Put(fresh)->response.has_prev_kv());
}

TEST_F(PutSemantics, IgnoreValueKeepsValueAndIgnoreLeaseKeepsLease) {
  UseLeases({7, 8});
  ASSERT_TRUE(Put("a", "keep", 7).ok());
  auto req = PutReq("a", "", 8);
  req.set_ignore_value(true);
  ASSERT_TRUE(Put(req).ok());
  EXPECT_EQ(Get("a")->kvs(0).value(), "keep");
  EXPECT_EQ(Get("a")->kvs(0).lease(), 8);
  auto req2 = PutReq("a", "new");
  req2.set_ignore_lease(true);
  ASSERT_TRUE(Put(req2).ok());
  EXPECT_EQ(Get("a")->kvs(0).value(), "new");
  EXPECT_EQ(Get("a")->kvs(0).lease(), 8);
  EXPECT_EQ(Get("a")->kvs(0).version(), 3);
}

TEST_F(PutSemantics, RefusalsCarryEtcdErrorsAndWriteNothing) {
  EXPECT_EQ(Put("", "v").status(), ErrEmptyKey());
  auto ignore_value = PutReq("a", "");
  ignore_value.set_ignore_value(true);
  EXPECT_EQ(Put(ignore_value).status(), ErrKeyNotFound());
  auto ignore_lease = PutReq("a", "v");
  ignore_lease.set_ignore_lease(true);
  EXPECT_EQ(Put(ignore_lease).status(), ErrKeyNotFound());
  auto value_provided = PutReq("a", "v");
  value_provided.set_ignore_value(true);
  EXPECT_EQ(Put(value_provided).status(), ErrValueProvided());
  auto lease_provided = PutReq("a", "v", 5);
  lease_provided.set_ignore_lease(true);
  EXPECT_EQ(Put(lease_provided).status(), ErrLeaseProvided());
  EXPECT_EQ(Put("a", "v", 99).status(), ErrLeaseNotFound());
  EXPECT_EQ(store_->CurrentRevision(), 1);
  EXPECT_EQ(store_->AppliedIndex(), 0u);
  store_->CheckInvariants();
}

TEST_F(PutSemantics, LeaseIsStoredOnTheKeyValue) {
  UseLeases({42});
  ASSERT_TRUE(Put("a", "v", 42).ok());
  EXPECT_EQ(Get("a")->kvs(0).lease(), 42);
}

TEST_F(PutSemantics, ReturnsOnePutEventWithPrevKv) {
  ASSERT_TRUE(Put("a", "1").ok());
  auto put = Put("a", "2");
  ASSERT_EQ(put->events.size(), 1u);
  EXPECT_EQ(put->events[0].type(), mvccpb::Event::PUT);
  EXPECT_EQ(put->events[0].kv().value(), "2");
  EXPECT_EQ(put->events[0].kv().mod_revision(), 3);
  EXPECT_EQ(put->events[0].prev_kv().value(), "1");
}

TEST_F(DeleteSemantics, DeletesEveryKeyInRangeAtOneRevision) {
  ASSERT_TRUE(Put("a", "1").ok());
  ASSERT_TRUE(Put("b", "2").ok());
  ASSERT_TRUE(Put("c", "3").ok());
  auto req = DelReq("a", "c");
  req.set_prev_kv(true);
  auto del = Del(req);
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(del->response.deleted(), 2);
  EXPECT_EQ(del->response.header().revision(), 5);
  ASSERT_EQ(del->response.prev_kvs_size(), 2);
  EXPECT_EQ(del->response.prev_kvs(1).value(), "2");
  ASSERT_EQ(del->events.size(), 2u);
  EXPECT_EQ(del->events[0].type(), mvccpb::Event::DELETE);
  EXPECT_EQ(del->events[0].kv().key(), "a");
  EXPECT_EQ(del->events[0].kv().mod_revision(), 5);
  EXPECT_EQ(del->events[0].kv().version(), 0);
  EXPECT_EQ(del->events[0].prev_kv().value(), "1");
  EXPECT_EQ(Keys(*Get(std::string(1, '\0'), std::string(1, '\0'))), (std::vector<std::string>{"c"}));
}

TEST_F(DeleteSemantics, DeletingNothingKeepsTheRevision) {
  ASSERT_TRUE(Put("a", "1").ok());
  auto del = Del("zz");
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(del->response.deleted(), 0);
  EXPECT_EQ(del->response.header().revision(), 2);
  EXPECT_TRUE(del->events.empty());
  EXPECT_EQ(store_->CurrentRevision(), 2);
  ASSERT_TRUE(Del("a").ok());
  EXPECT_EQ(Del("a")->response.header().revision(), 3);  // deleting a tombstone is nothing
}

TEST_F(DeleteSemantics, FromKeyAndAllRanges) {
  for (const char* k : {"a", "b", "c"}) ASSERT_TRUE(Put(k, "v").ok());
  EXPECT_EQ(Del("b", std::string(1, '\0'))->response.deleted(), 2);
  EXPECT_EQ(Del(std::string(1, '\0'), std::string(1, '\0'))->response.deleted(), 1);
  EXPECT_EQ(Del("", "").status(), ErrEmptyKey());
}

}  // namespace
}  // namespace keel::kv::testing
