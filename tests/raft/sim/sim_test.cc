// Tests of the simulator as a whole: clean runs pass, runs replay exactly, and every planted
// bug of TestOnlyBugs is caught within a fixed seed budget (a checker that cannot fail is a
// defect).
#include <gtest/gtest.h>

#include <string>

#include "absl/strings/match.h"
#include "raft/raft.h"
#include "tests/raft/sim/cluster.h"
#include "tests/raft/sim/runner.h"
#include "tests/raft/sim/scenario.h"

namespace keel::raft::sim {
namespace {

// Seeds tried per planted bug before the test gives up. Every bug is found well inside it
// (docs/simulator.md lists the first failing seed of each).
constexpr uint64_t kBugSeedBudget = 500;

TEST(Simulator, CleanRunsPass) {
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    SimOptions options;
    options.seed = seed;
    SeedResult r = RunSeed(options);
    EXPECT_TRUE(r.passed) << "seed " << seed << ": " << r.violation << "\n  " << r.summary;
  }
}

TEST(Simulator, SameSeedSameRun) {
  for (uint64_t seed : {3, 17, 101}) {
    SimOptions options;
    options.seed = seed;
    SeedResult a = RunSeed(options);
    SeedResult b = RunSeed(options);
    EXPECT_EQ(a.fingerprint, b.fingerprint) << "seed " << seed;
    EXPECT_EQ(a.summary, b.summary) << "seed " << seed;
    // And in a forked child (how raft_sim runs seeds) too.
    SeedResult c = RunSeedIsolated(options);
    EXPECT_EQ(a.fingerprint, c.fingerprint) << "seed " << seed;
    EXPECT_EQ(a.passed, c.passed);
  }
}

TEST(Simulator, DifferentSeedsDifferentRuns) {
  SimOptions a, b;
  a.seed = 5;
  b.seed = 6;
  EXPECT_NE(RunSeed(a).fingerprint, RunSeed(b).fingerprint);
}

TEST(Simulator, NodesFlagIsHonoured) {
  SimOptions options;
  options.seed = 9;
  options.nodes = 5;
  SeedResult r = RunSeed(options);
  EXPECT_TRUE(r.passed) << r.violation;
  EXPECT_TRUE(absl::StartsWith(r.summary, "nodes=5 ")) << r.summary;
}

TEST(Simulator, ClusterElectsLeaderAndCommitsWithoutFaults) {
  ClusterOptions options;
  options.seed = 1;
  options.initial_nodes = 3;
  options.raft.election_timeout_ticks = 10;
  Cluster cluster(options);
  for (int i = 0; i < 100 && cluster.Leader() == kNone; ++i) cluster.Tick();
  NodeId leader = cluster.Leader();
  ASSERT_NE(leader, kNone);
  cluster.WatchFor("hello");
  ASSERT_TRUE(cluster.Propose(leader, "hello").ok());
  for (int i = 0; i < 20 && !cluster.watched_index().has_value(); ++i) cluster.Tick();
  ASSERT_TRUE(cluster.watched_index().has_value());
  for (int i = 0; i < 20 && !cluster.QuorumApplied(*cluster.watched_index()); ++i) cluster.Tick();
  EXPECT_TRUE(cluster.QuorumApplied(*cluster.watched_index()));
  EXPECT_TRUE(cluster.ok()) << cluster.checker().violation();
}

TEST(Simulator, UnsyncedWritesAreLostInACrash) {
  ClusterOptions options;
  options.seed = 2;
  options.initial_nodes = 3;
  Cluster cluster(options);
  for (int i = 0; i < 100 && cluster.Leader() == kNone; ++i) cluster.Tick();
  NodeId leader = cluster.Leader();
  ASSERT_NE(leader, kNone);
  uint64_t last = cluster.node(leader)->store().LastIndex();
  // The crash fires after the entry is written and before Sync(): it must vanish.
  cluster.ArmCrash(leader, CrashPoint::kAfterWrite);
  (void)cluster.Propose(leader, "lost");
  EXPECT_FALSE(cluster.node(leader)->up());
  EXPECT_EQ(cluster.node(leader)->store().LastIndex(), last);
}

TEST(Simulator, CheckerCatchesTwoLeadersInOneTerm) {
  SafetyChecker checker;
  checker.OnLeader(1, 5);
  checker.OnLeader(1, 5);
  EXPECT_TRUE(checker.ok());
  checker.OnLeader(2, 5);
  EXPECT_FALSE(checker.ok());
  EXPECT_TRUE(absl::StrContains(checker.violation(), "election safety"));
}

TEST(Simulator, CheckerCatchesLogMismatch) {
  SafetyChecker checker;
  Entry a{.term = 2, .index = 5, .type = EntryType::kNormal, .data = Bytes(std::string("a"))};
  Entry b = a;
  b.data = Bytes(std::string("b"));
  checker.OnAppend(1, {a}, 2);
  EXPECT_TRUE(checker.ok());
  checker.OnAppend(2, {b}, 2);
  EXPECT_FALSE(checker.ok());
  EXPECT_TRUE(absl::StrContains(checker.violation(), "log matching"));
}

TEST(Simulator, CheckerCatchesDivergentApply) {
  SafetyChecker checker;
  // Index 2 committed by node 1 in term 2.
  Entry a{.term = 2, .index = 2, .type = EntryType::kNormal, .data = Bytes(std::string("a"))};
  Entry b = a;
  b.data = Bytes(std::string("b"));
  SimStateMachine m1, m2;
  m1.Restore(SimStateMachine::BootstrapImage(), {});
  m2.Restore(SimStateMachine::BootstrapImage(), {});
  // Commit tracking needs a log: use a one-node store.
  MemoryLogStore log;
  log.Append({Entry{.term = 1, .index = 1}, a});
  checker.OnCommitIndex(1, 2, 2, log);
  m1.Apply(a);
  checker.OnApply(1, 1, a, m1);
  EXPECT_TRUE(checker.ok());
  m2.Apply(b);
  checker.OnApply(2, 1, b, m2);
  EXPECT_FALSE(checker.ok());
  EXPECT_TRUE(absl::StrContains(checker.violation(), "state machine safety"));
}

TEST(Simulator, CheckerCatchesStaleRead) {
  SafetyChecker checker;
  checker.OnReadState(1, 7, 7);
  EXPECT_TRUE(checker.ok());
  checker.OnReadState(1, 6, 7);
  EXPECT_FALSE(checker.ok());
}

// For each planted bug: the first failing seed within the budget, and the failure must be a
// safety violation found by the checker (not a liveness failure or a crash of the core).
class PlantedBug : public testing::TestWithParam<std::string> {};

TEST_P(PlantedBug, IsCaughtWithinTheSeedBudget) {
  for (uint64_t seed = 1; seed <= kBugSeedBudget; ++seed) {
    SimOptions options;
    options.seed = seed;
    options.bug = GetParam();
    SeedResult r = RunSeedIsolated(options);
    if (r.passed) continue;
    EXPECT_FALSE(absl::StartsWith(r.violation, "liveness")) << r.violation;
    EXPECT_FALSE(absl::StartsWith(r.violation, "process")) << r.violation;
    std::printf("%s caught at seed %llu: %s\n", GetParam().c_str(),
                static_cast<unsigned long long>(seed), r.violation.c_str());
    // The replay reproduces it.
    SeedResult again = RunSeedIsolated(options);
    EXPECT_FALSE(again.passed);
    EXPECT_EQ(again.violation, r.violation);
    return;
  }
  ADD_FAILURE() << GetParam() << " not caught in " << kBugSeedBudget << " seeds";
}

INSTANTIATE_TEST_SUITE_P(All, PlantedBug, testing::ValuesIn(BugNames()),
                         [](const testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace keel::raft::sim
