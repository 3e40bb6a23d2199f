// InteractionEnv: command dispatch, cluster setup, and the inputs a script gives a node
// (campaign, propose, ticks, compaction, crash and restart).
#include "tests/raft/interaction/interaction_env.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "raft/codec.h"
#include "raft/raft.h"

namespace keel::raft::interaction {
namespace {

using datadriven::CmdArg;
using datadriven::TestData;

absl::StatusOr<uint64_t> ParseUint(const std::string& s) {
  uint64_t v = 0;
  if (!absl::SimpleAtoi(s, &v)) return absl::InvalidArgumentError(absl::StrCat("not a number: ", s));
  return v;
}

absl::StatusOr<std::vector<NodeId>> ParseIds(const std::vector<std::string>& vals) {
  std::vector<NodeId> ids;
  for (const std::string& v : vals) {
    absl::StatusOr<uint64_t> id = ParseUint(v);
    if (!id.ok()) return id.status();
    ids.push_back(*id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

// The positional arguments of d (node ids, data, ...), in order.
std::vector<std::string> Positional(const TestData& d) {
  std::vector<std::string> out;
  for (const CmdArg& a : d.args) {
    if (a.positional) out.push_back(a.key);
  }
  return out;
}

absl::StatusOr<uint64_t> KeyUint(const TestData& d, const std::string& key) {
  const CmdArg* a = d.Find(key);
  if (a == nullptr || a->vals.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat("missing ", key, "=N"));
  }
  return ParseUint(a->vals[0]);
}

bool KeyBool(const TestData& d, const std::string& key) {
  const CmdArg* a = d.Find(key);
  return a != nullptr && (a->vals.empty() || a->vals[0] == "true");
}

// `positional` must hold exactly `n` values.
absl::Status WantPositional(const TestData& d, size_t n) {
  if (Positional(d).size() != n) {
    return absl::InvalidArgumentError(absl::StrCat(d.cmd, " takes ", n, " positional argument(s)"));
  }
  return absl::OkStatus();
}

#define KEEL_INTERACTION_TRY(expr)          \
  do {                                      \
    absl::Status keel_status_ = (expr);     \
    if (!keel_status_.ok()) return keel_status_; \
  } while (0)

}  // namespace

std::string InteractionEnv::Handle(const TestData& d) {
  out_.clear();
  indent_.clear();
  absl::Status st = Dispatch(d);
  if (!st.ok()) Line(absl::StrCat("error: ", st.message()));
  // A script is a sequence of single steps: after each, every running node must still satisfy
  // the core's invariants.
  for (auto& [id, n] : nodes_) {
    if (n.raw) n.raw->raft().CheckInvariants();
  }
  return out_;
}

absl::Status InteractionEnv::Dispatch(const TestData& d) {
  const std::vector<std::string> pos = Positional(d);
  // Commands about one node take its id first.
  auto first_id = [&]() -> absl::StatusOr<NodeId> {
    if (pos.empty()) return absl::InvalidArgumentError(absl::StrCat(d.cmd, ": missing node id"));
    absl::StatusOr<uint64_t> id = ParseUint(pos[0]);
    if (!id.ok()) return id.status();
    KEEL_INTERACTION_TRY(CheckRunning(*id));
    return *id;
  };
  auto all_ids = [&](bool default_all) -> absl::StatusOr<std::vector<NodeId>> {
    absl::StatusOr<std::vector<NodeId>> ids = ParseIds(pos);
    if (!ids.ok()) return ids.status();
    if (ids->empty() && default_all) {
      for (const auto& [id, n] : nodes_) ids->push_back(id);
    }
    for (NodeId id : *ids) {
      if (Find(id) == nullptr) return absl::NotFoundError(absl::StrCat("no node ", id));
    }
    return ids;
  };

  if (d.cmd == "add-nodes") return AddNodes(d);
  if (d.cmd == "raft-state") {
    PrintRaftState();
    return absl::OkStatus();
  }
  if (d.cmd == "heal") {
    isolated_.clear();
    return absl::OkStatus();
  }
  if (d.cmd == "stabilize") {
    absl::StatusOr<std::vector<NodeId>> ids = all_ids(true);
    if (!ids.ok()) return ids.status();
    return Stabilize(*ids);
  }
  if (d.cmd == "process-ready" || d.cmd == "deliver-msgs") {
    absl::StatusOr<std::vector<NodeId>> ids = all_ids(false);
    if (!ids.ok()) return ids.status();
    std::vector<NodeId> drop;
    if (const CmdArg* a = d.Find("drop")) {
      absl::StatusOr<std::vector<NodeId>> parsed = ParseIds(a->vals);
      if (!parsed.ok()) return parsed.status();
      drop = *parsed;
    }
    bool processing = d.cmd == "process-ready";
    bool headers = ids->size() + drop.size() > 1;
    for (NodeId id : *ids) {
      if (processing) KEEL_INTERACTION_TRY(CheckRunning(id));
      if (headers) {
        Line(absl::StrCat("> ", id, processing ? " handling Ready" : " receiving messages"));
        indent_ = "  ";
      }
      bool any = processing ? ProcessReady(id) : DeliverMsgs(id, false);
      if (!any) Line(processing ? "<no Ready>" : "<no messages>");
      indent_.clear();
    }
    for (NodeId id : drop) {
      if (processing) return absl::InvalidArgumentError("process-ready takes no drop=");
      if (Find(id) == nullptr) return absl::NotFoundError(absl::StrCat("no node ", id));
      DeliverMsgs(id, true);
    }
    return absl::OkStatus();
  }

  if (d.cmd == "restart") {
    KEEL_INTERACTION_TRY(WantPositional(d, 1));
    absl::StatusOr<uint64_t> id = ParseUint(pos[0]);
    if (!id.ok()) return id.status();
    if (Find(*id) == nullptr) return absl::NotFoundError(absl::StrCat("no node ", *id));
    return Restart(*id);
  }

  absl::StatusOr<NodeId> id_or = first_id();
  if (!id_or.ok() && d.cmd != "transfer-leadership") return id_or.status();
  const NodeId id = id_or.ok() ? *id_or : kNone;
  if (d.cmd == "campaign") return Raw(id).Campaign();
  if (d.cmd == "propose") {
    KEEL_INTERACTION_TRY(WantPositional(d, 2));
    absl::Status st = Raw(id).Propose(Bytes(pos[1]));
    // A dropped proposal is a behaviour worth recording, not a script error.
    if (!st.ok()) Line(absl::StrCat("dropped: ", st.message()));
    return absl::OkStatus();
  }
  if (d.cmd == "propose-conf-change") {
    KEEL_INTERACTION_TRY(WantPositional(d, 2));
    return ProposeConfChange(id, pos[1]);
  }
  if (d.cmd == "tick-heartbeat" || d.cmd == "tick-election") {
    Node& n = nodes_.at(id);
    int ticks = d.cmd == "tick-heartbeat" ? n.config.heartbeat_interval_ticks
                                          : n.config.election_timeout_ticks;
    for (int i = 0; i < ticks; ++i) n.raw->Tick();
    return absl::OkStatus();
  }
  if (d.cmd == "status") {
    PrintStatus(id);
    return absl::OkStatus();
  }
  if (d.cmd == "raft-log") {
    PrintRaftLog(id);
    return absl::OkStatus();
  }
  if (d.cmd == "read-index") {
    KEEL_INTERACTION_TRY(WantPositional(d, 2));
    Raw(id).ReadIndex(Bytes(pos[1]));
    return absl::OkStatus();
  }
  if (d.cmd == "transfer-leadership") {
    absl::StatusOr<uint64_t> from = KeyUint(d, "from");
    absl::StatusOr<uint64_t> to = KeyUint(d, "to");
    if (!from.ok()) return from.status();
    if (!to.ok()) return to.status();
    KEEL_INTERACTION_TRY(CheckRunning(*from));
    Raw(*from).TransferLeadership(*to);
    return absl::OkStatus();
  }
  if (d.cmd == "compact") {
    KEEL_INTERACTION_TRY(WantPositional(d, 2));
    absl::StatusOr<uint64_t> index = ParseUint(pos[1]);
    if (!index.ok()) return index.status();
    return Compact(id, *index);
  }
  if (d.cmd == "report-unreachable" || d.cmd == "report-snapshot") {
    KEEL_INTERACTION_TRY(WantPositional(d, 2));
    absl::StatusOr<uint64_t> target = ParseUint(pos[1]);
    if (!target.ok()) return target.status();
    if (d.cmd == "report-unreachable") {
      Raw(id).ReportUnreachable(*target);
    } else {
      Raw(id).ReportSnapshot(*target, KeyBool(d, "failed"));
    }
    return absl::OkStatus();
  }
  if (d.cmd == "isolate") {
    isolated_.insert(id);
    return absl::OkStatus();
  }
  if (d.cmd == "crash") {
    Crash(id);
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown command ", d.cmd));
}

absl::Status InteractionEnv::AddNodes(const TestData& d) {
  std::vector<std::string> pos = Positional(d);
  if (pos.size() != 1) return absl::InvalidArgumentError("add-nodes N [voters=(...)] ...");
  absl::StatusOr<uint64_t> count = ParseUint(pos[0]);
  if (!count.ok()) return count.status();
  const NodeId first = nodes_.empty() ? 1 : nodes_.rbegin()->first + 1;
  ConfState cs;
  if (const CmdArg* a = d.Find("voters")) {
    absl::StatusOr<std::vector<NodeId>> ids = ParseIds(a->vals);
    if (!ids.ok()) return ids.status();
    cs.voters = *ids;
  } else {
    for (NodeId id = first; id < first + *count; ++id) cs.voters.push_back(id);
  }
  if (const CmdArg* a = d.Find("learners")) {
    absl::StatusOr<std::vector<NodeId>> ids = ParseIds(a->vals);
    if (!ids.ok()) return ids.status();
    cs.learners = *ids;
  }
  uint64_t index = 0;
  if (d.Find("index") != nullptr) {
    absl::StatusOr<uint64_t> i = KeyUint(d, "index");
    if (!i.ok()) return i.status();
    index = *i;
  }
  for (NodeId id = first; id < first + *count; ++id) {
    Node& n = nodes_[id];
    n.store = std::make_unique<MemoryLogStore>();
    if (index > 0) {
      // The nodes start from a snapshot at `index` (term 1) with this membership, as if the
      // cluster had already run that far.
      Snapshot snap;
      snap.metadata.index = index;
      snap.metadata.term = 1;
      snap.metadata.conf_state = cs;
      KEEL_INTERACTION_TRY(n.store->ApplySnapshot(snap));
    } else {
      n.store->SetConfState(cs);
    }
    n.store->Sync();
    Config& c = n.config;
    c.id = id;
    c.store = n.store.get();
    c.election_timeout_ticks = 10;
    c.heartbeat_interval_ticks = 1;
    c.max_inflight_msgs = 256;
    c.pre_vote = KeyBool(d, "prevote");
    c.check_quorum = KeyBool(d, "checkquorum");
    if (const CmdArg* a = d.Find("read-only"); a != nullptr && !a->vals.empty()) {
      if (a->vals[0] == "lease") {
        c.read_only = ReadOnlyOption::kLeaseBased;
      } else if (a->vals[0] != "safe") {
        return absl::InvalidArgumentError("read-only=safe|lease");
      }
    }
    c.random_seed = 1;
    KEEL_INTERACTION_TRY(Restart(id));
  }
  return absl::OkStatus();
}

absl::Status InteractionEnv::Restart(NodeId id) {
  Node& n = nodes_.at(id);
  if (n.raw) return absl::FailedPreconditionError(absl::StrCat(id, " is running"));
  // The application's state machine is in memory and died with the node: it restarts from the
  // store's snapshot and re-applies the committed entries after it.
  absl::StatusOr<Snapshot> snap = n.store->GetSnapshot();
  if (!snap.ok()) return snap.status();
  absl::StatusOr<InitialState> initial = n.store->GetInitialState();
  if (!initial.ok()) return initial.status();
  n.config.applied_index = 0;
  absl::StatusOr<std::unique_ptr<RawNode>> raw = RawNode::Create(n.config);
  if (!raw.ok()) return raw.status();
  n.raw = std::move(*raw);
  n.applied_index = snap->metadata.index;
  n.conf_history.clear();
  n.conf_history[n.applied_index] = initial->conf_state;
  PrintStarted(id);
  return absl::OkStatus();
}

void InteractionEnv::PrintStarted(NodeId id) {
  const Raft& r = Raw(id).raft();
  const RaftLog& log = r.log();
  Line(absl::StrCat(id, " started: ", DescribeConfState(r.tracker().GetConfState()),
                    " HardState ", DescribeHardState(r.GetHardState()), " Log:", log.LastTerm(),
                    "/", log.LastIndex(), " Applied:", log.applied()));
}

void InteractionEnv::Crash(NodeId id) {
  Node& n = nodes_.at(id);
  n.store->Crash();
  n.raw.reset();
  n.inbox.clear();
}

absl::Status InteractionEnv::ProposeConfChange(NodeId id, const std::string& change) {
  // v<id>: add a voter (or promote a learner); l<id>: add a learner; r<id>: remove.
  ConfChange cc;
  absl::StatusOr<uint64_t> target = ParseUint(change.size() > 1 ? change.substr(1) : "");
  if (!target.ok()) return target.status();
  cc.node_id = *target;
  switch (change[0]) {
    case 'v': cc.type = ConfChangeType::kAddNode; break;
    case 'l': cc.type = ConfChangeType::kAddLearnerNode; break;
    case 'r': cc.type = ConfChangeType::kRemoveNode; break;
    default: return absl::InvalidArgumentError("conf change must be v<id>, l<id> or r<id>");
  }
  absl::Status st = Raw(id).ProposeConfChange(cc);
  if (!st.ok()) Line(absl::StrCat("dropped: ", st.message()));
  return absl::OkStatus();
}

absl::Status InteractionEnv::Compact(NodeId id, uint64_t index) {
  Node& n = nodes_.at(id);
  if (index > n.applied_index) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot compact ", id, " at ", index, " beyond applied ", n.applied_index));
  }
  // The snapshot records the membership in force at `index`, not the current one.
  auto it = n.conf_history.upper_bound(index);
  KEEL_CHECK(it != n.conf_history.begin());
  const ConfState cs = std::prev(it)->second;
  absl::StatusOr<Snapshot> snap = n.store->CreateSnapshot(index, &cs, Bytes());
  if (!snap.ok()) return snap.status();
  KEEL_INTERACTION_TRY(n.store->Compact(index));
  n.store->Sync();
  PrintRaftLog(id);
  return absl::OkStatus();
}

InteractionEnv::Node* InteractionEnv::Find(NodeId id) {
  auto it = nodes_.find(id);
  return it == nodes_.end() ? nullptr : &it->second;
}

absl::Status InteractionEnv::CheckRunning(NodeId id) {
  Node* n = Find(id);
  if (n == nullptr) return absl::NotFoundError(absl::StrCat("no node ", id));
  if (!n->raw) return absl::FailedPreconditionError(absl::StrCat("node ", id, " is crashed"));
  return absl::OkStatus();
}

void InteractionEnv::Line(const std::string& text) { absl::StrAppend(&out_, indent_, text, "\n"); }

}  // namespace keel::raft::interaction
