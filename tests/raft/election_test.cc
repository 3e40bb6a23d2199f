// Leader election: Raft paper §5.2 and §5.4.1.
#include <gtest/gtest.h>

#include "tests/raft/raft_test_util.h"

namespace keel::raft::testing {
namespace {

TEST(Election, FollowerStartsElectionAfterRandomizedTimeout_5_2) {
  TestNode n = NewNode(1, Ids(3));
  Raft& r = *n.raft;
  int timeout = r.randomized_election_timeout();
  ASSERT_GE(timeout, 10);
  ASSERT_LT(timeout, 20);
  for (int i = 0; i < timeout - 1; ++i) r.Tick();
  EXPECT_EQ(r.role(), Role::kFollower);
  r.Tick();
  EXPECT_EQ(r.role(), Role::kCandidate);
  EXPECT_EQ(r.term(), 1u);
  EXPECT_EQ(r.vote(), 1u) << "a candidate votes for itself";
  auto msgs = TakeMessages(r);
  ASSERT_EQ(msgs.size(), 2u) << "a candidate asks every other voter";
  for (const Message& m : msgs) {
    EXPECT_EQ(m.type, MessageType::kVote);
    EXPECT_EQ(m.term, 1u);
  }
}

TEST(Election, RandomizedTimeoutsDifferAcrossNodes_5_2) {
  std::set<int> timeouts;
  for (NodeId id = 1; id <= 10; ++id) {
    TestNode n = NewNode(id, Ids(10));
    timeouts.insert(n.raft->randomized_election_timeout());
  }
  EXPECT_GT(timeouts.size(), 1u) << "split votes are avoided by spreading timeouts";
}

TEST(Election, CandidateWithMajorityBecomesLeader_5_2) {
  Cluster c(3);
  c.net.Elect(1);
  EXPECT_EQ(c[1].role(), Role::kLeader);
  EXPECT_EQ(c[2].role(), Role::kFollower);
  EXPECT_EQ(c[2].lead(), 1u);
  EXPECT_EQ(c[1].term(), 1u);
}

TEST(Election, CandidateWithoutMajorityStaysCandidate_5_2) {
  Cluster c(5);
  c.net.Isolate(1);
  c.net.Heal();
  c.net.Cut(1, 2);
  c.net.Cut(1, 3);
  c.net.Cut(1, 4);
  c.net.Elect(1);
  EXPECT_EQ(c[1].role(), Role::kCandidate) << "two of five votes are not a majority";
}

TEST(Election, RejectionsFromMajorityMakeCandidateFollower_5_2) {
  TestNode n = NewNode(1, Ids(3));
  Raft& r = *n.raft;
  (void)r.Step(Msg(1, 1, MessageType::kHup));
  ASSERT_EQ(r.role(), Role::kCandidate);
  Message reject = Msg(2, 1, MessageType::kVoteResp, 1);
  reject.reject = true;
  (void)r.Step(reject);
  EXPECT_EQ(r.role(), Role::kCandidate);
  reject.from = 3;
  (void)r.Step(reject);
  EXPECT_EQ(r.role(), Role::kFollower);
}

TEST(Election, NodeVotesAtMostOncePerTerm_5_2) {
  TestNode n = NewNode(1, Ids(3));
  Raft& r = *n.raft;
  Message vote2 = Msg(2, 1, MessageType::kVote, 1);
  (void)r.Step(vote2);
  auto first = TakeMessages(r);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_FALSE(first[0].reject);
  EXPECT_EQ(r.vote(), 2u);
  Message vote3 = Msg(3, 1, MessageType::kVote, 1);
  (void)r.Step(vote3);
  auto second = TakeMessages(r);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_TRUE(second[0].reject) << "already voted for 2 in term 1";
  // Asking again for the same candidate is fine (duplicated message).
  (void)r.Step(vote2);
  auto again = TakeMessages(r);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_FALSE(again[0].reject);
}

TEST(Election, VoterRejectsCandidateWithStaleLog_5_4_1) {
  // Voter's log: terms [1, 2]. Candidates with (last term, last index) below are stale.
  struct Case {
    uint64_t log_term, index;
    bool granted;
  } cases[] = {
      {1, 1, false}, {1, 2, false}, {1, 3, false},  // lower last term
      {2, 1, false},                                // same term, shorter
      {2, 2, true},  {2, 3, true},                  // same term, as long or longer
      {3, 1, true},                                 // higher last term wins whatever length
  };
  for (const Case& tc : cases) {
    TestNode n = NewNodeWithLog(1, Ids(3), {1, 2}, 2, [](Config&) {});
    Message m = Msg(2, 1, MessageType::kVote, 3);
    m.log_term = tc.log_term;
    m.index = tc.index;
    (void)n.raft->Step(m);
    auto out = TakeMessages(*n.raft);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(!out[0].reject, tc.granted) << "candidate log " << tc.log_term << "/" << tc.index;
  }
}

TEST(Election, HigherTermMakesLeaderStepDown_5_1) {
  Cluster c(3);
  c.net.Elect(1);
  ASSERT_EQ(c[1].role(), Role::kLeader);
  Message app = Msg(2, 1, MessageType::kApp, 5);
  (void)c[1].Step(app);
  EXPECT_EQ(c[1].role(), Role::kFollower);
  EXPECT_EQ(c[1].term(), 5u);
  EXPECT_EQ(c[1].lead(), 2u);
}

TEST(Election, StaleTermMessagesAreIgnored_5_1) {
  TestNode n = NewNodeWithLog(1, Ids(3), {}, 3, [](Config&) {});
  Message app = Msg(2, 1, MessageType::kApp, 2);
  (void)n.raft->Step(app);
  EXPECT_EQ(n.raft->term(), 3u);
  EXPECT_EQ(n.raft->lead(), kNone);
  EXPECT_TRUE(TakeMessages(*n.raft).empty()) << "without check_quorum/pre_vote nothing answers";
}

TEST(Election, LeaderAppendsEmptyEntryOfItsTerm_5_4_2) {
  Cluster c(3);
  c.net.Elect(1);
  const RaftLog& log = c[1].log();
  ASSERT_EQ(log.LastIndex(), 1u);
  EXPECT_EQ(*log.Term(1), 1u);
  EXPECT_EQ(log.committed(), 1u) << "replicated to all and committed";
  EXPECT_EQ(c[2].log().committed(), 1u);
}

TEST(Election, SingleVoterBecomesLeaderAtOnce) {
  TestNode n = NewNode(1, {1});
  (void)n.raft->Step(Msg(1, 1, MessageType::kHup));
  EXPECT_EQ(n.raft->role(), Role::kLeader);
  EXPECT_EQ(n.raft->log().committed(), 1u);
}

TEST(Election, LearnerNeverCampaigns) {
  TestNode n = NewNode(2, {1}, [](Config&) {}, {2});
  for (int i = 0; i < 100; ++i) n.raft->Tick();
  EXPECT_EQ(n.raft->role(), Role::kFollower);
  EXPECT_TRUE(TakeMessages(*n.raft).empty());
}

TEST(Election, NodeWithUnappliedConfChangeDoesNotCampaign_4_1) {
  TestNode n = NewNode(1, Ids(3));
  Raft& r = *n.raft;
  Message app = Msg(2, 1, MessageType::kApp, 1);
  Entry cc;
  cc.term = 1;
  cc.index = 1;
  cc.type = EntryType::kConfChange;
  cc.data = EncodeConfChange(ConfChange{ConfChangeType::kRemoveNode, 3, Bytes(), 0});
  app.entries.push_back(cc);
  app.commit = 1;
  (void)r.Step(app);
  ASSERT_EQ(r.log().committed(), 1u);
  TakeMessages(r);
  (void)r.Step(Msg(1, 1, MessageType::kHup));
  EXPECT_EQ(r.role(), Role::kFollower) << "the committed change is not applied yet";
}

}  // namespace
}  // namespace keel::raft::testing
