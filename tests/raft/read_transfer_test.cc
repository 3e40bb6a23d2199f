// ReadIndex (thesis §6.4, §6.4.1) and leadership transfer (thesis §3.10).
#include <gtest/gtest.h>

#include "tests/raft/raft_test_util.h"

namespace keel::raft::testing {
namespace {

Message ReadReq(NodeId at, const std::string& ctx) {
  Message m = Msg(at, at, MessageType::kReadIndex);
  Entry e;
  e.data = Bytes(ctx);
  m.entries.push_back(e);
  return m;
}

TEST(ReadIndex, LeaderAnswersAfterHeartbeatQuorum_6_4) {
  Cluster c(3);
  c.net.Elect(1);
  c.net.Propose(1, "a");
  c.net.Send(ReadReq(1, "ctx1"));
  ASSERT_EQ(c[1].read_states().size(), 1u);
  EXPECT_EQ(c[1].read_states()[0].index, 2u) << "the commit index when the read arrived";
  EXPECT_EQ(c[1].read_states()[0].request_ctx.str(), "ctx1");
}

TEST(ReadIndex, IsolatedLeaderCannotAnswer_6_4) {
  Cluster c(3);
  c.net.Elect(1);
  c.net.Isolate(1);
  c.net.Send(ReadReq(1, "ctx"));
  EXPECT_TRUE(c[1].read_states().empty()) << "no quorum confirmed leadership";
  c.net.Heal();
  c.net.Send(Msg(1, 1, MessageType::kBeat));
  EXPECT_EQ(c[1].read_states().size(), 1u) << "the next heartbeat round carries the context";
}

TEST(ReadIndex, FollowerRequestIsForwardedAndAnswered_6_4) {
  Cluster c(3);
  c.net.Elect(1);
  c.net.Propose(1, "a");
  c.net.Send(ReadReq(2, "from-2"));
  ASSERT_EQ(c[2].read_states().size(), 1u);
  EXPECT_EQ(c[2].read_states()[0].index, 2u);
  EXPECT_TRUE(c[1].read_states().empty());
}

TEST(ReadIndex, ADuplicatePendingContextIsNotAnswered) {
  // As etcd's raft: the leader keys pending rounds by context, so a second request with a
  // context already pending is dropped. Callers must make contexts unique across members
  // (the server puts the member id in them: server/read_index_context.h).
  Cluster c(3);
  c.net.Elect(1);
  c.net.Propose(1, "a");
  c.net.Ignore(MessageType::kHeartbeatResp);  // keep both requests pending at the leader
  c.net.Send(ReadReq(2, "same"));
  c.net.Send(ReadReq(3, "same"));
  c.net.Send(ReadReq(3, "other"));
  c.net.Heal();
  c.net.Send(Msg(1, 1, MessageType::kBeat));
  ASSERT_EQ(c[2].read_states().size(), 1u);
  EXPECT_EQ(c[2].read_states()[0].request_ctx.str(), "same");
  ASSERT_EQ(c[3].read_states().size(), 1u) << "only its request with a unique context";
  EXPECT_EQ(c[3].read_states()[0].request_ctx.str(), "other");
}

TEST(ReadIndex, NewLeaderWaitsForEntryOfItsTerm_6_4) {
  Cluster c(3);
  c.net.Elect(1);
  // Leader 2 is elected but its empty entry is not committed yet.
  c.net.Ignore(MessageType::kAppResp);
  c.net.Elect(2);
  ASSERT_EQ(c[2].role(), Role::kLeader);
  c.net.Send(ReadReq(2, "early"));
  EXPECT_TRUE(c[2].read_states().empty());
  c.net.Heal();
  c.net.Send(Msg(2, 2, MessageType::kBeat));
  ASSERT_EQ(c[2].read_states().size(), 1u) << "released once the term's entry committed";
  EXPECT_EQ(c[2].read_states()[0].index, c[2].log().committed());
}

TEST(ReadIndex, LeaseBasedAnswersWithoutRoundTrip_6_4_1) {
  Cluster c(3, [](Config& cfg) {
    cfg.check_quorum = true;
    cfg.read_only = ReadOnlyOption::kLeaseBased;
  });
  c.net.Elect(1);
  c.net.Isolate(1);
  c.net.Send(ReadReq(1, "lease"));
  EXPECT_EQ(c[1].read_states().size(), 1u) << "answered from the lease, no heartbeat needed";
}

TEST(ReadIndex, SingleVoterAnswersAtOnce) {
  TestNode n = NewNode(1, {1});
  (void)n.raft->Step(Msg(1, 1, MessageType::kHup));
  (void)n.raft->Step(ReadReq(1, "solo"));
  ASSERT_EQ(n.raft->read_states().size(), 1u);
  EXPECT_EQ(n.raft->read_states()[0].index, 1u);
}

TEST(Transfer, CaughtUpTransfereeTakesOver_3_10) {
  Cluster c(3);
  c.net.Elect(1);
  c.net.Send(Msg(2, 1, MessageType::kTransferLeader));
  EXPECT_EQ(c[2].role(), Role::kLeader);
  EXPECT_EQ(c[1].role(), Role::kFollower);
  EXPECT_EQ(c[1].lead(), 2u);
}

TEST(Transfer, LaggingTransfereeIsCaughtUpFirst_3_10) {
  Cluster c(3);
  c.net.Elect(1);
  c.net.Isolate(3);
  c.net.Propose(1, "x");
  c.net.Heal();
  c.net.Send(Msg(3, 1, MessageType::kTransferLeader));
  EXPECT_EQ(c[3].role(), Role::kLeader);
  EXPECT_EQ(c[3].log().LastIndex(), 3u) << "x plus the new leader's empty entry";
}

TEST(Transfer, ProposalsAreDroppedDuringTransfer_3_10) {
  Cluster c(3);
  c.net.Elect(1);
  c.net.Isolate(3);
  c.net.Send(Msg(3, 1, MessageType::kTransferLeader));
  ASSERT_EQ(c[1].lead_transferee(), 3u);
  EXPECT_TRUE(IsProposalDropped(c[1].Step(Proposal(1, "no"))));
}

TEST(Transfer, AbandonedAfterElectionTimeout_3_10) {
  Cluster c(3);
  c.net.Elect(1);
  c.net.Isolate(3);
  c.net.Send(Msg(3, 1, MessageType::kTransferLeader));
  ASSERT_EQ(c[1].lead_transferee(), 3u);
  for (int i = 0; i < 10; ++i) {
    c[1].Tick();
    TakeMessages(c[1]);
  }
  EXPECT_EQ(c[1].lead_transferee(), kNone);
  EXPECT_EQ(c[1].role(), Role::kLeader);
  EXPECT_TRUE(c[1].Step(Proposal(1, "yes")).ok());
}

TEST(Transfer, ToSelfOrLearnerIsIgnored) {
  TestNode l = NewNode(1, {1, 2}, [](Config&) {}, {3});
  TestNode f = NewNode(2, {1, 2}, [](Config&) {}, {3});
  TestNode learner = NewNode(3, {1, 2}, [](Config&) {}, {3});
  Network net;
  net.Add(&l);
  net.Add(&f);
  net.Add(&learner);
  net.Elect(1);
  net.Send(Msg(3, 1, MessageType::kTransferLeader));
  EXPECT_EQ(l.raft->lead_transferee(), kNone);
  net.Send(Msg(1, 1, MessageType::kTransferLeader));
  EXPECT_EQ(l.raft->lead_transferee(), kNone);
  EXPECT_EQ(l.raft->role(), Role::kLeader);
}

}  // namespace
}  // namespace keel::raft::testing
