// MvccStore's lease table: grant, attachment through puts, deletes and txns, revocation at one
// revision, conditional (expiry) revocation, renewal, checkpoints, restart and snapshots.
#include "base/etcd_errors.h"
#include "gtest/gtest.h"
#include "kv_test_util.h"

namespace keel::kv::testing {
namespace {

class Leases : public StoreFixture {
 protected:
  std::vector<std::string> KeysOf(int64_t id) {
    auto info = store_->GetLease(id, /*with_keys=*/true);
    EXPECT_TRUE(info.has_value());
    return info ? info->keys : std::vector<std::string>{};
  }
};

TEST_F(Leases, GrantRefusesAnExistingIdAndTheNoLeaseId) {
  ASSERT_TRUE(store_->GrantLease(5, 10, next_index_++).ok());
  EXPECT_EQ(store_->GrantLease(5, 20, next_index_++), ErrLeaseExist());
  EXPECT_EQ(store_->GrantLease(0, 20, next_index_++), ErrLeaseNotFound());
  auto info = store_->GetLease(5, false);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->ttl, 10);
  EXPECT_EQ(info->remaining_ttl, 0);
  EXPECT_GT(info->renewed_index, 0u);
  EXPECT_EQ(store_->CurrentRevision(), 1) << "a grant is not a kv revision";
}

TEST_F(Leases, PutsAttachAndMoveKeysDeletesDetach) {
  UseLeases({1, 2});
  ASSERT_TRUE(Put("a", "v", 1).ok());
  ASSERT_TRUE(Put("b", "v", 1).ok());
  ASSERT_TRUE(Put("c", "v", 2).ok());
  EXPECT_EQ(KeysOf(1), (std::vector<std::string>{"a", "b"}));
  ASSERT_TRUE(Put("a", "v", 2).ok());  // moves
  ASSERT_TRUE(Put("b", "v").ok());     // no lease: detaches
  EXPECT_TRUE(KeysOf(1).empty());
  EXPECT_EQ(KeysOf(2), (std::vector<std::string>{"a", "c"}));
  auto keep = PutReq("c", "new", 0);
  keep.set_ignore_lease(true);
  ASSERT_TRUE(Put(keep).ok());
  EXPECT_EQ(KeysOf(2), (std::vector<std::string>{"a", "c"}));
  ASSERT_TRUE(Del("a").ok());
  EXPECT_EQ(KeysOf(2), (std::vector<std::string>{"c"}));
  store_->CheckInvariants();
}

TEST_F(Leases, RevokeDeletesEveryAttachedKeyAtOneRevision) {
  UseLeases({7});
  ASSERT_TRUE(Put("x", "1", 7).ok());
  ASSERT_TRUE(Put("y", "2", 7).ok());
  ASSERT_TRUE(Put("z", "3").ok());
  const int64_t before = store_->CurrentRevision();
  auto r = store_->RevokeLease(7, next_index_++);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->revision, before + 1);
  ASSERT_EQ(r->events.size(), 2u);
  for (const auto& e : r->events) {
    EXPECT_EQ(e.type(), mvccpb::Event::DELETE);
    EXPECT_EQ(e.kv().mod_revision(), before + 1);
  }
  EXPECT_EQ(Get("x")->kvs_size(), 0);
  EXPECT_EQ(Get("z")->kvs_size(), 1);
  EXPECT_FALSE(store_->GetLease(7, false));
  EXPECT_EQ(store_->RevokeLease(7, next_index_++).status(), ErrLeaseNotFound());
  EXPECT_EQ(Put("x", "1", 7).status(), ErrLeaseNotFound());
  store_->CheckInvariants();
}

TEST_F(Leases, RevokingALeaseWithoutKeysTakesNoRevision) {
  UseLeases({3});
  const int64_t before = store_->CurrentRevision();
  auto r = store_->RevokeLease(3, next_index_++);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->revision, before);
  EXPECT_TRUE(r->events.empty());
}

