// RawNode: the Ready/Advance contract, persistence across restart, and input validation.
#include <gtest/gtest.h>

#include "tests/raft/raft_test_util.h"

namespace keel::raft::testing {
namespace {

std::unique_ptr<RawNode> NewRawNode(MemoryLogStore* store, NodeId id = 1) {
  Config c = MakeConfig(id, store);
  auto node = RawNode::Create(c);
  KEEL_CHECK(node.ok()) << node.status();
  return std::move(*node);
}

// Persists and advances one Ready like a driver; returns it.
Ready HandleReady(RawNode& node, MemoryLogStore& store) {
  Ready rd = node.GetReady();
  if (!rd.snapshot.IsEmpty()) KEEL_CHECK(store.ApplySnapshot(rd.snapshot).ok());
  store.Append(rd.entries);
  if (rd.hard_state) store.SetHardState(*rd.hard_state);
  store.Sync();
  node.Advance(rd);
  return rd;
}

TEST(RawNode, SingleNodeCampaignsAndCommitsProposal) {
  MemoryLogStore store;
  store.SetConfState(ConfState{{1}, {}});
  auto node = NewRawNode(&store);
  ASSERT_TRUE(node->Campaign().ok());
  Ready rd = HandleReady(*node, store);
  ASSERT_TRUE(rd.soft_state.has_value());
  EXPECT_EQ(rd.soft_state->role, Role::kLeader);
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->term, 1u);
  EXPECT_EQ(rd.hard_state->vote, 1u);
  EXPECT_TRUE(rd.must_sync);
  ASSERT_TRUE(node->Propose(Bytes(std::string("hello"))).ok());
  std::vector<Entry> applied;
  while (node->HasReady()) {
    Ready r = HandleReady(*node, store);
    applied.insert(applied.end(), r.committed_entries.begin(), r.committed_entries.end());
  }
  ASSERT_FALSE(applied.empty());
  EXPECT_EQ(applied.back().data.str(), "hello");
  EXPECT_EQ(node->GetStatus().applied_index, applied.back().index);
}

TEST(RawNode, CommittedEntriesAreHandedOutOnce) {
  MemoryLogStore store;
  store.SetConfState(ConfState{{1}, {}});
  auto node = NewRawNode(&store);
  ASSERT_TRUE(node->Campaign().ok());
  std::vector<uint64_t> indexes;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(node->Propose(Bytes(std::to_string(i))).ok());
    while (node->HasReady()) {
      for (const Entry& e : HandleReady(*node, store).committed_entries) indexes.push_back(e.index);
    }
  }
  EXPECT_EQ(indexes, (std::vector<uint64_t>{1, 2, 3, 4}));
}

TEST(RawNode, ProposeBatchAppendsOnceAndBroadcastsOnce) {
  MemoryLogStore store;
  store.SetConfState(ConfState{{1, 2}, {}});
  auto node = NewRawNode(&store);
  ASSERT_TRUE(node->Campaign().ok());
  HandleReady(*node, store);
  ASSERT_TRUE(node->Step(Msg(2, 1, MessageType::kVoteResp, 1)).ok());
  HandleReady(*node, store);
  Message ack = Msg(2, 1, MessageType::kAppResp, 1);
  ack.index = 1;  // the follower has the leader's empty entry: it moves to replicate
  ASSERT_TRUE(node->Step(ack).ok());
  HandleReady(*node, store);
  std::vector<Bytes> batch;
  for (int i = 0; i < 10; ++i) batch.emplace_back(std::string("p") + std::to_string(i));
  ASSERT_TRUE(node->ProposeBatch(std::move(batch)).ok());
  Ready rd = HandleReady(*node, store);
  ASSERT_EQ(rd.entries.size(), 10u);
  EXPECT_EQ(rd.entries.front().data.str(), "p0");
  EXPECT_EQ(rd.entries.back().data.str(), "p9");
  ASSERT_EQ(rd.messages.size(), 1u) << "one MsgApp carries the whole batch";
  EXPECT_EQ(rd.messages[0].entries.size(), 10u);
}

TEST(RawNode, CommitOnlyChangeDoesNotRequireSync) {
  MemoryLogStore store;
  store.SetConfState(ConfState{{1, 2}, {}});
  auto node = NewRawNode(&store);
  ASSERT_TRUE(node->Campaign().ok());
  HandleReady(*node, store);
  Message grant = Msg(2, 1, MessageType::kVoteResp, 1);
  ASSERT_TRUE(node->Step(grant).ok());
  Ready appended = HandleReady(*node, store);
  EXPECT_TRUE(appended.must_sync) << "new entries";
  Message ack = Msg(2, 1, MessageType::kAppResp, 1);
  ack.index = 1;
  ASSERT_TRUE(node->Step(ack).ok());
  Ready rd = HandleReady(*node, store);
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->commit, 1u);
  EXPECT_TRUE(rd.entries.empty());
  EXPECT_FALSE(rd.must_sync) << "only the commit index moved";
}

TEST(RawNode, RestartRecoversTermVoteAndLog) {
  MemoryLogStore store;
  store.SetConfState(ConfState{{1}, {}});
  {
    auto node = NewRawNode(&store);
    ASSERT_TRUE(node->Campaign().ok());
    ASSERT_TRUE(node->Propose(Bytes(std::string("durable"))).ok());
    while (node->HasReady()) HandleReady(*node, store);
  }
  store.Crash();  // everything above was synced: nothing is lost
  auto node = NewRawNode(&store);
  Status st = node->GetStatus();
  EXPECT_EQ(st.hard_state.term, 1u);
  EXPECT_EQ(st.hard_state.vote, 1u);
  EXPECT_EQ(st.hard_state.commit, 2u);
  EXPECT_EQ(st.soft_state.role, Role::kFollower) << "a restarted node starts as follower";
  EXPECT_EQ(node->raft().log().LastIndex(), 2u);
}

