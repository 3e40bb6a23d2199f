// WaitRegistry ids: a restarted member must not reuse the ids of its previous run.
#include "server/wait_registry.h"

#include <chrono>

#include "gtest/gtest.h"

namespace keel::server {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST(WaitRegistry, ARestartedMemberStartsAboveItsPreviousRunsIds) {
  WaitRegistry before(0xabc);
  uint64_t last = 0;
  for (int i = 0; i < 500; ++i) last = before.NextId();  // under 1,024 per ms
  // The "restart" happens at least a millisecond later (bounded wait for the clock to tick).
  const int64_t t = NowMs();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (NowMs() == t && std::chrono::steady_clock::now() < deadline) {
  }
  WaitRegistry after(0xabc);
  EXPECT_GT(after.NextId(), last);
}

TEST(WaitRegistry, MembersNeverShareIdsAndIdsAreNeverZero) {
  WaitRegistry a(1), b(2);
  for (int i = 0; i < 100; ++i) {
    uint64_t x = a.NextId(), y = b.NextId();
    EXPECT_NE(x, y);
    EXPECT_NE(x, 0u);
    EXPECT_EQ(x >> 40, 1u);
    EXPECT_EQ(y >> 40, 2u);
  }
}

}  // namespace
}  // namespace keel::server
