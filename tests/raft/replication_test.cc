// Log replication and commitment: Raft paper §5.3 and §5.4.2.
#include <gtest/gtest.h>

#include "tests/raft/raft_test_util.h"

namespace keel::raft::testing {
namespace {

std::vector<uint64_t> Terms(const Raft& r) {
  std::vector<uint64_t> out;
  for (const Entry& e : r.log().AllEntries()) out.push_back(e.term);
  return out;
}

TEST(Replication, LeaderReplicatesProposalToAllFollowers_5_3) {
  Cluster c(3);
  c.net.Elect(1);
  c.net.Propose(1, "x");
  for (NodeId id : Ids(3)) {
    EXPECT_EQ(c[id].log().LastIndex(), 2u) << "node " << id;
    EXPECT_EQ(c[id].log().committed(), 2u) << "node " << id;
    EXPECT_EQ(c[id].log().AllEntries().back().data.str(), "x");
  }
}

TEST(Replication, FollowerForwardsProposalToLeader) {
  Cluster c(3);
  c.net.Elect(1);
  c.net.Propose(2, "via-follower");
  EXPECT_EQ(c[1].log().committed(), 2u);
  EXPECT_EQ(c[1].log().AllEntries().back().data.str(), "via-follower");
}

TEST(Replication, ProposalWithoutLeaderIsDropped) {
  TestNode n = NewNode(1, Ids(3));
  absl::Status st = n.raft->Step(Proposal(1, "lost"));
  EXPECT_TRUE(IsProposalDropped(st)) << st;
}

TEST(Replication, FollowerRejectsAppendWhoseConsistencyCheckFails_5_3) {
  TestNode n = NewNodeWithLog(2, Ids(3), {1, 1}, 1, [](Config&) {});
  Message app = Msg(1, 2, MessageType::kApp, 2);
  app.index = 2;
  app.log_term = 2;  // our entry 2 has term 1
  (void)n.raft->Step(app);
  auto out = TakeMessages(*n.raft);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].reject);
  EXPECT_EQ(out[0].reject_hint, 2u) << "our last index with term <= 2";
  EXPECT_EQ(out[0].log_term, 1u);
}

TEST(Replication, FollowerTruncatesConflictingSuffix_5_3) {
  // Follower has [1, 1, 2, 2]; leader (term 3) says entry 2 is term 1, then sends [3, 3].
  TestNode n = NewNodeWithLog(2, Ids(3), {1, 1, 2, 2}, 2, [](Config&) {});
  Message app = Msg(1, 2, MessageType::kApp, 3);
  app.index = 2;
  app.log_term = 1;
  for (uint64_t i = 3; i <= 4; ++i) {
    Entry e;
    e.index = i;
    e.term = 3;
    app.entries.push_back(e);
  }
  (void)n.raft->Step(app);
  EXPECT_EQ(Terms(*n.raft), (std::vector<uint64_t>{1, 1, 3, 3}));
}

TEST(Replication, FollowerKeepsEntriesAfterMatchingPrefix_5_3) {
  // A delayed, shorter MsgApp must not truncate entries it does not conflict with.
  TestNode n = NewNodeWithLog(2, Ids(3), {1, 1, 1}, 1, [](Config&) {});
  Message app = Msg(1, 2, MessageType::kApp, 1);
  app.index = 0;
  app.log_term = 0;
  Entry e;
  e.index = 1;
  e.term = 1;
  app.entries.push_back(e);
  (void)n.raft->Step(app);
  EXPECT_EQ(n.raft->log().LastIndex(), 3u);
}

