// Keys as etcd's benchmark tool makes them (Go's binary.PutVarint into a zeroed buffer), the
// key-space bounds, prefix range ends over signed chars, and the pacing token bucket.
#include "bench/keel_bench/keys.h"

#include <gtest/gtest.h>

#include <set>

#include "bench/keel_bench/token_bucket.h"

namespace keel::bench {
namespace {

std::string Bytes(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s.push_back(static_cast<char>(b));
  return s;
}

TEST(GoVarint, MatchesGoEncodingBinaryPutVarint) {
  // Values checked against Go: binary.PutVarint(buf, n).
  auto enc = [](int64_t n) {
    std::string s;
    AppendGoVarint(n, &s);
    return s;
  };
  EXPECT_EQ(enc(0), Bytes({0x00}));
  EXPECT_EQ(enc(1), Bytes({0x02}));
  EXPECT_EQ(enc(-1), Bytes({0x01}));
  EXPECT_EQ(enc(63), Bytes({0x7e}));
  EXPECT_EQ(enc(64), Bytes({0x80, 0x01}));
  EXPECT_EQ(enc(300), Bytes({0xd8, 0x04}));
  EXPECT_EQ(enc(INT64_MAX).size(), 10u);
  EXPECT_EQ(GoVarintLength(1'000'000), 3);
}

TEST(KeyGenerator, KeysArePrefixPlusPaddedVarint) {
  KeyGenerator g("p/", 8, 1000, /*sequential=*/true);
  ASSERT_TRUE(g.Validate().ok());
  EXPECT_EQ(g.KeyAt(0), std::string("p/") + std::string(8, '\0'));
  EXPECT_EQ(g.KeyAt(300), std::string("p/") + Bytes({0xd8, 0x04}) + std::string(6, '\0'));
  EXPECT_EQ(g.KeyAt(300).size(), 10u) << "NUL bytes are part of the key";
}

TEST(KeyGenerator, SequentialKeysWrapAroundTheKeySpace) {
  KeyGenerator g("", 8, 5, /*sequential=*/true);
  std::mt19937_64 rng(1);
  EXPECT_EQ(g.IndexFor(0, rng), 0u);
  EXPECT_EQ(g.IndexFor(4, rng), 4u);
  EXPECT_EQ(g.IndexFor(5, rng), 0u);
  EXPECT_EQ(g.IndexFor(12, rng), 2u);
}

TEST(KeyGenerator, RandomKeysStayInTheKeySpaceAndCoverIt) {
  KeyGenerator g("", 8, 10, /*sequential=*/false);
  std::mt19937_64 rng(1);
  std::set<uint64_t> seen;
  for (int i = 0; i < 1000; ++i) {
    const uint64_t idx = g.IndexFor(static_cast<uint64_t>(i), rng);
    ASSERT_LT(idx, 10u);
    seen.insert(idx);
  }
  EXPECT_EQ(seen.size(), 10u);
}

TEST(KeyGenerator, SameSeedSameKeys) {
  KeyGenerator g("", 8, 1'000'000, false);
  std::mt19937_64 a(9), b(9);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(g.IndexFor(0, a), g.IndexFor(0, b));
}

TEST(KeyGenerator, RejectsAKeySizeTooSmallForTheKeySpace) {
  EXPECT_TRUE(KeyGenerator("", 1, 64, false).Validate().ok());   // 63 -> 1 byte
  EXPECT_FALSE(KeyGenerator("", 1, 65, false).Validate().ok());  // 64 -> 2 bytes
  EXPECT_FALSE(KeyGenerator("", 8, 0, false).Validate().ok());
}

TEST(PrefixEnd, IncrementsTheLastByteBelowFF) {
  EXPECT_EQ(PrefixEnd("abc"), "abd");
  EXPECT_EQ(PrefixEnd(Bytes({'a', 0x7f})), Bytes({'a', 0x80}));  // past signed char's max
  EXPECT_EQ(PrefixEnd(Bytes({'a', 0xff})), "b");
  EXPECT_EQ(PrefixEnd(Bytes({0xff, 0xff})), std::string(1, '\0'));
  EXPECT_EQ(PrefixEnd(""), std::string(1, '\0'));
}

TEST(RandomBytes, HasTheSizeAndDependsOnTheSeed) {
  EXPECT_EQ(RandomBytes(0, 1), "");
  EXPECT_EQ(RandomBytes(64, 1).size(), 64u);
  EXPECT_EQ(RandomBytes(64, 1), RandomBytes(64, 1));
  EXPECT_NE(RandomBytes(64, 1), RandomBytes(64, 2));
}

constexpr int64_t kSecond = 1'000'000'000;

TEST(TokenBucket, FirstTokenIsImmediateThenSpacedByTheRate) {
  TokenBucket b(/*rate_per_s=*/10, /*burst=*/1, /*start_ns=*/0);
  EXPECT_EQ(b.Reserve(0), 0);
  // Four clients asking at once queue for 100 ms, 200 ms, 300 ms, 400 ms.
  EXPECT_EQ(b.Reserve(0), kSecond / 10);
  EXPECT_EQ(b.Reserve(0), 2 * kSecond / 10);
  EXPECT_EQ(b.Reserve(0), 3 * kSecond / 10);
}

TEST(TokenBucket, IdleTimeAccruesAtMostTheBurst) {
  TokenBucket b(10, 1, 0);
  EXPECT_EQ(b.Reserve(0), 0);
  // Idle for 10 s: only one token accrued (burst 1), the next waits 100 ms.
  EXPECT_EQ(b.Reserve(10 * kSecond), 10 * kSecond);
  EXPECT_EQ(b.Reserve(10 * kSecond), 10 * kSecond + kSecond / 10);
}

TEST(TokenBucket, LongRunRateIsTheRate) {
  TokenBucket b(1000, 1, 0);
  int64_t t = 0;
  for (int i = 0; i < 10000; ++i) t = b.Reserve(t);  // a client that sends at its slot
  EXPECT_NEAR(static_cast<double>(t), 9.999 * kSecond, 1e6);
}

TEST(TokenBucket, AnEarlierClockReadingIsTreatedAsTheLatest) {
  TokenBucket b(1, 1, 5 * kSecond);
  EXPECT_EQ(b.Reserve(4 * kSecond), 5 * kSecond);
  EXPECT_EQ(b.Reserve(5 * kSecond), 6 * kSecond);
}

}  // namespace
}  // namespace keel::bench
