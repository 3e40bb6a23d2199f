// The pure pieces: key ranges, request checks, the key index, the value codec,
// auto-compaction and quota.
#include <cstdint>
#include <iterator>
#include <random>
#include <string>

#include "absl/time/time.h"
#include "base/etcd_errors.h"
#include "gtest/gtest.h"
#include "kv/auto_compaction.h"
#include "kv/key_index.h"
#include "kv/key_range.h"
#include "kv/kv_codec.h"
#include "kv/quota.h"
#include "kv/request_check.h"
#include "kv/revision.h"
#include "kv_test_util.h"

namespace keel::kv {
namespace {

TEST(KeyRange, PrefixRangeEndIncrementsLastNonFfByte) {
  EXPECT_EQ(PrefixRangeEnd("aa"), "ab");
  EXPECT_EQ(PrefixRangeEnd("a\xff"), "b");
  EXPECT_EQ(PrefixRangeEnd(std::string("a\x7f", 2)), std::string("a\x80", 2));
  EXPECT_EQ(PrefixRangeEnd("\xff\xff"), std::string(1, '\0'));
  EXPECT_EQ(PrefixRangeEnd(""), std::string(1, '\0'));
}

TEST(KeyRange, DecodesEtcdConventions) {
  EXPECT_TRUE(KeyRange::FromRequest("a", "").Contains("a"));
  EXPECT_FALSE(KeyRange::FromRequest("a", "").Contains(std::string("a\0", 2)));
  auto from = KeyRange::FromRequest("b", std::string(1, '\0'));
  EXPECT_TRUE(from.Contains("\xff\xff"));
  EXPECT_FALSE(from.Contains("a"));
  auto half = KeyRange::FromRequest("a", "c");
  EXPECT_TRUE(half.Contains("b\xff"));
  EXPECT_FALSE(half.Contains("c"));
  EXPECT_TRUE(half.Contains("\x61\x80"));  // bytes above 0x7f compare unsigned
}

TEST(Revision, KeyEncodingSortsByRevision) {
  EXPECT_LT(EncodeRevisionKey({1, 5}), EncodeRevisionKey({2, 0}));
  EXPECT_LT(EncodeRevisionKey({255, 0}), EncodeRevisionKey({256, 0}));
  Revision r;
  ASSERT_TRUE(DecodeRevisionKey(EncodeRevisionKey({1234567890123, 77}), &r));
  EXPECT_EQ(r, (Revision{1234567890123, 77}));
}

TEST(KeyIndex, VisibilityFollowsGenerations) {
  KeyIndex index;
  index.RecordPut("k", {2, 0}, 2, 1, "");
  index.RecordPut("k", {3, 0}, 2, 2, "");
  index.RecordTombstone("k", {4, 0});
  index.RecordPut("k", {6, 0}, 6, 1, "");
  const KeyHistory* h = index.Find("k");
  EXPECT_EQ(h->VisibleAt(1), nullptr);
  EXPECT_EQ(h->VisibleAt(3)->main, 3);
  EXPECT_EQ(h->VisibleAt(4), nullptr);
  EXPECT_EQ(h->VisibleAt(5), nullptr);
  EXPECT_EQ(h->VisibleAt(9)->main, 6);
  index.CheckInvariants();
  CompactionPlan plan = index.PlanCompaction(5);
  index.ApplyCompaction(plan);
  EXPECT_EQ(plan.removed.size(), 3u);
  EXPECT_EQ(index.Find("k")->entries.size(), 1u);
  index.CheckInvariants();
}

TEST(KeyIndex, CachedValueBytesFollowLatestValues) {
  KeyIndex index;
  index.RecordPut("a", {2, 0}, 2, 1, "aaaa");
  index.RecordPut("b", {3, 0}, 3, 1, "bb");
  EXPECT_EQ(index.CachedValueBytes(), 6u);
  EXPECT_EQ(index.RecordPut("a", {4, 0}, 2, 2, "A"), "aaaa");  // superseded value returned
  EXPECT_EQ(index.CachedValueBytes(), 3u);
  EXPECT_EQ(index.RecordTombstone("b", {5, 0}), "bb");
  EXPECT_EQ(index.CachedValueBytes(), 1u);
  index.RecordPut("c", {6, 0}, 6, 1, "");  // not cached
  EXPECT_EQ(index.CachedValueBytes(), 1u);
  index.CheckInvariants();
}

TEST(KeyIndex, RestoreCachesWithinTheBudget) {
  KeyIndex index;
  index.Restore("a", {2, 0}, false, 2, 1, "12345", 8);
  index.Restore("b", {3, 0}, false, 3, 1, "1234", 8);  // 5 + 4 > 8: not cached
  index.Restore("a", {4, 0}, false, 2, 2, "12", 8);    // replaces a's 5 bytes
  index.Restore("c", {5, 0}, false, 5, 1, "123456", 8);
  EXPECT_EQ(index.Find("a")->latest.str(), "12");
  EXPECT_TRUE(index.Find("b")->latest.empty());
  EXPECT_EQ(index.Find("c")->latest.str(), "123456");
  EXPECT_EQ(index.CachedValueBytes(), 8u);
  index.Restore("c", {6, 0}, true, 0, 0, "", 8);  // a tombstone frees c's bytes
  EXPECT_EQ(index.CachedValueBytes(), 2u);
  index.CheckInvariants();
}

TEST(RequestCheck, PutChecksInEtcdOrder) {
  etcdserverpb::PutRequest put;
  EXPECT_EQ(CheckPutRequest(put), ErrEmptyKey());
  put.set_key("k");
  put.set_value("v");
  put.set_ignore_value(true);
  put.set_lease(3);
  put.set_ignore_lease(true);
  EXPECT_EQ(CheckPutRequest(put), ErrValueProvided());
  put.clear_value();
  EXPECT_EQ(CheckPutRequest(put), ErrLeaseProvided());
}

TEST(RequestCheck, ReadOnlyTxnDetection) {
  etcdserverpb::TxnRequest t;
  *t.add_success() = testing::RangeOp("a");
  EXPECT_TRUE(IsTxnReadOnly(t));
  etcdserverpb::TxnRequest inner;
  *inner.add_failure() = testing::DelOp("a");
  *t.add_failure() = testing::TxnOp(inner);
  EXPECT_FALSE(IsTxnReadOnly(t));
}

TEST(Quota, RefusesWhenRequestWouldExceedQuota) {
  EXPECT_TRUE(CheckQuota(90, 10, 100).ok());
  EXPECT_EQ(CheckQuota(90, 11, 100), ErrNoSpace());
  EXPECT_TRUE(CheckQuota(int64_t{1} << 40, 1, -1).ok());
  EXPECT_EQ(CheckQuota(kDefaultQuotaBytes, 1, 0), ErrNoSpace());
}

TEST(AutoCompaction, RevisionModeKeepsNewestNRevisions) {
  auto policy = AutoCompactionPolicy::Revision(100, absl::Minutes(5));
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  EXPECT_EQ(policy.Observe(t0, 50, 0), std::nullopt);
  EXPECT_EQ(policy.Observe(t0 + absl::Minutes(5), 1000, 0), 900);
  EXPECT_EQ(policy.Observe(t0 + absl::Minutes(6), 2000, 900), std::nullopt);  // too soon
  EXPECT_EQ(policy.Observe(t0 + absl::Minutes(10), 2000, 900), 1900);
  EXPECT_EQ(policy.Observe(t0 + absl::Minutes(15), 2000, 1900), std::nullopt);  // nothing new
}

TEST(AutoCompaction, PeriodicModeCompactsToRevisionFromRetentionAgo) {
  auto policy = AutoCompactionPolicy::Periodic(absl::Hours(1));
  const absl::Time t0 = absl::FromUnixSeconds(0);
  std::optional<int64_t> answer;
  // One observation a minute, 10 revisions a minute.
  for (int minute = 0; minute <= 60; ++minute) {
    answer = policy.Observe(t0 + absl::Minutes(minute), 10 * minute + 1, 0);
    if (minute < 60) {
      EXPECT_EQ(answer, std::nullopt) << minute;
    }
  }
  EXPECT_EQ(answer, 1);  // the revision seen an hour ago
  answer = std::nullopt;
  for (int minute = 61; minute <= 66 && !answer; ++minute) {
    answer = policy.Observe(t0 + absl::Minutes(minute), 10 * minute + 1, 1);
  }
  EXPECT_EQ(answer, 61);  // six minutes later (retention / 10): the revision from 0:06
}

// The writer encodes records by hand; stored bytes (and so HashKV) must be exactly what
// protobuf writes for the same KeyValue, and what DecodeValueHeader/ParseFromString read.
TEST(KvCodec, HandEncodedKeyValueEqualsProtobuf) {
  std::mt19937_64 rng(11);
  const int64_t edges[] = {0, 1, -1, 127, 128, INT64_MAX, INT64_MIN, 1 << 20};
  for (int i = 0; i < 3000; ++i) {
    auto number = [&] {
      return rng() % 3 == 0 ? edges[rng() % std::size(edges)]
                            : static_cast<int64_t>(rng() >> (rng() % 64));
    };
    std::string key(rng() % 40, '\0');
    for (char& c : key) c = static_cast<char>(rng());
    std::string value(rng() % 3 == 0 ? 0 : rng() % 400, '\0');
    for (char& c : value) c = static_cast<char>(rng());
    KeyValueFields fields{key, number(), number(), number(), value, number()};
    mvccpb::KeyValue kv;
    kv.set_key(key);
    kv.set_create_revision(fields.create_revision);
    kv.set_mod_revision(fields.mod_revision);
    kv.set_version(fields.version);
    kv.set_value(value);
    kv.set_lease(fields.lease);
    std::string hand = "prefix";
    AppendKeyValue(fields, &hand);
    ASSERT_EQ(hand.substr(6), kv.SerializeAsString()) << "step " << i;
    ASSERT_EQ(KeyValueBytes(fields), hand.size() - 6) << "step " << i;
  }
}

}  // namespace
}  // namespace keel::kv