TEST_F(Leases, ExpiryRevocationSkipsLeasesRenewedAfterTheDecision) {
  UseLeases({1, 2, 3});
  ASSERT_TRUE(Put("k1", "v", 1).ok());
  ASSERT_TRUE(Put("k2", "v", 2).ok());
  const uint64_t seen1 = store_->GetLease(1, false)->renewed_index;
  const uint64_t seen2 = store_->GetLease(2, false)->renewed_index;
  EXPECT_EQ(store_->RenewLeases({2, 99}, next_index_++), (std::vector<int64_t>{60, 0}));
  const int64_t before = store_->CurrentRevision();
  LeaseRevokeResult r = store_->RevokeLeases({{1, seen1}, {2, seen2}, {3, 0}, {99, 0}},
                                             next_index_++);
  EXPECT_EQ(r.revoked, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(r.revision, before + 1) << "lease 3 had no keys";
  EXPECT_TRUE(store_->GetLease(2, false));
  EXPECT_EQ(Get("k2")->kvs_size(), 1);
  store_->CheckInvariants();
}

TEST_F(Leases, EachRevokedLeaseGetsItsOwnRevision) {
  UseLeases({1, 2});
  ASSERT_TRUE(Put("a", "v", 1).ok());
  ASSERT_TRUE(Put("b", "v", 2).ok());
  const int64_t before = store_->CurrentRevision();
  store_->BeginBatch();
  LeaseRevokeResult r = store_->RevokeLeases({{1, 0}, {2, 0}}, next_index_++);
  ASSERT_TRUE(store_->CommitBatch().ok());
  ASSERT_EQ(r.events.size(), 2u);
  EXPECT_EQ(r.events[0].kv().mod_revision(), before + 1);
  EXPECT_EQ(r.events[1].kv().mod_revision(), before + 2);
  EXPECT_EQ(store_->CurrentRevision(), before + 2);
}

TEST_F(Leases, CheckpointsAndRenewalsAreRecorded) {
  UseLeases({4});
  store_->CheckpointLeases({{4, 17}, {123, 5}}, next_index_++);
  EXPECT_EQ(store_->GetLease(4, false)->remaining_ttl, 17);
  const uint64_t index = next_index_;
  store_->RenewLeases({4}, next_index_++);
  auto info = store_->GetLease(4, false);
  EXPECT_EQ(info->remaining_ttl, 0) << "a renewal restarts the full TTL";
  EXPECT_EQ(info->renewed_index, index);
}

TEST_F(Leases, TableAndAttachmentsSurviveARestart) {
  UseLeases({1, 2});
  ASSERT_TRUE(Put("a", "v", 1).ok());
  ASSERT_TRUE(Put("b", "v", 2).ok());
  ASSERT_TRUE(Put("b", "w", 1).ok());
  ASSERT_TRUE(Put("c", "v", 2).ok());
  ASSERT_TRUE(Del("c").ok());
  store_->CheckpointLeases({{2, 9}}, next_index_++);
  Reopen();
  EXPECT_EQ(KeysOf(1), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(KeysOf(2).empty());
  EXPECT_EQ(store_->GetLease(2, false)->remaining_ttl, 9);
  EXPECT_EQ(store_->ListLeases().size(), 2u);
  store_->CheckInvariants();
}

TEST_F(Leases, DumpCarriesLeasesAndRestoreReplacesThem) {
  UseLeases({1});
  ASSERT_TRUE(Put("a", "v", 1).ok());
  auto dump = store_->Dump();
  ASSERT_TRUE(dump.ok());
  ASSERT_TRUE(store_->RevokeLease(1, next_index_++).ok());
  ASSERT_TRUE(store_->GrantLease(2, 5, next_index_++).ok());
  ASSERT_TRUE(store_->RestoreDump(*dump).ok());
  EXPECT_EQ(KeysOf(1), (std::vector<std::string>{"a"}));
  EXPECT_FALSE(store_->GetLease(2, false));
  store_->CheckInvariants();
}

TEST_F(Leases, TxnPutsAttachAndRefuseUnknownLeases) {
  UseLeases({6});
  etcdserverpb::TxnRequest txn;
  auto* op = txn.add_success()->mutable_request_put();
  op->set_key("t");
  op->set_lease(6);
  ASSERT_TRUE(Txn(txn).ok());
  EXPECT_EQ(KeysOf(6), (std::vector<std::string>{"t"}));
  op->set_lease(77);
  EXPECT_EQ(Txn(txn).status(), ErrLeaseNotFound());
}

}  // namespace
}  // namespace keel::kv::testing
