// The small pure libraries under the core: quorum math, progress and inflights, the log, codec.
#include <gtest/gtest.h>

#include "raft/quorum/majority.h"
#include "tests/raft/raft_test_util.h"

namespace keel::raft::testing {
namespace {

TEST(Quorum, CommittedIndexIsMajorityAcked) {
  std::map<NodeId, uint64_t> acked = {{1, 5}, {2, 3}, {3, 9}};
  auto get = [&](NodeId id) { return acked.count(id) ? acked[id] : 0; };
  EXPECT_EQ(MajorityCommittedIndex({1, 2, 3}, get), 5u);
  EXPECT_EQ(MajorityCommittedIndex({1, 2, 3, 4}, get), 3u) << "4 acked nothing: need 3 of 4";
  EXPECT_EQ(MajorityCommittedIndex({3}, get), 9u);
}

TEST(Quorum, VoteResultPendingWonLost) {
  std::vector<NodeId> voters = {1, 2, 3, 4, 5};
  EXPECT_EQ(MajorityVoteResult(voters, {{1, true}, {2, true}}), VoteResult::kPending);
  EXPECT_EQ(MajorityVoteResult(voters, {{1, true}, {2, true}, {3, true}}), VoteResult::kWon);
  EXPECT_EQ(MajorityVoteResult(voters, {{1, false}, {2, false}, {3, false}}), VoteResult::kLost);
  EXPECT_EQ(MajorityVoteResult(voters, {{1, true}, {2, true}, {9, true}}), VoteResult::kPending)
      << "votes from non-voters do not count";
}

TEST(Inflights, FreeUpToAcknowledgedIndex) {
  Inflights in(3, 0);
  in.Add(5, 10);
  in.Add(7, 10);
  in.Add(9, 10);
  EXPECT_TRUE(in.Full());
  in.FreeLE(7);
  EXPECT_EQ(in.Count(), 1);
  EXPECT_EQ(in.Bytes(), 10u);
  EXPECT_FALSE(in.Full());
}

TEST(Inflights, ByteLimitFillsWindow) {
  Inflights in(100, 25);
  in.Add(1, 10);
  in.Add(2, 10);
  EXPECT_FALSE(in.Full());
  in.Add(3, 10);
  EXPECT_TRUE(in.Full());
}

TEST(Progress, ProbeRejectionBacksOffToHint) {
  Progress pr;
  pr.match = 2;
  pr.next = 10;
  EXPECT_TRUE(pr.MaybeDecrTo(9, 5));
  EXPECT_EQ(pr.next, 6u);
  EXPECT_FALSE(pr.MaybeDecrTo(9, 3)) << "stale: the probe at 9 was already answered";
  EXPECT_TRUE(pr.MaybeDecrTo(5, 0));
  EXPECT_EQ(pr.next, 3u) << "never below match + 1";
}

TEST(Progress, ReplicateRejectionAtOrBelowMatchIsStale) {
  Progress pr;
  pr.BecomeReplicate();
  pr.MaybeUpdate(5);
  pr.next = 9;
  EXPECT_FALSE(pr.MaybeDecrTo(4, 0));
  EXPECT_TRUE(pr.MaybeDecrTo(8, 0));
  EXPECT_EQ(pr.next, 6u);
}

TEST(Progress, LeavingSnapshotStateProbesAfterSnapshot) {
  Progress pr;
  pr.match = 1;
  pr.BecomeSnapshot(20);
  EXPECT_TRUE(pr.IsPaused());
  pr.BecomeProbe();
  EXPECT_EQ(pr.next, 21u);
}

TEST(Log, TermErrorsOutsideRange) {
  MemoryLogStore store;
  std::vector<Entry> entries;
  for (uint64_t i = 1; i <= 5; ++i) entries.push_back(Entry{1, i, EntryType::kNormal, Bytes()});
  store.Append(entries);
  ConfState cs{{1}, {}};
  ASSERT_TRUE(store.CreateSnapshot(3, &cs, Bytes()).ok());
  ASSERT_TRUE(store.Compact(3).ok());
  RaftLog log(&store, UINT64_MAX);
  EXPECT_EQ(log.FirstIndex(), 4u);
  EXPECT_TRUE(log.Term(3).ok()) << "the snapshot point keeps its term";
  EXPECT_TRUE(IsCompacted(log.Term(2).status()));
  EXPECT_TRUE(IsErrUnavailable(log.Term(6).status()));
  EXPECT_TRUE(IsCompacted(log.Slice(2, 5, UINT64_MAX).status()));
}

TEST(Log, SliceSpansStoreAndUnstable) {
  MemoryLogStore store;
  store.Append({Entry{1, 1, EntryType::kNormal, Bytes()}, Entry{1, 2, EntryType::kNormal, Bytes()}});
  RaftLog log(&store, UINT64_MAX);
  log.Append({Entry{2, 3, EntryType::kNormal, Bytes()}, Entry{2, 4, EntryType::kNormal, Bytes()}});
  auto all = log.Slice(1, 5, UINT64_MAX);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 4u);
  EXPECT_EQ((*all)[2].term, 2u);
  auto limited = log.Slice(1, 5, 1);
  ASSERT_TRUE(limited.ok());
  EXPECT_EQ(limited->size(), 1u) << "at least one entry even over the limit";
}

TEST(Log, FindConflictByTermSkipsWholeTerms) {
  MemoryLogStore store;
  std::vector<Entry> entries;
  uint64_t terms[] = {1, 1, 3, 3, 3, 5, 5};
  for (uint64_t i = 0; i < 7; ++i) entries.push_back(Entry{terms[i], i + 1, EntryType::kNormal, Bytes()});
  store.Append(entries);
  RaftLog log(&store, UINT64_MAX);
  EXPECT_EQ(log.FindConflictByTerm(7, 4).first, 5u);
  EXPECT_EQ(log.FindConflictByTerm(7, 2).first, 2u);
  EXPECT_EQ(log.FindConflictByTerm(7, 5).first, 7u);
}

TEST(Log, AppendingBelowCommitIsFatal) {
  MemoryLogStore store;
  store.Append({Entry{1, 1, EntryType::kNormal, Bytes()}, Entry{1, 2, EntryType::kNormal, Bytes()}});
  RaftLog log(&store, UINT64_MAX);
  log.CommitTo(2);
  EXPECT_DEATH(log.Append({Entry{2, 2, EntryType::kNormal, Bytes()}}), "overwrite committed");
}

TEST(Codec, MessageRoundTrips) {
  Message m = Msg(1, 2, MessageType::kApp, 3);
  m.log_term = 2;
  m.index = 7;
  m.commit = 6;
  m.entries.push_back(Entry{3, 8, EntryType::kConfChange, Bytes(std::string("cc\0x", 4))});
  m.context = Bytes(std::string("ctx"));
  raftpb::Message p;
  ToProto(m, &p);
  raftpb::Message parsed;
  ASSERT_TRUE(parsed.ParseFromString(p.SerializeAsString()));
  auto back = FromProto(parsed);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, m);
}

TEST(Codec, UnknownMessageTypeIsAnErrorNotACrash) {
  raftpb::Message p;
  p.set_type(static_cast<raftpb::MessageType>(99));
  EXPECT_FALSE(FromProto(p).ok());
}

TEST(Codec, SnapshotAndConfChangeRoundTrip) {
  Snapshot s{Bytes(std::string("data")), SnapshotMetadata{ConfState{{1, 3}, {5}}, 10, 4}};
  auto back = DecodeSnapshot(EncodeSnapshot(s));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, s);
  ConfChange cc{ConfChangeType::kRemoveNode, 3, Bytes(std::string("ctx")), 9};
  auto cc_back = DecodeConfChange(EncodeConfChange(cc).view());
  ASSERT_TRUE(cc_back.ok());
  EXPECT_EQ(*cc_back, cc);
  EXPECT_FALSE(DecodeHardState("\xff\xff").ok());
}

}  // namespace
}  // namespace keel::raft::testing
