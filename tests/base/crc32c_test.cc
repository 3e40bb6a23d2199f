// CRC32C against published vectors (RFC 3720 B.4, and the "123456789" check value of the
// Castagnoli polynomial), and the chunked form the snapshot stream relies on.
#include "base/crc32c.h"

#include <random>
#include <string>

#include "gtest/gtest.h"

namespace keel {
namespace {

TEST(Crc32c, MatchesCheckValue) { EXPECT_EQ(Crc32c("123456789"), 0xE3069283u); }

TEST(Crc32c, EmptyIsZero) { EXPECT_EQ(Crc32c(""), 0u); }

TEST(Crc32c, MatchesRfc3720Vectors) {
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(std::string(32, '\xff')), 0x62A8AB43u);
  std::string ascending, descending;
  for (int i = 0; i < 32; ++i) {
    ascending.push_back(static_cast<char>(i));
    descending.push_back(static_cast<char>(31 - i));
  }
  EXPECT_EQ(Crc32c(ascending), 0x46DD794Eu);
  EXPECT_EQ(Crc32c(descending), 0x113FDB5Cu);
}

// The 8-bytes-at-a-time loop and the byte loop must agree for every length and alignment.
TEST(Crc32c, ExtendOverAnySplitEqualsOneShot) {
  std::mt19937 rng(42);
  std::string data(1000, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  const uint32_t whole = Crc32c(data);
  for (size_t split = 0; split <= data.size(); ++split) {
    std::string_view view(data);
    ASSERT_EQ(Crc32cExtend(Crc32c(view.substr(0, split)), view.substr(split)), whole) << split;
  }
  uint32_t bytewise = 0;
  for (char c : data) bytewise = Crc32cExtend(bytewise, std::string_view(&c, 1));
  EXPECT_EQ(bytewise, whole);
}

TEST(Crc32c, DetectsASingleFlippedBit) {
  std::string data(4096, 'x');
  const uint32_t before = Crc32c(data);
  data[1234] ^= 0x10;
  EXPECT_NE(Crc32c(data), before);
}

}  // namespace
}  // namespace keel