TEST(RawNode, UnsyncedWritesAreLostOnCrash) {
  MemoryLogStore store;
  store.SetConfState(ConfState{{1}, {}});
  store.Sync();
  auto node = NewRawNode(&store);
  ASSERT_TRUE(node->Campaign().ok());
  Ready rd = node->GetReady();
  store.Append(rd.entries);
  if (rd.hard_state) store.SetHardState(*rd.hard_state);
  // Crash before Sync(): the vote and the leader's entry are gone.
  store.Crash();
  auto restarted = NewRawNode(&store);
  EXPECT_EQ(restarted->GetStatus().hard_state.term, 0u);
  EXPECT_EQ(restarted->raft().log().LastIndex(), 0u);
}

TEST(RawNode, PlantedBugForgetsToPersistVote) {
  MemoryLogStore store;
  store.SetConfState(ConfState{{1, 2, 3}, {}});
  Config c = MakeConfig(1, &store);
  c.bugs.forget_to_persist_vote = true;
  auto node = std::move(*RawNode::Create(c));
  Message vote = Msg(2, 1, MessageType::kVote, 1);
  ASSERT_TRUE(node->Step(vote).ok());
  Ready rd = HandleReady(*node, store);
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->vote, kNone) << "the vote never reaches the store";
  EXPECT_EQ(node->raft().vote(), 2u);
}

TEST(RawNode, StepRefusesLocalMessages) {
  MemoryLogStore store;
  store.SetConfState(ConfState{{1}, {}});
  auto node = NewRawNode(&store);
  EXPECT_FALSE(node->Step(Msg(1, 1, MessageType::kHup)).ok());
  EXPECT_FALSE(node->Step(Msg(1, 1, MessageType::kBeat)).ok());
}

TEST(RawNode, StepRefusesResponsesFromNonMembers) {
  MemoryLogStore store;
  store.SetConfState(ConfState{{1}, {}});
  auto node = NewRawNode(&store);
  absl::Status st = node->Step(Msg(9, 1, MessageType::kAppResp, 1));
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound) << st;
}

TEST(RawNode, InvalidConfigIsRejected) {
  MemoryLogStore store;
  Config c = MakeConfig(1, &store);
  c.election_timeout_ticks = 1;
  EXPECT_FALSE(RawNode::Create(c).ok());
  c = MakeConfig(0, &store);
  EXPECT_FALSE(RawNode::Create(c).ok());
  c = MakeConfig(1, &store);
  c.read_only = ReadOnlyOption::kLeaseBased;
  c.check_quorum = false;
  EXPECT_FALSE(RawNode::Create(c).ok());
}

TEST(RawNodeDeathTest, SecondGetReadyBeforeAdvanceIsFatal) {
  MemoryLogStore store;
  store.SetConfState(ConfState{{1}, {}});
  auto node = NewRawNode(&store);
  ASSERT_TRUE(node->Campaign().ok());
  Ready rd = node->GetReady();
  EXPECT_DEATH(node->GetReady(), "GetReady\\(\\) called again before Advance\\(\\)");
}

TEST(RawNode, ReadIndexProducesReadState) {
  MemoryLogStore store;
  store.SetConfState(ConfState{{1}, {}});
  auto node = NewRawNode(&store);
  ASSERT_TRUE(node->Campaign().ok());
  while (node->HasReady()) HandleReady(*node, store);
  node->ReadIndex(Bytes(std::string("r1")));
  ASSERT_TRUE(node->HasReady());
  Ready rd = HandleReady(*node, store);
  ASSERT_EQ(rd.read_states.size(), 1u);
  EXPECT_EQ(rd.read_states[0].request_ctx.str(), "r1");
  EXPECT_EQ(rd.read_states[0].index, 1u);
}

TEST(RawNode, ConfChangeRoundTripsThroughLog) {
  MemoryLogStore store;
  store.SetConfState(ConfState{{1}, {}});
  auto node = NewRawNode(&store);
  ASSERT_TRUE(node->Campaign().ok());
  while (node->HasReady()) HandleReady(*node, store);
  ASSERT_TRUE(node->ProposeConfChange(ConfChange{ConfChangeType::kAddLearnerNode, 2, Bytes(), 7}).ok());
  ConfState cs;
  bool applied = false;
  while (node->HasReady()) {
    Ready rd = node->GetReady();
    store.Append(rd.entries);
    if (rd.hard_state) store.SetHardState(*rd.hard_state);
    store.Sync();
    for (const Entry& e : rd.committed_entries) {
      if (e.type != EntryType::kConfChange) continue;
      auto cc = DecodeConfChange(e.data.view());
      ASSERT_TRUE(cc.ok());
      EXPECT_EQ(cc->id, 7u);
      cs = node->ApplyConfChange(*cc);
      applied = true;
    }
    node->Advance(rd);
  }
  ASSERT_TRUE(applied);
  EXPECT_EQ(cs.learners, (std::vector<NodeId>{2}));
}

}  // namespace
}  // namespace keel::raft::testing
