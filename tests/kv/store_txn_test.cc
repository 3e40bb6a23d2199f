// Txn: compares on every target and result, range compares, nested txns, revisions,
// duplicate keys and op limits (etcd 3.4 applyTxn / checkIntervals).
#include "base/etcd_errors.h"
#include "kv_test_util.h"

namespace keel::kv::testing {
namespace {

using etcdserverpb::Compare;
using etcdserverpb::TxnRequest;

Compare Cmp(const std::string& key, Compare::CompareTarget target, Compare::CompareResult result,
            int64_t operand, const std::string& range_end = "") {
  Compare c;
  c.set_key(key);
  c.set_target(target);
  c.set_result(result);
  c.set_range_end(range_end);
  switch (target) {
    case Compare::VERSION: c.set_version(operand); break;
    case Compare::CREATE: c.set_create_revision(operand); break;
    case Compare::MOD: c.set_mod_revision(operand); break;
    case Compare::LEASE: c.set_lease(operand); break;
    default: break;
  }
  return c;
}

Compare ValueCmp(const std::string& key, Compare::CompareResult result, const std::string& v) {
  Compare c;
  c.set_key(key);
  c.set_target(Compare::VALUE);
  c.set_result(result);
  c.set_value(v);
  return c;
}

class TxnSemantics : public StoreFixture {
 protected:
  void SetUp() override {
    StoreFixture::SetUp();
    UseLeases({9});
    ASSERT_TRUE(Put("a", "1").ok());      // rev 2
    ASSERT_TRUE(Put("b", "2", 9).ok());   // rev 3
    ASSERT_TRUE(Put("b", "3", 9).ok());   // rev 4, version 2
  }
  bool Holds(const Compare& c) {
    TxnRequest t;
    *t.add_compare() = c;
    auto r = Txn(t);
    EXPECT_TRUE(r.ok()) << r.status();
    return r->response.succeeded();
  }
};

TEST_F(TxnSemantics, EveryTargetAndResult) {
  EXPECT_TRUE(Holds(Cmp("b", Compare::VERSION, Compare::EQUAL, 2)));
  EXPECT_TRUE(Holds(Cmp("b", Compare::VERSION, Compare::GREATER, 1)));
  EXPECT_TRUE(Holds(Cmp("b", Compare::VERSION, Compare::LESS, 3)));
  EXPECT_TRUE(Holds(Cmp("b", Compare::VERSION, Compare::NOT_EQUAL, 1)));
  EXPECT_FALSE(Holds(Cmp("b", Compare::VERSION, Compare::NOT_EQUAL, 2)));
  EXPECT_TRUE(Holds(Cmp("b", Compare::CREATE, Compare::EQUAL, 3)));
  EXPECT_TRUE(Holds(Cmp("b", Compare::MOD, Compare::EQUAL, 4)));
  EXPECT_FALSE(Holds(Cmp("b", Compare::MOD, Compare::LESS, 4)));
  EXPECT_TRUE(Holds(Cmp("b", Compare::LEASE, Compare::EQUAL, 9)));
  EXPECT_TRUE(Holds(Cmp("a", Compare::LEASE, Compare::EQUAL, 0)));
  EXPECT_TRUE(Holds(ValueCmp("b", Compare::EQUAL, "3")));
  EXPECT_TRUE(Holds(ValueCmp("b", Compare::GREATER, "2")));
  EXPECT_TRUE(Holds(ValueCmp("b", Compare::LESS, "30")));
  EXPECT_TRUE(Holds(ValueCmp("b", Compare::NOT_EQUAL, "x")));
}

TEST_F(TxnSemantics, MissingKeyComparesAsZeros) {
  EXPECT_TRUE(Holds(Cmp("nope", Compare::MOD, Compare::EQUAL, 0)));  // k8s "create"
  EXPECT_TRUE(Holds(Cmp("nope", Compare::VERSION, Compare::EQUAL, 0)));
  EXPECT_TRUE(Holds(Cmp("nope", Compare::CREATE, Compare::LESS, 1)));
  EXPECT_TRUE(Holds(Cmp("nope", Compare::LEASE, Compare::EQUAL, 0)));
  // A value compare on a missing key always fails, even NOT_EQUAL.
  EXPECT_FALSE(Holds(ValueCmp("nope", Compare::NOT_EQUAL, "x")));
  EXPECT_FALSE(Holds(ValueCmp("nope", Compare::EQUAL, "")));
}

TEST_F(TxnSemantics, OperandOfAnotherTargetCountsAsZero) {
  Compare c = Cmp("a", Compare::VERSION, Compare::GREATER, 0);
  c.set_mod_revision(100);  // wrong oneof case: etcd compares version with 0
  EXPECT_TRUE(Holds(c));
}

TEST_F(TxnSemantics, RangeCompareNeedsEveryKeyToSatisfy) {
  EXPECT_TRUE(Holds(Cmp("a", Compare::VERSION, Compare::GREATER, 0, "c")));
  EXPECT_FALSE(Holds(Cmp("a", Compare::VERSION, Compare::EQUAL, 1, "c")));
  EXPECT_TRUE(Holds(Cmp("a", Compare::MOD, Compare::LESS, 5, std::string(1, '\0'))));
  EXPECT_TRUE(Holds(Cmp("x", Compare::MOD, Compare::EQUAL, 0, "z")));  // empty range: zeros
}

TEST_F(TxnSemantics, SuccessAndFailureBranchesRunInOrderAtOneRevision) {
  TxnRequest t;
  *t.add_compare() = Cmp("a", Compare::VERSION, Compare::EQUAL, 1);
  *t.add_success() = PutOp("c", "x");
  *t.add_success() = RangeOp("c");
  *t.add_success() = PutOp("d", "y");
  *t.add_success() = DelOp("a");
  *t.add_failure() = PutOp("never", "x");
  auto r = Txn(t);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->response.succeeded());
  EXPECT_EQ(r->response.header().revision(), 5);
  ASSERT_EQ(r->response.responses_size(), 4);
  EXPECT_EQ(r->response.responses(0).response_put().header().revision(), 5);
  // The range sees the txn's own earlier put.
  EXPECT_EQ(r->response.responses(1).response_range().kvs(0).value(), "x");
  EXPECT_EQ(r->response.responses(1).response_range().header().revision(), 5);
  EXPECT_EQ(r->response.responses(3).response_delete_range().deleted(), 1);
  ASSERT_EQ(r->events.size(), 3u);
  EXPECT_EQ(r->events[0].kv().key(), "c");
  EXPECT_EQ(r->events[1].kv().key(), "d");
  EXPECT_EQ(r->events[2].type(), mvccpb::Event::DELETE);
  EXPECT_EQ(Get("d")->kvs(0).mod_revision(), 5);
  EXPECT_EQ(store_->CurrentRevision(), 5);

