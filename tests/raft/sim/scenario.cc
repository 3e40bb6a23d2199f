#include "tests/raft/sim/scenario.h"

#include <algorithm>
#include <cstdio>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tests/raft/sim/cluster.h"
#include "tests/raft/sim/random.h"

namespace keel::raft::sim {
namespace {

// Everything the seed decides besides the cluster itself.
struct Schedule {
  uint64_t steps = kDefaultSteps;
  double proposal_rate = 0;      // per tick
  double read_rate = 0;          // per tick
  double crash_rate = 0;         // per tick, one node
  double armed_crash_share = 0;  // crashes that hit a Ready (the rest hit an idle node)
  double partition_rate = 0;     // per tick, when none is active
  uint64_t min_partition_ticks = 0;
  uint64_t max_partition_ticks = 0;
  double conf_change_rate = 0;   // per tick
  double transfer_rate = 0;      // per tick
  double campaign_rate = 0;      // per tick: a node times out early
  double duel_rate = 0;          // per tick: two nodes time out early together
  double leader_crash_rate = 0;  // per tick: the leader crashes
  int max_voters = 7;
};

template <typename T>
T Pick(SimRandom& r, std::initializer_list<T> choices) {
  return *(choices.begin() + r.Below(choices.size()));
}

// With a planted bug, shifts the mix toward the faults that expose it (the point of those runs
// is to show the checker catches the bug within a fixed seed budget). The draws come after
// the normal ones, so they never change what a seed means without --bug.
void BiasForBug(const SimOptions& options, SimRandom& r, ClusterOptions* cluster,
                Schedule* schedule) {
  Config& raft = cluster->raft;
  uint64_t et = raft.election_timeout_ticks;
  if (raft.bugs.forget_to_persist_vote) {
    // Needs: two candidates in one term, a voter that grants the first, crashes, restarts
    // with its vote forgotten and grants the second. So: competing candidates, crashes right
    // after votes, short down times, and vote requests that take long enough to arrive after
    // the restart.
    if (options.nodes == 0) cluster->initial_nodes = static_cast<int>(r.Range(3, 4));
    raft.pre_vote = r.Chance(0.3);
    raft.check_quorum = r.Chance(0.3);
    cluster->driver.crash_after_vote_rate = 0.5;
    cluster->min_down_ticks = 1;
    cluster->max_down_ticks = 3;
    cluster->network.max_delay_ticks = r.Range(et / 2, et);
    schedule->duel_rate = 0.02;
    schedule->leader_crash_rate = 0.01;
  }
  if (raft.bugs.commit_earlier_term_entries) {
    // Needs Figure 8 (§5.4.2): a leader that crashes with an entry only a minority holds (or
    // that only followers hold: a leader may send before it persists), a later leader with a
    // different entry there that crashes before replicating it, then a leader that counts
    // the old entry onto a majority before its own no-op, and crashes too. So: frequent leader
    // crashes, one entry per MsgApp, leaders that send first.
    if (options.nodes == 0) cluster->initial_nodes = 3;
    raft.max_size_per_msg_bytes = 1;
    raft.pre_vote = false;
    cluster->driver.leader_sends_first_rate = 0.9;
    cluster->driver.crash_after_commit_rate = 0.2;
    cluster->network.loss_rate = 0.2;
    cluster->min_down_ticks = et / 2;
    cluster->max_down_ticks = 2 * et;
    schedule->leader_crash_rate = 0.03;
    schedule->armed_crash_share = 0.8;
    schedule->crash_rate = 0.01;
    // Each attempt at the sequence above takes a few elections: give it time.
    if (options.steps == 0) schedule->steps = 4000;
  }
  if (raft.bugs.vote_without_log_check || raft.bugs.count_own_vote_twice) {
    // Found without help; more elections make it quicker.
    schedule->leader_crash_rate = std::max(schedule->leader_crash_rate, 0.005);
  }
}

// Draws the cluster and schedule from the seed. The draws happen in a fixed order whatever
// the options, so --nodes or --steps change only what they name.
void ChooseParameters(const SimOptions& options, ClusterOptions* cluster, Schedule* schedule) {
  SimRandom r(Mix64(options.seed, 0x5eed));
  cluster->seed = options.seed;
  cluster->verbose = options.verbose;
  int nodes = static_cast<int>(r.Range(3, 7));
  cluster->initial_nodes = options.nodes > 0 ? options.nodes : nodes;

  Config& raft = cluster->raft;
  raft.election_timeout_ticks = static_cast<int>(r.Range(6, 12));
  raft.heartbeat_interval_ticks =
      static_cast<int>(r.Range(1, std::max(1, raft.election_timeout_ticks / 4)));
  raft.pre_vote = r.Chance(0.7);
  raft.check_quorum = r.Chance(0.7);
  // One entry per MsgApp makes a follower acknowledge a prefix of what a leader holds, which
  // is what the commitment rules (§5.4.2) are about.
  raft.max_size_per_msg_bytes = Pick<uint64_t>(r, {1, 512, 1024 * 1024});
  raft.max_inflight_msgs = Pick<int>(r, {4, 16, 256});
  // Flow control, so that a leader's backlog (and so the time to catch up after the faults
  // heal) stays bounded whatever the proposal rate.
  raft.max_uncommitted_entries_bytes = Pick<uint64_t>(r, {4 * 1024, 16 * 1024});
  if (!options.bug.empty()) {
    absl::Status status = SetBugByName(options.bug, &raft.bugs);
    KEEL_CHECK(status.ok()) << status;
  }
  uint64_t et = raft.election_timeout_ticks;

  NetworkOptions& net = cluster->network;
  net.min_delay_ticks = 1;
  net.max_delay_ticks = r.Chance(0.15) ? r.Range(et / 2, et) : r.Range(1, std::max<uint64_t>(1, et / 3));
  net.loss_rate = r.Chance(0.3) ? 0 : r.Unit() * 0.15;
  net.duplicate_rate = r.Chance(0.5) ? 0 : r.Unit() * 0.05;
  net.reorder_rate = r.Unit() * 0.1;
  net.reorder_extra_ticks = r.Range(1, et);

  DriverOptions& driver = cluster->driver;
  driver.snapshot_interval_entries = r.Range(5, 60);
  driver.compaction_tail_entries = r.Range(0, 20);
  driver.leader_sends_first_rate = r.Unit();
  driver.extra_sync_rate = r.Unit() * 0.5;

  cluster->min_down_ticks = 1;
  cluster->max_down_ticks = r.Range(1, 4 * et);

  schedule->steps = options.steps > 0 ? options.steps : kDefaultSteps;
  schedule->proposal_rate = r.Unit();
  schedule->read_rate = r.Unit() * 0.5;
  schedule->crash_rate = Pick<double>(r, {0, 0.002, 0.01, 0.03});
  schedule->armed_crash_share = r.Unit();
  schedule->partition_rate = Pick<double>(r, {0, 0.005, 0.02});
  schedule->min_partition_ticks = et;
  schedule->max_partition_ticks = r.Range(2 * et, 10 * et);
  schedule->conf_change_rate = Pick<double>(r, {0, 0.003, 0.01});
  schedule->transfer_rate = Pick<double>(r, {0, 0.003});
  schedule->campaign_rate = Pick<double>(r, {0, 0.002});
  schedule->max_voters = 7;
  // Targeted faults (elections are where most Raft bugs live).
  schedule->duel_rate = Pick<double>(r, {0, 0.002, 0.01});
  schedule->leader_crash_rate = Pick<double>(r, {0, 0.002, 0.01});
  driver.crash_after_vote_rate = Pick<double>(r, {0, 0.05, 0.2});
  driver.crash_after_commit_rate = Pick<double>(r, {0, 0.01, 0.05});

  if (!options.bug.empty()) BiasForBug(options, r, cluster, schedule);
}

class Run {
 public:
  Run(const SimOptions& options, const ClusterOptions& cluster, const Schedule& schedule)
      : options_(options),
        schedule_(schedule),
        cluster_options_(cluster),
        random_(Mix64(options.seed, 4)),
        cluster_(cluster) {}

