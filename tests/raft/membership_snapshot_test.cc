// Membership changes (thesis §4.1, single-server changes) and snapshots (paper §7).
#include <gtest/gtest.h>

#include "tests/raft/raft_test_util.h"

namespace keel::raft::testing {
namespace {

Message ConfChangeProposal(NodeId to, ConfChangeType type, NodeId node) {
  Message m = Msg(to, to, MessageType::kProp);
  Entry e;
  e.type = EntryType::kConfChange;
  e.data = EncodeConfChange(ConfChange{type, node, Bytes(), 0});
  m.entries.push_back(e);
  return m;
}

TEST(Membership, AddVoterChangesQuorum_4_1) {
  TestNode n = NewNode(1, {1});
  (void)n.raft->Step(Msg(1, 1, MessageType::kHup));
  ASSERT_EQ(n.raft->role(), Role::kLeader);
  n.raft->ApplyConfChange(ConfChange{ConfChangeType::kAddNode, 2, Bytes(), 0});
  EXPECT_EQ(n.raft->tracker().voters(), (std::vector<NodeId>{1, 2}));
  (void)n.raft->Step(Proposal(1, "x"));
  EXPECT_EQ(n.raft->log().committed(), 1u) << "two voters now: the new entry needs node 2";
}

TEST(Membership, RemoveVoterMayCommitPendingEntries_4_1) {
  Cluster c(2);
  c.net.Elect(1);
  c.net.Isolate(2);
  c.net.Propose(1, "x");
  ASSERT_EQ(c[1].log().committed(), 1u);
  c[1].ApplyConfChange(ConfChange{ConfChangeType::kRemoveNode, 2, Bytes(), 0});
  EXPECT_EQ(c[1].log().committed(), 2u) << "with one voter left, its own copy is a quorum";
}

TEST(Membership, OnlyOnePendingChangeAtATime_4_1) {
  Cluster c(3);
  c.net.Elect(1);
  c.net.Isolate(2);
  c.net.Isolate(3);  // nothing commits, so the first change stays pending
  ASSERT_TRUE(c[1].Step(ConfChangeProposal(1, ConfChangeType::kAddLearnerNode, 4)).ok());
  ASSERT_TRUE(c[1].Step(ConfChangeProposal(1, ConfChangeType::kAddLearnerNode, 5)).ok());
  std::vector<Entry> log = c[1].log().AllEntries();
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[1].type, EntryType::kConfChange);
  EXPECT_EQ(log[2].type, EntryType::kNormal) << "the second change became an empty entry";
  EXPECT_TRUE(log[2].data.empty());
}

TEST(Membership, LearnerReceivesLogButDoesNotCountForCommit) {
  TestNode l = NewNode(1, {1, 2}, [](Config&) {}, {3});
  TestNode f = NewNode(2, {1, 2}, [](Config&) {}, {3});
  TestNode learner = NewNode(3, {1, 2}, [](Config&) {}, {3});
  Network net;
  net.Add(&l);
  net.Add(&f);
  net.Add(&learner);
  net.Elect(1);
  net.Isolate(2);
  net.Propose(1, "x");
  EXPECT_EQ(learner.raft->log().LastIndex(), 2u) << "the learner is replicated to";
  EXPECT_EQ(l.raft->log().committed(), 1u) << "but 1 + learner is not a quorum of {1,2}";
}

TEST(Membership, PromotedLearnerBecomesVoter) {
  TestNode n = NewNode(1, {1}, [](Config&) {}, {2});
  n.raft->ApplyConfChange(ConfChange{ConfChangeType::kAddNode, 2, Bytes(), 0});
  EXPECT_EQ(n.raft->tracker().voters(), (std::vector<NodeId>{1, 2}));
  EXPECT_TRUE(n.raft->tracker().learners().empty());
}

TEST(Membership, RemovedLeaderStepsDown) {
  Cluster c(3);
  c.net.Elect(1);
  c[1].ApplyConfChange(ConfChange{ConfChangeType::kRemoveNode, 1, Bytes(), 0});
  EXPECT_EQ(c[1].role(), Role::kFollower);
  EXPECT_FALSE(c[1].Promotable());
}

TEST(Membership, RemovingLastVoterIsRefused) {
  TestNode n = NewNode(1, {1});
  (void)n.raft->Step(Msg(1, 1, MessageType::kHup));
  ASSERT_TRUE(n.raft->Step(ConfChangeProposal(1, ConfChangeType::kRemoveNode, 1)).ok());
  EXPECT_EQ(n.raft->log().AllEntries().back().type, EntryType::kNormal);
  n.raft->ApplyConfChange(ConfChange{ConfChangeType::kRemoveNode, 1, Bytes(), 0});
  EXPECT_EQ(n.raft->tracker().voters(), (std::vector<NodeId>{1})) << "apply refuses it too";
}

TEST(Snapshot, LeaderSendsSnapshotToFollowerBehindFirstIndex_7) {
  Cluster c(3);
  c.net.Elect(1);
  c.net.Isolate(3);
  for (int i = 0; i < 5; ++i) c.net.Propose(1, "v" + std::to_string(i));
  TestNode& leader = c.net.node(1);
  PersistAll(leader);
  uint64_t committed = c[1].log().committed();
  c[1].log().AppliedTo(committed);
  ConfState cs{{1, 2, 3}, {}};
  ASSERT_TRUE(leader.store->CreateSnapshot(committed, &cs, Bytes(std::string("state"))).ok());
  ASSERT_TRUE(leader.store->Compact(committed).ok());
  c.net.Heal();
  c.net.Send(Msg(1, 1, MessageType::kBeat));
  EXPECT_EQ(c[3].log().committed(), committed) << "node 3 restored the snapshot";
  ASSERT_TRUE(c[3].log().UnstableSnapshot().has_value());
  EXPECT_EQ(c[3].log().UnstableSnapshot()->data.str(), "state");
  EXPECT_EQ(c[1].tracker().Get(3)->state, ProgressState::kReplicate)
      << "the follower's ack moved it out of snapshot state";
}

TEST(Snapshot, FollowerIgnoresSnapshotOlderThanCommit_7) {
  TestNode n = NewNodeWithLog(2, Ids(3), {1, 1, 1}, 1, [](Config&) {});
  n.raft->log().CommitTo(3);
  Message snap = Msg(1, 2, MessageType::kSnap, 1);
  snap.snapshot = Snapshot{Bytes(), SnapshotMetadata{ConfState{Ids(3), {}}, 2, 1}};
  (void)n.raft->Step(snap);
  EXPECT_FALSE(n.raft->log().UnstableSnapshot().has_value());
  auto out = TakeMessages(*n.raft);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].index, 3u) << "tells the leader where it really is";
}