TEST(Replication, DivergentFollowerIsRepairedByLeader_5_3_Figure7) {
  // Figure 7 style: a follower with extra entries of an old term converges on the leader's log.
  TestNode leader = NewNodeWithLog(1, Ids(3), {1, 1, 4, 4, 5}, 5, [](Config&) {});
  TestNode f2 = NewNodeWithLog(2, Ids(3), {1, 1, 2, 2, 2, 3, 3}, 3, [](Config&) {});
  TestNode f3 = NewNodeWithLog(3, Ids(3), {1, 1, 4, 4}, 5, [](Config&) {});
  Network net;
  net.Add(&leader);
  net.Add(&f2);
  net.Add(&f3);
  net.Elect(1);
  ASSERT_EQ(leader.raft->role(), Role::kLeader);
  net.Propose(1, "after");
  std::vector<uint64_t> want = {1, 1, 4, 4, 5, 6, 6};
  EXPECT_EQ(Terms(*leader.raft), want);
  EXPECT_EQ(Terms(*f2.raft), want);
  EXPECT_EQ(Terms(*f3.raft), want);
  EXPECT_EQ(f2.raft->log().committed(), 7u);
}

TEST(Replication, LeaderBacksOffOneTermPerRoundTrip) {
  // The follower's hint lets the leader skip a whole term of mismatching entries at once.
  TestNode leader = NewNodeWithLog(1, {1, 2}, {1, 3, 3, 3, 3}, 3, [](Config&) {});
  TestNode f = NewNodeWithLog(2, {1, 2}, {1, 2, 2, 2, 2, 2, 2}, 2, [](Config&) {});
  (void)leader.raft->Step(Msg(1, 1, MessageType::kHup));
  auto votes = TakeMessages(*leader.raft);
  ASSERT_EQ(votes.size(), 1u);
  (void)f.raft->Step(votes[0]);
  (void)leader.raft->Step(TakeMessages(*f.raft).at(0));
  ASSERT_EQ(leader.raft->role(), Role::kLeader);
  int round_trips = 0;
  while (true) {
    auto apps = TakeMessages(*leader.raft);
    if (apps.empty()) break;
    for (const Message& m : apps) (void)f.raft->Step(m);
    auto resps = TakeMessages(*f.raft);
    if (resps.empty()) break;
    bool rejected = false;
    for (const Message& m : resps) {
      rejected |= m.reject;
      (void)leader.raft->Step(m);
    }
    if (rejected) ++round_trips;
  }
  EXPECT_LE(round_trips, 2) << "per-entry back-off would need about six";
  EXPECT_EQ(Terms(*f.raft), Terms(*leader.raft));
}

TEST(Replication, LeaderCommitsOnlyCurrentTermEntriesByCounting_5_4_2_Figure8) {
  // Leader 1 in term 3 has an entry from term 2 at index 2 that is on a majority. It must not
  // commit it by counting replicas until an entry of term 3 is replicated.
  TestNode leader = NewNodeWithLog(1, Ids(3), {1, 2}, 2, [](Config&) {});
  TestNode f2 = NewNodeWithLog(2, Ids(3), {1, 2}, 2, [](Config&) {});
  TestNode f3 = NewNodeWithLog(3, Ids(3), {1}, 2, [](Config&) {});
  (void)leader.raft->Step(Msg(1, 1, MessageType::kHup));
  for (Message& m : TakeMessages(*leader.raft)) {
    if (m.to == 2) (void)f2.raft->Step(m);
  }
  (void)leader.raft->Step(TakeMessages(*f2.raft).at(0));
  ASSERT_EQ(leader.raft->role(), Role::kLeader);
  ASSERT_EQ(leader.raft->term(), 3u);
  // Deliver only the probe answer telling the leader that 2 has entry 2, but not the new
  // empty entry of term 3.
  Message ack = Msg(2, 1, MessageType::kAppResp, 3);
  ack.index = 2;
  (void)leader.raft->Step(ack);
  EXPECT_EQ(leader.raft->log().committed(), 0u)
      << "entry 2 (term 2) is on a majority but is not from the current term";
  ack.index = 3;
  (void)leader.raft->Step(ack);
  EXPECT_EQ(leader.raft->log().committed(), 3u) << "the term-3 entry commits everything before it";
}