  auto failed = Txn(t);  // a is gone now: failure branch
  ASSERT_TRUE(failed.ok());
  EXPECT_FALSE(failed->response.succeeded());
  EXPECT_EQ(Get("never")->count(), 1);
}

TEST_F(TxnSemantics, ReadOnlyTxnKeepsTheRevision) {
  TxnRequest t;
  *t.add_success() = RangeOp("a");
  *t.add_success() = DelOp("missing");  // a write op that changes nothing
  auto r = Txn(t);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->response.header().revision(), 4);
  EXPECT_EQ(r->response.responses(1).response_delete_range().header().revision(), 4);
  EXPECT_EQ(store_->CurrentRevision(), 4);
  EXPECT_TRUE(r->events.empty());
}

TEST_F(TxnSemantics, NestedTxnComparesSeeTheStateBeforeTheTxn) {
  TxnRequest inner;
  *inner.add_compare() = Cmp("new", Compare::VERSION, Compare::EQUAL, 0);
  *inner.add_success() = PutOp("inner-ok", "1");
  *inner.add_failure() = PutOp("inner-failed", "1");
  TxnRequest outer;
  *outer.add_success() = PutOp("new", "1");
  *outer.add_success() = TxnOp(inner);
  auto r = Txn(outer);
  ASSERT_TRUE(r.ok()) << r.status();
  const auto& nested = r->response.responses(1).response_txn();
  EXPECT_TRUE(nested.succeeded());  // "new" did not exist before the txn
  EXPECT_EQ(Get("inner-ok")->count(), 1);
  EXPECT_EQ(Get("inner-ok")->kvs(0).mod_revision(), 5);
  EXPECT_EQ(r->events.size(), 2u);
  EXPECT_EQ(r->events[1].kv().key(), "inner-ok");
}

TEST_F(TxnSemantics, DuplicateKeysAreRefused) {
  TxnRequest twice;
  *twice.add_success() = PutOp("k", "1");
  *twice.add_success() = PutOp("k", "2");
  EXPECT_EQ(Txn(twice).status(), ErrDuplicateKey());

  TxnRequest put_and_delete;
  *put_and_delete.add_success() = PutOp("b", "1");
  *put_and_delete.add_success() = DelOp("a", "c");
  EXPECT_EQ(Txn(put_and_delete).status(), ErrDuplicateKey());

  TxnRequest nested_dup;
  TxnRequest inner;
  *inner.add_success() = PutOp("k", "1");
  *nested_dup.add_success() = PutOp("k", "0");
  *nested_dup.add_success() = TxnOp(inner);
  EXPECT_EQ(Txn(nested_dup).status(), ErrDuplicateKey());

  TxnRequest nested_delete;
  TxnRequest inner_del;
  *inner_del.add_failure() = DelOp("k");
  *nested_delete.add_success() = PutOp("k", "0");
  *nested_delete.add_success() = TxnOp(inner_del);
  EXPECT_EQ(Txn(nested_delete).status(), ErrDuplicateKey());
  EXPECT_EQ(store_->CurrentRevision(), 4);
}

