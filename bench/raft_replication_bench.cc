// Replication throughput: 3 nodes in one process, the real RawNode and MemoryLogStore on each,
// messages through the simulator's network (no delay, no faults), 128-byte proposals proposed
// in batches (one Ready cycle per batch on the leader). Measures committed entries per second
// on one core, everything included: the leader's and followers' Ready handling, persisting to
// the memory store (with its Sync), applying on all three nodes, and periodic snapshots with
// log compaction so memory stays bounded. Safety checking is off (it is the simulator's cost,
// not raft's).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "base/check.h"
#include "tests/raft/sim/cluster.h"

namespace keel::raft::sim {
namespace {

constexpr size_t kPayloadBytes = 128;

ClusterOptions BenchOptions() {
  ClusterOptions options;
  options.seed = 1;
  options.initial_nodes = 3;
  options.check_safety = false;
  options.raft.election_timeout_ticks = 10;
  options.raft.heartbeat_interval_ticks = 1;
  options.raft.max_size_per_msg_bytes = 1024 * 1024;
  options.raft.max_inflight_msgs = 256;
  options.raft.max_uncommitted_entries_bytes = 0;
  options.network.min_delay_ticks = 0;
  options.network.max_delay_ticks = 0;
  options.driver.snapshot_interval_entries = 50000;
  options.driver.compaction_tail_entries = 1000;
  options.driver.leader_sends_first_rate = 1;
  options.driver.extra_sync_rate = 0;
  return options;
}

// range(0): proposals per batch; range(1): 0 = one RawNode::Propose call per proposal,
// 1 = one RawNode::ProposeBatch call for the batch (what the server's raft loop does).
void BM_Replicate3Nodes(benchmark::State& state) {
  const size_t batch_size = static_cast<size_t>(state.range(0));
  const bool as_one_message = state.range(1) != 0;
  Cluster cluster(BenchOptions());
  for (int i = 0; i < 1000 && cluster.Leader() == kNone; ++i) cluster.Tick();
  NodeId leader = cluster.Leader();
  KEEL_CHECK(leader != kNone);
  SimNode& lead = *cluster.node(leader);
  uint64_t start_applied = lead.app().applied_index();
  uint64_t start_messages = cluster.network().sent_count();
  std::string payload(kPayloadBytes, 'v');

  for (auto _ : state) {
    std::vector<Bytes> batch;
    batch.reserve(batch_size);
    for (size_t i = 0; i < batch_size; ++i) batch.emplace_back(payload);
    absl::Status status = cluster.ProposeBatch(leader, std::move(batch), as_one_message);
    KEEL_CHECK(status.ok()) << status;
    // No delay: one delivery round runs the whole exchange (append, acks, commit, apply).
    cluster.DeliverDue();
  }
  uint64_t committed = lead.app().applied_index() - start_applied;
  KEEL_CHECK_EQ(cluster.Leader(), leader);
  KEEL_CHECK_GE(committed, batch_size * static_cast<uint64_t>(state.iterations()));
  for (NodeId id : cluster.UpNodes()) {
    KEEL_CHECK_EQ(cluster.node(id)->app().applied_index(), lead.app().applied_index());
  }
  state.SetItemsProcessed(static_cast<int64_t>(committed));
  state.counters["committed_entries_per_s"] =
      benchmark::Counter(static_cast<double>(committed), benchmark::Counter::kIsRate);
  state.counters["messages_per_batch"] =
      static_cast<double>(cluster.network().sent_count() - start_messages) /
      static_cast<double>(state.iterations());
  state.counters["log_entries_kept"] = static_cast<double>(lead.store().LastIndex() -
                                                           lead.store().FirstIndex() + 1);
}
BENCHMARK(BM_Replicate3Nodes)
    ->ArgNames({"batch", "one_msg"})
    ->ArgsProduct({{64, 256, 1024, 4096}, {0, 1}})
    ->MeasureProcessCPUTime();

}  // namespace
}  // namespace keel::raft::sim

BENCHMARK_MAIN();