TEST(Snapshot, MatchingSnapshotOnlyFastForwardsCommit_7) {
  TestNode n = NewNodeWithLog(2, Ids(3), {1, 1, 1}, 1, [](Config&) {});
  Message snap = Msg(1, 2, MessageType::kSnap, 1);
  snap.snapshot = Snapshot{Bytes(), SnapshotMetadata{ConfState{Ids(3), {}}, 2, 1}};
  (void)n.raft->Step(snap);
  EXPECT_FALSE(n.raft->log().UnstableSnapshot().has_value()) << "the log already has entry 2";
  EXPECT_EQ(n.raft->log().committed(), 2u);
  EXPECT_EQ(n.raft->log().LastIndex(), 3u) << "and keeps entry 3";
}

TEST(Snapshot, SnapshotRestoresMembership_7) {
  TestNode n = NewNode(4, {}, [](Config&) {});
  Message snap = Msg(1, 4, MessageType::kSnap, 2);
  snap.snapshot = Snapshot{Bytes(), SnapshotMetadata{ConfState{{1, 2, 4}, {}}, 10, 2}};
  (void)n.raft->Step(snap);
  EXPECT_EQ(n.raft->tracker().voters(), (std::vector<NodeId>{1, 2, 4}));
  EXPECT_EQ(n.raft->log().LastIndex(), 10u);
  EXPECT_FALSE(n.raft->Promotable()) << "not before the snapshot is persisted";
}

TEST(Snapshot, SnapshotOfConfigWithoutUsIsRefused) {
  TestNode n = NewNode(4, {}, [](Config&) {});
  Message snap = Msg(1, 4, MessageType::kSnap, 2);
  snap.snapshot = Snapshot{Bytes(), SnapshotMetadata{ConfState{{1, 2, 3}, {}}, 10, 2}};
  (void)n.raft->Step(snap);
  EXPECT_FALSE(n.raft->log().UnstableSnapshot().has_value());
}

TEST(Snapshot, FailedSnapshotReportReturnsFollowerToProbe_7) {
  Cluster c(3);
  c.net.Elect(1);
  Progress* pr = c[1].tracker().Get(2);
  pr->BecomeSnapshot(10);
  Message status = Msg(2, 1, MessageType::kSnapStatus);
  status.reject = true;
  (void)c[1].Step(status);
  EXPECT_EQ(pr->state, ProgressState::kProbe);
  EXPECT_TRUE(pr->probe_sent) << "waits for the next heartbeat before probing";
}

}  // namespace
}  // namespace keel::raft::testing