TEST_F(TxnSemantics, AllowedOverlapsAreAccepted) {
  TxnRequest both_branches;  // then/else of one nested txn exclude each other
  TxnRequest inner;
  *inner.add_success() = PutOp("k", "then");
  *inner.add_failure() = PutOp("k", "else");
  *both_branches.add_success() = TxnOp(inner);
  EXPECT_TRUE(Txn(both_branches).ok());

  TxnRequest deletes;  // overlapping deletes are fine
  *deletes.add_success() = DelOp("a", "c");
  *deletes.add_success() = DelOp("b", "d");
  auto r = Txn(deletes);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->response.responses(0).response_delete_range().deleted(), 2);
  EXPECT_EQ(r->response.responses(1).response_delete_range().deleted(), 0);
}

TEST_F(TxnSemantics, PutNextToFromKeyDeleteIsAcceptedAsEtcdDoes) {
  // etcd 3.4.23 treats range_end "\0" literally in its duplicate check: the put is accepted
  // and the delete, which runs after it, removes the key again (checked against etcd).
  TxnRequest t;
  *t.add_success() = PutOp("k", "v");
  *t.add_success() = DelOp("a", std::string(1, '\0'));
  auto r = Txn(t);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->response.responses(1).response_delete_range().deleted(), 3);  // a b k
  EXPECT_EQ(Get("k")->count(), 0);
  store_->CheckInvariants();
}

TEST_F(TxnSemantics, TooManyOpsIsRefused) {
  max_txn_ops_ = 3;
  Reopen();
  TxnRequest t;
  for (int i = 0; i < 4; ++i) *t.add_success() = PutOp("k" + std::to_string(i), "v");
  EXPECT_EQ(Txn(t).status(), ErrTooManyOps());
  TxnRequest inner;  // a nested txn gets what its parent leaves: 3 - 2 = 1
  *inner.add_success() = PutOp("x", "1");
  *inner.add_success() = PutOp("y", "1");
  TxnRequest outer;
  *outer.add_success() = PutOp("z", "1");
  *outer.add_success() = TxnOp(inner);
  EXPECT_EQ(Txn(outer).status(), ErrTooManyOps());
  inner.mutable_success()->RemoveLast();
  *outer.mutable_success(1)->mutable_request_txn() = inner;
  auto ok = Txn(outer);
  EXPECT_TRUE(ok.ok()) << ok.status();
}

TEST_F(TxnSemantics, StateChecksRefuseBeforeWriting) {
  TxnRequest t;
  *t.add_success() = PutOp("fine", "1");
  auto ignore = PutOp("missing", "");
  ignore.mutable_request_put()->set_ignore_value(true);
  *t.add_success() = ignore;
  EXPECT_EQ(Txn(t).status(), ErrKeyNotFound());

  TxnRequest lease;
  *lease.add_success() = PutOp("fine", "1");
  lease.mutable_success(0)->mutable_request_put()->set_lease(1234);
  EXPECT_EQ(Txn(lease).status(), ErrLeaseNotFound());

  TxnRequest future;
  *future.add_success() = PutOp("fine", "1");
  *future.add_success() = RangeOp("a");
  future.mutable_success(1)->mutable_request_range()->set_revision(5);  // the txn's own rev
  EXPECT_EQ(Txn(future).status(), ErrFutureRev());

  TxnRequest empty_op;
  empty_op.add_success();
  EXPECT_EQ(Txn(empty_op).status(), ErrKeyNotFound());

  TxnRequest empty_key;
  *empty_key.add_compare() = Cmp("", Compare::VERSION, Compare::EQUAL, 0);
  EXPECT_EQ(Txn(empty_key).status(), ErrEmptyKey());

  EXPECT_EQ(Get("fine")->count(), 0);
  EXPECT_EQ(store_->CurrentRevision(), 4);
}

TEST_F(TxnSemantics, UnchosenBranchIsNotStateChecked) {
  TxnRequest t;
  *t.add_compare() = Cmp("a", Compare::VERSION, Compare::EQUAL, 1);
  *t.add_success() = PutOp("ok", "1");
  auto ignore = PutOp("missing", "");
  ignore.mutable_request_put()->set_ignore_value(true);
  *t.add_failure() = ignore;
  EXPECT_TRUE(Txn(t).ok());
}

}  // namespace
}  // namespace keel::kv::testing