  SeedResult Go();

 private:
  void Step();
  void Propose();
  void MaybeCrash();
  void MaybePartition();
  void MaybeChangeMembership();
  void MaybeTransfer();
  bool Liveness(SeedResult* result);
  NodeId RandomUpNode();
  std::string Summary() const;
  template <typename... Args>
  void Log(const Args&... args) {
    if (!options_.verbose) return;
    std::string line = absl::StrCat("[", cluster_.now(), "] ", args...);
    std::fprintf(stdout, "%s\n", line.c_str());
  }

  const SimOptions& options_;
  Schedule schedule_;
  ClusterOptions cluster_options_;
  SimRandom random_;
  Cluster cluster_;
  uint64_t heal_tick_ = 0;
  uint64_t proposals_ = 0;
  uint64_t partitions_ = 0;
};

NodeId Run::RandomUpNode() {
  std::vector<NodeId> up = cluster_.UpNodes();
  return up.empty() ? kNone : up[random_.Below(up.size())];
}

void Run::Propose() {
  NodeId leader = cluster_.Leader();
  NodeId target = (leader != kNone && random_.Chance(0.8)) ? leader : RandomUpNode();
  if (target == kNone) return;
  // Unique payloads, so an entry applied twice or out of place changes the digest.
  std::string data = absl::StrCat("s", options_.seed, "-p", proposals_++, "-");
  data.append(random_.Range(0, 48), 'x');
  (void)cluster_.Propose(target, std::move(data));
}

void Run::MaybeCrash() {
  NodeId victim = kNone;
  if (random_.Chance(schedule_.crash_rate)) victim = RandomUpNode();
  if (victim == kNone && random_.Chance(schedule_.leader_crash_rate)) {
    victim = cluster_.Leader();
  }
  if (victim == kNone) return;
  if (random_.Chance(schedule_.armed_crash_share)) {
    auto point = static_cast<CrashPoint>(random_.Below(kCrashPointCount));
    Log("node ", victim, " will crash ", CrashPointName(point), " in its next Ready");
    cluster_.ArmCrash(victim, point);
  } else {
    cluster_.Crash(victim);
  }
}

void Run::MaybePartition() {
  SimNetwork& net = cluster_.network();
  if (net.HasCuts()) {
    if (cluster_.now() >= heal_tick_) {
      Log("network heals");
      net.Heal();
    }
    return;
  }
  if (!random_.Chance(schedule_.partition_rate)) return;
  std::vector<NodeId> all;
  for (const auto& [id, node] : cluster_.nodes()) {
    if (!node->removed()) all.push_back(id);
  }
  if (all.size() < 2) return;
  std::set<NodeId> a, b;
  for (NodeId id : all) (random_.Chance(0.5) ? a : b).insert(id);
  if (a.empty() || b.empty()) {
    // Isolate one node.
    a.clear(), b.clear();
    NodeId lonely = all[random_.Below(all.size())];
    for (NodeId id : all) (id == lonely ? a : b).insert(id);
  }
  ++partitions_;
  switch (random_.Below(3)) {
    case 0:
      net.Partition(a, b);
      Log("partition ", a.size(), "|", b.size(), " (symmetric)");
      break;
    case 1:
      net.CutOneWay(a, b);
      Log("partition ", a.size(), "->", b.size(), " cut one way");
      break;
    default: {
      NodeId from = all[random_.Below(all.size())];
      NodeId to = all[random_.Below(all.size())];
      if (from != to) net.CutLink(from, to);
      Log("link ", from, "->", to, " cut");
      break;
    }
  }
  heal_tick_ = cluster_.now() +
               random_.Range(schedule_.min_partition_ticks, schedule_.max_partition_ticks);
}

void Run::MaybeChangeMembership() {
  if (!random_.Chance(schedule_.conf_change_rate)) return;
  NodeId leader = cluster_.Leader();
  if (leader == kNone) return;
  ConfState cs = cluster_.node(leader)->raw_node().GetStatus().conf_state;
  ConfChange cc;
  switch (random_.Below(4)) {
    case 0:  // add a voter
      if (static_cast<int>(cs.voters.size()) >= schedule_.max_voters) return;
      cc.type = ConfChangeType::kAddNode;
      cc.node_id = cluster_.NewNodeId();
      break;
    case 1:  // add a learner
      if (cs.learners.size() >= 2) return;
      cc.type = ConfChangeType::kAddLearnerNode;
      cc.node_id = cluster_.NewNodeId();
      break;
    case 2:  // promote a learner
      if (cs.learners.empty()) return;
      cc.type = ConfChangeType::kAddNode;
      cc.node_id = cs.learners[random_.Below(cs.learners.size())];
      break;
    default: {  // remove a voter (never below 3) or a learner
      std::vector<NodeId> candidates = cs.learners;
      if (cs.voters.size() > 3) candidates.insert(candidates.end(), cs.voters.begin(), cs.voters.end());
      if (candidates.empty()) return;
      cc.type = ConfChangeType::kRemoveNode;
      cc.node_id = candidates[random_.Below(candidates.size())];
      break;
    }
  }
  cc.id = cluster_.now();
  (void)cluster_.ProposeConfChange(leader, cc);
}

void Run::MaybeTransfer() {
  if (!random_.Chance(schedule_.transfer_rate)) return;
  NodeId leader = cluster_.Leader();
  if (leader == kNone) return;
  std::vector<NodeId> voters = cluster_.node(leader)->raw_node().GetStatus().conf_state.voters;
  if (voters.empty()) return;
  NodeId to = voters[random_.Below(voters.size())];
  if (to != leader) cluster_.TransferLeadership(leader, to);
}

void Run::Step() {
  cluster_.Tick();
  for (NodeId id : cluster_.DownNodes()) {
    if (cluster_.node(id)->restart_tick() <= cluster_.now()) cluster_.Restart(id);
  }
  for (uint64_t n = random_.Count(schedule_.proposal_rate); n > 0 && cluster_.ok(); --n) Propose();
  for (uint64_t n = random_.Count(schedule_.read_rate); n > 0 && cluster_.ok(); --n) {
    NodeId id = RandomUpNode();
    if (id != kNone) cluster_.ReadIndex(id);
  }
  if (cluster_.ok()) MaybeCrash();
  if (cluster_.ok()) MaybePartition();
  if (cluster_.ok()) MaybeChangeMembership();
  if (cluster_.ok()) MaybeTransfer();
  if (cluster_.ok() && random_.Chance(schedule_.campaign_rate)) {
    NodeId id = RandomUpNode();
    if (id != kNone) cluster_.Campaign(id);
  }
  if (cluster_.ok() && random_.Chance(schedule_.duel_rate)) {
    // Two nodes time out in the same tick: likely candidates of the same term.
    NodeId a = RandomUpNode(), b = RandomUpNode();
    if (a != kNone && b != a) {
      Log("nodes ", a, " and ", b, " campaign together");
      cluster_.Campaign(a);
      cluster_.Campaign(b);
    }
  }
}

bool Run::Liveness(SeedResult* result) {
  // Heal everything: links, loss, duplication, extra reordering; restart every crashed node.
  SimNetwork& net = cluster_.network();
  net.Heal();
  NetworkOptions calm = net.options();
  calm.loss_rate = 0;
  calm.duplicate_rate = 0;
  calm.reorder_rate = 0;
  // One fixed delay: messages on a link arrive in the order sent, as over TCP.
  calm.max_delay_ticks = calm.min_delay_ticks;
  net.set_options(calm);
  for (const auto& [id, node] : cluster_.nodes()) node->armed_crash().reset();
  cluster_.driver().DisableCrashes();
  for (NodeId id : cluster_.DownNodes()) cluster_.Restart(id);
  if (!cluster_.ok()) return false;
  Log("liveness phase; cluster state:\n", cluster_.Describe());

  uint64_t et = cluster_options_.raft.election_timeout_ticks;
  uint64_t start = cluster_.now();
  uint64_t deadline = start + kLivenessElectionTimeouts * et;
  std::string probe = absl::StrCat("liveness-probe-", options_.seed);
  cluster_.WatchFor(probe);
  uint64_t next_proposal = start;
  while (cluster_.now() < deadline) {
    cluster_.Tick();
    if (!cluster_.ok()) return false;
    std::optional<uint64_t> index = cluster_.watched_index();
    if (index.has_value() && cluster_.QuorumApplied(*index)) {
      result->liveness_ticks = cluster_.now() - start;
      return true;
    }
    // Propose to the leader until it takes (a leader may lose it to a crash of the past, a
    // transfer in progress, or a step-down); duplicates are harmless.
    NodeId leader = cluster_.Leader();
    if (!index.has_value() && leader != kNone && cluster_.now() >= next_proposal) {
      (void)cluster_.Propose(leader, probe);
      next_proposal = cluster_.now() + et;
    }
  }
  result->liveness_ticks = cluster_.now() - start;
  Log("liveness failed; cluster state:\n", cluster_.Describe());
  result->violation = absl::StrCat("liveness: no proposal was applied by a quorum within ",
                                   kLivenessElectionTimeouts * et, " ticks after healing (leader ",
                                   cluster_.Leader(), ", watched index ",
                                   cluster_.watched_index().value_or(0), ")");
  return false;
}

std::string Run::Summary() const {
  const Config& raft = cluster_options_.raft;
  const NetworkOptions& net = cluster_options_.network;
  return absl::StrFormat(
      "nodes=%d et=%d hb=%d prevote=%d cq=%d msg=%d inflight=%d delay=%d-%d loss=%.3f dup=%.3f "
      "crash=%.3f partition=%.3f conf=%.3f | ticks=%d commit=%d applied=%d leaders=%d "
      "crashes=%d partitions=%d confchanges=%d snaps=%d/%d reads=%d msgs=%d",
      cluster_options_.initial_nodes, raft.election_timeout_ticks, raft.heartbeat_interval_ticks,
      raft.pre_vote, raft.check_quorum, raft.max_size_per_msg_bytes, raft.max_inflight_msgs,
      net.min_delay_ticks, net.max_delay_ticks, net.loss_rate, net.duplicate_rate,
      schedule_.crash_rate, schedule_.partition_rate, schedule_.conf_change_rate, cluster_.now(),
      cluster_.checker().commit_high(), cluster_.checker().applied_high(),
      cluster_.checker().leaders_elected(), cluster_.crashes(), partitions_,
      cluster_.conf_changes_applied(), cluster_.driver().snapshots_taken(),
      cluster_.driver().snapshots_installed(), cluster_.driver().reads_served(),
      cluster_.network().sent_count());
}

SeedResult Run::Go() {
  SeedResult result;
  for (uint64_t i = 0; i < schedule_.steps && cluster_.ok(); ++i) Step();
  bool live = cluster_.ok() && Liveness(&result);
  if (!cluster_.ok()) result.violation = cluster_.checker().violation();
  result.passed = cluster_.ok() && live;
  if (!result.passed && result.violation.empty()) result.violation = "unknown failure";
  if (!result.passed) result.violation = absl::StrCat(result.violation, " (tick ", cluster_.now(), ")");
  result.fingerprint = Mix64(cluster_.checker().Fingerprint(), cluster_.now());
  result.summary = Summary();
  return result;
}

}  // namespace

const std::vector<std::string>& BugNames() {
  static const std::vector<std::string>* const kNames = new std::vector<std::string>{
      "vote_without_log_check", "commit_earlier_term_entries", "forget_to_persist_vote",
      "count_own_vote_twice"};
  return *kNames;
}

absl::Status SetBugByName(std::string_view name, TestOnlyBugs* bugs) {
  if (name == "vote_without_log_check") {
    bugs->vote_without_log_check = true;
  } else if (name == "commit_earlier_term_entries") {
    bugs->commit_earlier_term_entries = true;
  } else if (name == "forget_to_persist_vote") {
    bugs->forget_to_persist_vote = true;
  } else if (name == "count_own_vote_twice") {
    bugs->count_own_vote_twice = true;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown bug '", std::string(name), "'"));
  }
  return absl::OkStatus();
}

SeedResult RunSeed(const SimOptions& options) {
  ClusterOptions cluster;
  Schedule schedule;
  ChooseParameters(options, &cluster, &schedule);
  Run run(options, cluster, schedule);
  return run.Go();
}

std::string ReplayCommand(const SimOptions& options) {
  std::string cmd = absl::StrCat("raft_sim --seeds 1 --first-seed ", options.seed);
  if (options.nodes > 0) absl::StrAppend(&cmd, " --nodes ", options.nodes);
  if (options.steps > 0) absl::StrAppend(&cmd, " --steps ", options.steps);
  if (!options.bug.empty()) absl::StrAppend(&cmd, " --bug ", options.bug);
  return cmd;
}

}  // namespace keel::raft::sim