TEST(Replication, PlantedBugCommitsEarlierTermEntry) {
  // The same scenario with the planted bug: the simulator relies on this hook being real.
  auto bug = [](Config& c) { c.bugs.commit_earlier_term_entries = true; };
  TestNode leader = NewNodeWithLog(1, Ids(3), {1, 2}, 2, bug);
  (void)leader.raft->Step(Msg(1, 1, MessageType::kHup));
  TakeMessages(*leader.raft);
  Message grant = Msg(2, 1, MessageType::kVoteResp, 3);
  (void)leader.raft->Step(grant);
  ASSERT_EQ(leader.raft->role(), Role::kLeader);
  Message ack = Msg(2, 1, MessageType::kAppResp, 3);
  ack.index = 2;
  (void)leader.raft->Step(ack);
  EXPECT_EQ(leader.raft->log().committed(), 2u);
}

TEST(Replication, FollowerCommitNeverExceedsLastNewEntry_5_3) {
  TestNode n = NewNodeWithLog(2, Ids(3), {1, 1, 1}, 1, [](Config&) {});
  Message app = Msg(1, 2, MessageType::kApp, 1);
  app.index = 1;
  app.log_term = 1;
  app.commit = 3;  // leader committed 3, but this message only vouches for entry 1
  (void)n.raft->Step(app);
  EXPECT_EQ(n.raft->log().committed(), 1u);
}

TEST(Replication, HeartbeatCommitIsCappedAtFollowersMatch) {
  Cluster c(3);
  c.net.Elect(1);
  c.net.Ignore(MessageType::kApp);
  (void)c[1].Step(Proposal(1, "x"));
  auto msgs = TakeMessages(c[1]);
  ASSERT_TRUE(msgs.empty() || msgs[0].type == MessageType::kApp);
  (void)c[1].Step(Msg(1, 1, MessageType::kBeat));
  for (const Message& m : TakeMessages(c[1])) {
    ASSERT_EQ(m.type, MessageType::kHeartbeat);
    EXPECT_LE(m.commit, 1u) << "followers are only known to have entry 1";
  }
}

TEST(Replication, ReplicateStatePipelinesUpToInflightLimit) {
  auto small_window = [](Config& c) { c.max_inflight_msgs = 3; };
  Cluster c(2, small_window);
  c.net.Elect(1);
  ASSERT_EQ(c[1].tracker().Get(2)->state, ProgressState::kReplicate);
  int apps = 0;
  for (int i = 0; i < 10; ++i) {
    (void)c[1].Step(Proposal(1, "p"));
    for (const Message& m : TakeMessages(c[1])) apps += m.type == MessageType::kApp ? 1 : 0;
  }
  EXPECT_EQ(apps, 3) << "no acks came back: the window of 3 is full";
  EXPECT_TRUE(c[1].tracker().Get(2)->IsPaused());
}

TEST(Replication, MaxSizePerMsgSplitsAppends) {
  auto small_msgs = [](Config& c) { c.max_size_per_msg_bytes = 100; };
  Cluster c(2, small_msgs);
  c.net.Elect(1);
  c.net.Cut(1, 2);
  for (int i = 0; i < 5; ++i) c.net.Propose(1, std::string(60, 'a'));
  c.net.Heal();
  // Probe: the follower learns everything through several size-limited messages.
  c.net.Send(Msg(1, 1, MessageType::kBeat));
  EXPECT_EQ(c[2].log().LastIndex(), c[1].log().LastIndex());
}

TEST(Replication, UncommittedBytesLimitDropsProposals) {
  auto limit = [](Config& c) { c.max_uncommitted_entries_bytes = 100; };
  Cluster c(3, limit);
  c.net.Elect(1);
  c.net.Isolate(1);
  EXPECT_TRUE(c[1].Step(Proposal(1, std::string(80, 'a'))).ok()) << "one proposal always fits";
  absl::Status st = c[1].Step(Proposal(1, std::string(80, 'b')));
  EXPECT_TRUE(IsProposalDropped(st)) << st;
}

}  // namespace
}  // namespace keel::raft::testing
