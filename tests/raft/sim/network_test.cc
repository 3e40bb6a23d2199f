// Tests of the simulated network model itself: a simulator whose faults do not do what they
// say proves nothing.
#include <gtest/gtest.h>

#include <vector>

#include "tests/raft/sim/network.h"

namespace keel::raft::sim {
namespace {

Message Msg(NodeId from, NodeId to, uint64_t index = 0) {
  Message m;
  m.type = MessageType::kApp;
  m.from = from;
  m.to = to;
  m.index = index;
  return m;
}

// Delivers everything due up to `until`, returning (from, to, index, dropped) in order.
std::vector<Envelope> DrainUntil(SimNetwork& net, uint64_t until) {
  std::vector<Envelope> out;
  Envelope e;
  for (uint64_t t = 0; t <= until; ++t) {
    while (net.PopDue(t, &e)) out.push_back(e);
  }
  return out;
}

TEST(SimNetwork, DeliversAfterTheDelayAndNotBefore) {
  SimRandom random(1);
  NetworkOptions options;
  options.min_delay_ticks = 3;
  options.max_delay_ticks = 3;
  SimNetwork net(options, &random);
  net.Send(Msg(1, 2), 1, 1, /*now_tick=*/10);
  Envelope e;
  EXPECT_FALSE(net.PopDue(12, &e));
  ASSERT_TRUE(net.PopDue(13, &e));
  EXPECT_FALSE(e.dropped);
  EXPECT_EQ(e.message.to, 2u);
}

TEST(SimNetwork, SymmetricPartitionBlocksBothWaysAndHealRestores) {
  SimRandom random(2);
  SimNetwork net(NetworkOptions{}, &random);
  net.Partition({1}, {2, 3});
  net.Send(Msg(1, 2), 1, 1, 0);
  net.Send(Msg(3, 1), 3, 1, 0);
  net.Send(Msg(2, 3), 2, 1, 0);  // same side: unaffected
  std::vector<Envelope> got = DrainUntil(net, 5);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_TRUE(got[0].dropped);
  EXPECT_TRUE(got[1].dropped);
  EXPECT_FALSE(got[2].dropped);

  net.Heal();
  EXPECT_FALSE(net.HasCuts());
  net.Send(Msg(1, 2), 1, 1, 10);
  net.Send(Msg(3, 1), 3, 1, 10);
  for (const Envelope& e : DrainUntil(net, 20)) EXPECT_FALSE(e.dropped);
}

TEST(SimNetwork, AsymmetricPartitionIsOneWay) {
  SimRandom random(3);
  SimNetwork net(NetworkOptions{}, &random);
  net.CutOneWay({1}, {2});
  EXPECT_TRUE(net.IsCut(1, 2));
  EXPECT_FALSE(net.IsCut(2, 1));
  net.Send(Msg(1, 2), 1, 1, 0);
  net.Send(Msg(2, 1), 2, 1, 0);
  std::vector<Envelope> got = DrainUntil(net, 5);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(got[0].dropped) << "1->2 is cut";
  EXPECT_FALSE(got[1].dropped) << "2->1 still works";
}

TEST(SimNetwork, CutUsesThePhysicalSenderNotMessageFrom) {
  // A follower forwarding a proposal keeps the proposer's id in `from`.
  SimRandom random(4);
  SimNetwork net(NetworkOptions{}, &random);
  net.CutOneWay({2}, {3});
  net.Send(Msg(/*from=*/1, /*to=*/3), /*sender=*/2, 1, 0);
  std::vector<Envelope> got = DrainUntil(net, 5);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].dropped);
}

TEST(SimNetwork, LinkCutWhileInFlightDropsOnArrival) {
  SimRandom random(5);
  NetworkOptions options;
  options.min_delay_ticks = 5;
  options.max_delay_ticks = 5;
  SimNetwork net(options, &random);
  net.Send(Msg(1, 2), 1, 1, 0);
  net.CutLink(1, 2);
  std::vector<Envelope> got = DrainUntil(net, 10);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].dropped);
}

TEST(SimNetwork, LossDuplicationAndReorderingHappenAtTheirRates) {
  SimRandom random(6);
  NetworkOptions options;
  options.min_delay_ticks = 1;
  options.max_delay_ticks = 10;
  options.loss_rate = 0.2;
  options.duplicate_rate = 0.1;
  SimNetwork net(options, &random);
  constexpr int kSent = 10000;
  // Ten messages per tick, each with its own delay of 1-10 ticks: later ones overtake.
  for (int i = 0; i < kSent; ++i) net.Send(Msg(1, 2, i), 1, 1, i / 10);
  std::vector<Envelope> got = DrainUntil(net, kSent / 10 + 20);
  int dropped = 0, out_of_order = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i].dropped) ++dropped;
    if (i > 0 && got[i].message.index < got[i - 1].message.index) ++out_of_order;
  }
  // ~11,000 copies (10% duplicated), ~20% of them lost; and with delays of 1-10 ticks, many
  // messages overtake others.
  EXPECT_GT(got.size(), 10800u);
  EXPECT_LT(got.size(), 11200u);
  EXPECT_GT(dropped, 2000);
  EXPECT_LT(dropped, 2400);
  EXPECT_GT(out_of_order, 1000);
}

TEST(SimNetwork, FixedDelayKeepsEachLinkInOrder) {
  SimRandom random(7);
  NetworkOptions options;
  options.min_delay_ticks = 2;
  options.max_delay_ticks = 2;
  SimNetwork net(options, &random);
  for (uint64_t t = 0; t < 50; ++t) net.Send(Msg(1, 2, t), 1, 1, t);
  std::vector<Envelope> got = DrainUntil(net, 100);
  ASSERT_EQ(got.size(), 50u);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].message.index, i);
}

TEST(SimNetwork, SameSeedSameDeliveries) {
  auto run = [](uint64_t seed) {
    SimRandom random(seed);
    NetworkOptions options;
    options.max_delay_ticks = 7;
    options.loss_rate = 0.3;
    options.duplicate_rate = 0.2;
    SimNetwork net(options, &random);
    for (int i = 0; i < 200; ++i) net.Send(Msg(1 + i % 3, 1 + (i + 1) % 3, i), 1 + i % 3, 1, i / 10);
    std::vector<std::pair<uint64_t, bool>> trace;
    for (const Envelope& e : DrainUntil(net, 100)) trace.push_back({e.message.index, e.dropped});
    return trace;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

}  // namespace
}  // namespace keel::raft::sim
