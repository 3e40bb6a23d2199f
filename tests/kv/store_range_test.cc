// Every RangeRequest option against etcd 3.4's applierV3backend.Range behaviour.
#include "base/etcd_errors.h"
#include "kv_test_util.h"

namespace keel::kv::testing {
namespace {

using etcdserverpb::RangeRequest;

class RangeOptions : public StoreFixture {
 protected:
  void SetUp() override {
    StoreFixture::SetUp();
    // rev 2..6: a b c d e; then b, d rewritten (rev 7, 8) so versions and mods differ.
    for (const char* k : {"a", "b", "c", "d", "e"}) ASSERT_TRUE(Put(k, std::string("v") + k).ok());
    ASSERT_TRUE(Put("b", "zz").ok());
    ASSERT_TRUE(Put("d", "aa").ok());
  }
  absl::StatusOr<etcdserverpb::RangeResponse> Range(const RangeRequest& r) {
    return store_->Range(r);
  }
};

TEST_F(RangeOptions, SingleKeyWhenRangeEndEmpty) {
  EXPECT_EQ(Keys(*Get("b")), (std::vector<std::string>{"b"}));
  EXPECT_EQ(Get("bb")->count(), 0);
}

TEST_F(RangeOptions, HalfOpenRangeAndPrefix) {
  EXPECT_EQ(Keys(*Get("b", "d")), (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(Get("d", "b")->count(), 0);  // range_end <= key: empty
  EXPECT_EQ(Keys(*Get("c", PrefixRangeEnd("c"))), (std::vector<std::string>{"c"}));
}

TEST_F(RangeOptions, NulRangeEndMeansFromKeyAndAll) {
  EXPECT_EQ(Keys(*Get("c", std::string(1, '\0'))), (std::vector<std::string>{"c", "d", "e"}));
  EXPECT_EQ(Get(std::string(1, '\0'), std::string(1, '\0'))->count(), 5);
}

TEST_F(RangeOptions, LimitSetsMoreAndCountIgnoresLimit) {
  auto r = RangeReq("a", "z");
  r.set_limit(2);
  auto resp = Range(r);
  EXPECT_EQ(Keys(*resp), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(resp->more());
  EXPECT_EQ(resp->count(), 5);
  r.set_limit(5);
  EXPECT_FALSE(Range(r)->more());
}

TEST_F(RangeOptions, CountOnlyReturnsNoKvs) {
  auto r = RangeReq("a", "z");
  r.set_count_only(true);
  r.set_limit(1);
  auto resp = Range(r);
  EXPECT_EQ(resp->kvs_size(), 0);
  EXPECT_EQ(resp->count(), 5);
  EXPECT_FALSE(resp->more());
}

TEST_F(RangeOptions, KeysOnlyDropsValues) {
  auto r = RangeReq("a", "c");
  r.set_keys_only(true);
  auto resp = Range(r);
  ASSERT_EQ(resp->kvs_size(), 2);
  EXPECT_EQ(resp->kvs(0).value(), "");
  EXPECT_EQ(resp->kvs(1).version(), 2);
}

TEST_F(RangeOptions, SortByEveryTargetAndOrder) {
  auto r = RangeReq("a", "z");
  r.set_sort_order(RangeRequest::DESCEND);
  EXPECT_EQ(Keys(*Range(r)), (std::vector<std::string>{"e", "d", "c", "b", "a"}));
  r.set_sort_target(RangeRequest::MOD);
  EXPECT_EQ(Keys(*Range(r)), (std::vector<std::string>{"d", "b", "e", "c", "a"}));
  r.set_sort_order(RangeRequest::ASCEND);
  r.set_sort_target(RangeRequest::CREATE);
  EXPECT_EQ(Keys(*Range(r)), (std::vector<std::string>{"a", "b", "c", "d", "e"}));
  r.set_sort_target(RangeRequest::VALUE);  // aa va vc ve zz
  EXPECT_EQ(Keys(*Range(r)), (std::vector<std::string>{"d", "a", "c", "e", "b"}));
  r.set_sort_target(RangeRequest::VERSION);  // ties keep key order
  EXPECT_EQ(Keys(*Range(r)), (std::vector<std::string>{"a", "c", "e", "b", "d"}));
}

TEST_F(RangeOptions, NonKeyTargetWithOrderNoneSortsAscending) {
  auto r = RangeReq("a", "z");
  r.set_sort_target(RangeRequest::VALUE);
  EXPECT_EQ(Keys(*Range(r)), (std::vector<std::string>{"d", "a", "c", "e", "b"}));
}

TEST_F(RangeOptions, SortWithLimitSortsEverythingThenCuts) {
  auto r = RangeReq("a", "z");
  r.set_sort_order(RangeRequest::DESCEND);
  r.set_limit(2);
  auto resp = Range(r);
  EXPECT_EQ(Keys(*resp), (std::vector<std::string>{"e", "d"}));
  EXPECT_TRUE(resp->more());
  EXPECT_EQ(resp->count(), 5);
}

TEST_F(RangeOptions, OrderNoneWithLimitSortsOnlyTheFetchedKeys) {
  // etcd fetches limit+1 keys in key order, sorts them, then cuts: a quirk we keep.
  auto r = RangeReq("a", "z");
  r.set_sort_target(RangeRequest::VALUE);
  r.set_limit(2);  // fetches a b c (va zz vc) -> va vc zz -> a c
  EXPECT_EQ(Keys(*Range(r)), (std::vector<std::string>{"a", "c"}));
}

TEST_F(RangeOptions, MinMaxFiltersDoNotChangeCount) {
  auto r = RangeReq("a", "z");
  r.set_min_mod_revision(5);
  auto resp = Range(r);
  EXPECT_EQ(Keys(*resp), (std::vector<std::string>{"b", "d", "e"}));
  EXPECT_EQ(resp->count(), 5);
  r.set_max_mod_revision(7);
  EXPECT_EQ(Keys(*Range(r)), (std::vector<std::string>{"b", "e"}));
  auto c = RangeReq("a", "z");
  c.set_min_create_revision(3);
  c.set_max_create_revision(4);
  EXPECT_EQ(Keys(*Range(c)), (std::vector<std::string>{"b", "c"}));
  c.set_limit(1);
  auto limited = Range(c);
  EXPECT_EQ(Keys(*limited), (std::vector<std::string>{"b"}));
  EXPECT_TRUE(limited->more());
}

TEST_F(RangeOptions, RevisionSelectsHistoryAndHeaderIsCurrent) {
  auto resp = Get("b", "", 3);
  ASSERT_EQ(resp->kvs_size(), 1);
  EXPECT_EQ(resp->kvs(0).value(), "vb");
  EXPECT_EQ(resp->header().revision(), 8);
  EXPECT_EQ(Get("a", "z", 4)->count(), 3);
  EXPECT_EQ(Get("a", "z", 1)->count(), 0);
  EXPECT_EQ(Get("a", "z", -5)->count(), 5);  // <= 0 is the latest
}

TEST_F(RangeOptions, FutureRevisionIsRefused) {
  EXPECT_EQ(Get("a", "", 9).status(), ErrFutureRev());
  EXPECT_TRUE(Get("a", "", 8).ok());
}

TEST_F(RangeOptions, CompactedRevisionBoundary) {
  ASSERT_TRUE(Compact(5).ok());
  EXPECT_EQ(Get("a", "z", 4).status(), ErrCompacted());
  auto at = Get("a", "z", 5);  // == compacted is readable
  ASSERT_TRUE(at.ok());
  EXPECT_EQ(Keys(*at), (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(at->kvs(1).value(), "vb");
}

TEST_F(RangeOptions, BadRequestsAreRefused) {
  EXPECT_EQ(Get("").status(), ErrEmptyKey());
  auto r = RangeReq("a");
  r.set_sort_order(static_cast<RangeRequest::SortOrder>(9));
  EXPECT_EQ(Range(r).status(), ErrInvalidSortOption());
}

}  // namespace
}  // namespace keel::kv::testing
