// PreVote and CheckQuorum: thesis §9.6 and §6.2 (and §4.2.3 for ignoring disruptive votes).
#include <gtest/gtest.h>

#include "tests/raft/raft_test_util.h"

namespace keel::raft::testing {
namespace {

auto PreVote = [](Config& c) { c.pre_vote = true; };
auto CheckQuorum = [](Config& c) { c.check_quorum = true; };
auto Both = [](Config& c) {
  c.pre_vote = true;
  c.check_quorum = true;
};

TEST(PreVote, PreCandidateDoesNotRaiseItsTerm_9_6) {
  TestNode n = NewNode(1, Ids(3), PreVote);
  (void)n.raft->Step(Msg(1, 1, MessageType::kHup));
  EXPECT_EQ(n.raft->role(), Role::kPreCandidate);
  EXPECT_EQ(n.raft->term(), 0u);
  EXPECT_EQ(n.raft->vote(), kNone);
  for (const Message& m : TakeMessages(*n.raft)) {
    EXPECT_EQ(m.type, MessageType::kPreVote);
    EXPECT_EQ(m.term, 1u) << "asks about the term it would use";
  }
}

TEST(PreVote, PreVoteWinnerRunsRealElection_9_6) {
  Cluster c(3, PreVote);
  c.net.Elect(1);
  EXPECT_EQ(c[1].role(), Role::kLeader);
  EXPECT_EQ(c[1].term(), 1u);
  EXPECT_EQ(c[2].term(), 1u);
}

TEST(PreVote, PartitionedNodeRejoiningDoesNotDisruptLeader_9_6) {
  Cluster c(3, PreVote);
  c.net.Elect(1);
  c.net.Isolate(3);
  for (int i = 0; i < 5; ++i) c.net.Send(Msg(3, 3, MessageType::kHup));
  EXPECT_EQ(c[3].term(), 1u) << "failed pre-votes never raise the term";
  EXPECT_EQ(c[3].role(), Role::kPreCandidate);
  // Meanwhile the majority made progress, so 3's log is behind and nobody grants its pre-vote.
  c.net.Propose(1, "while-3-was-away");
  c.net.Heal();
  c.net.Send(Msg(3, 3, MessageType::kHup));
  EXPECT_EQ(c[1].role(), Role::kLeader) << "the leader keeps leading";
  EXPECT_EQ(c[1].term(), 1u);
}

TEST(PreVote, GrantedEvenIfAlreadyVotedInCurrentTerm_9_6) {
  TestNode n = NewNode(1, Ids(3), PreVote);
  (void)n.raft->Step(Msg(2, 1, MessageType::kVote, 1));
  TakeMessages(*n.raft);
  ASSERT_EQ(n.raft->vote(), 2u);
  Message pv = Msg(3, 1, MessageType::kPreVote, 2);
  (void)n.raft->Step(pv);
  auto out = TakeMessages(*n.raft);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].reject) << "a pre-vote for a future term does not spend our vote";
  EXPECT_EQ(out[0].term, 2u);
  EXPECT_EQ(n.raft->term(), 1u) << "never change term because of a pre-vote";
}

TEST(PreVote, RejectedForStaleLog_9_6) {
  TestNode n = NewNodeWithLog(1, Ids(3), {1, 2}, 2, PreVote);
  Message pv = Msg(3, 1, MessageType::kPreVote, 3);
  pv.index = 5;
  pv.log_term = 1;
  (void)n.raft->Step(pv);
  auto out = TakeMessages(*n.raft);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].reject);
}

TEST(CheckQuorum, LeaderWithoutQuorumStepsDown_6_2) {
  Cluster c(3, CheckQuorum);
  c.net.Elect(1);
  ASSERT_EQ(c[1].role(), Role::kLeader);
  c.net.Isolate(1);
  // Two quorum checks: the first clears recent_active, the second finds nobody active.
  for (int i = 0; i < 2 * 10 + 1; ++i) {
    c[1].Tick();
    TakeMessages(c[1]);
  }
  EXPECT_EQ(c[1].role(), Role::kFollower);
  EXPECT_EQ(c[1].lead(), kNone);
}

TEST(CheckQuorum, LeaderWithActiveQuorumStays_6_2) {
  Cluster c(3, CheckQuorum);
  c.net.Elect(1);
  c.net.Isolate(3);
  for (int i = 0; i < 50; ++i) c.net.TickAll();
  EXPECT_EQ(c[1].role(), Role::kLeader);
}

TEST(CheckQuorum, FollowerInLeaseIgnoresVoteRequests_4_2_3) {
  Cluster c(3, CheckQuorum);
  c.net.Elect(1);
  // Node 2 just heard from the leader; a disruptive candidate with a higher term asks.
  Message vote = Msg(3, 2, MessageType::kVote, 5);
  vote.index = 10;
  vote.log_term = 5;
  (void)c[2].Step(vote);
  EXPECT_TRUE(TakeMessages(c[2]).empty()) << "ignored entirely";
  EXPECT_EQ(c[2].term(), 1u) << "and the term does not move";
}

TEST(CheckQuorum, TransferCampaignBypassesLease_3_10) {
  Cluster c(3, CheckQuorum);
  c.net.Elect(1);
  Message vote = Msg(3, 2, MessageType::kVote, 2);
  vote.index = c[3].log().LastIndex();
  vote.log_term = c[3].log().LastTerm();
  vote.context = Bytes(std::string("CampaignTransfer"));
  (void)c[2].Step(vote);
  auto out = TakeMessages(c[2]);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].reject);
}

TEST(CheckQuorum, StaleLeaderLearnsNewTermFromAppendResponse) {
  // With check_quorum, a stale-term MsgApp/heartbeat is answered so the old leader steps down.
  Cluster c(3, Both);
  c.net.Elect(1);
  c.net.Isolate(1);
  for (int i = 0; i < 30; ++i) {
    c[2].Tick();
    c[3].Tick();
    for (NodeId id : {2, 3}) {
      for (Message& m : TakeMessages(c[id])) c.net.Send(std::move(m));
    }
  }
  ASSERT_TRUE(c[2].role() == Role::kLeader || c[3].role() == Role::kLeader);
  uint64_t new_term = c[2].term();
  c.net.Heal();
  // The stale leader's heartbeat draws an answer with the new term.
  c.net.Send(Msg(1, 1, MessageType::kBeat));
  EXPECT_EQ(c[1].role(), Role::kFollower);
  EXPECT_EQ(c[1].term(), new_term);
}

TEST(Election, PlantedBugDoubleCountsOwnVote) {
  // Five voters need three grants. Honestly counted, self + one grant is not enough; with the
  // planted bug the candidate's own vote counts twice and it wins with two real votes.
  TestNode honest = NewNode(1, Ids(5));
  (void)honest.raft->Step(Msg(1, 1, MessageType::kHup));
  (void)honest.raft->Step(Msg(2, 1, MessageType::kVoteResp, 1));
  EXPECT_EQ(honest.raft->role(), Role::kCandidate);
  TestNode buggy = NewNode(1, Ids(5), [](Config& c) { c.bugs.count_own_vote_twice = true; });
  (void)buggy.raft->Step(Msg(1, 1, MessageType::kHup));
  (void)buggy.raft->Step(Msg(2, 1, MessageType::kVoteResp, 1));
  EXPECT_EQ(buggy.raft->role(), Role::kLeader);
}

}  // namespace
}  // namespace keel::raft::testing
