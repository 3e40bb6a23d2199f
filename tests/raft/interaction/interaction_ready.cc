// InteractionEnv: taking and handling Readies, delivering messages, and printing state.
#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/check.h"
#include "raft/codec.h"
#include "raft/raft.h"
#include "tests/raft/interaction/interaction_env.h"

namespace keel::raft::interaction {
namespace {

// Stabilize gives up after this many rounds: a cluster that never goes quiet is a bug (in the
// core or the script), and the output so far shows why.
constexpr int kMaxStabilizeRounds = 100;

std::string DescribeConfChange(const ConfChange& cc) {
  switch (cc.type) {
    case ConfChangeType::kAddNode: return absl::StrCat("v", cc.node_id);
    case ConfChangeType::kAddLearnerNode: return absl::StrCat("l", cc.node_id);
    case ConfChangeType::kRemoveNode: return absl::StrCat("r", cc.node_id);
  }
  return "?";
}

// DescribeEntry, with conf changes decoded (their payload is an encoded proto, unreadable as
// bytes).
std::string Describe(const Entry& e) {
  if (e.type != EntryType::kConfChange || e.data.empty()) return DescribeEntry(e);
  absl::StatusOr<ConfChange> cc = DecodeConfChange(e.data.view());
  if (!cc.ok()) return DescribeEntry(e);
  return absl::StrCat(e.term, "/", e.index, " EntryConfChange ", DescribeConfChange(*cc));
}

std::string Describe(const std::vector<Entry>& entries) {
  std::vector<std::string> parts;
  for (const Entry& e : entries) parts.push_back(Describe(e));
  return absl::StrCat("[", absl::StrJoin(parts, ", "), "]");
}

std::string Describe(const Message& m) {
  bool has_conf_change = std::any_of(m.entries.begin(), m.entries.end(), [](const Entry& e) {
    return e.type == EntryType::kConfChange;
  });
  if (!has_conf_change) return DescribeMessage(m);
  // Entries come last in DescribeMessage for the messages that carry conf changes (MsgApp,
  // MsgProp), so they can be described separately and appended.
  Message copy = m;
  copy.entries.clear();
  return absl::StrCat(DescribeMessage(copy), " Entries:", Describe(m.entries));
}

std::string DescribeSnapshot(const Snapshot& s) {
  return absl::StrCat("Index:", s.metadata.index, " Term:", s.metadata.term, " ",
                      DescribeConfState(s.metadata.conf_state));
}

}  // namespace

void InteractionEnv::PrintReady(const Ready& rd) {
  Line(absl::StrCat("Ready MustSync=", rd.must_sync ? "true" : "false", ":"));
  if (rd.soft_state) {
    Line(absl::StrCat("Lead:", rd.soft_state->lead, " State:", RoleName(rd.soft_state->role)));
  }
  if (rd.hard_state) Line(absl::StrCat("HardState ", DescribeHardState(*rd.hard_state)));
  if (!rd.snapshot.IsEmpty()) Line(absl::StrCat("Snapshot ", DescribeSnapshot(rd.snapshot)));
  if (!rd.entries.empty()) {
    Line("Entries:");
    for (const Entry& e : rd.entries) Line(Describe(e));
  }
  if (!rd.committed_entries.empty()) {
    Line("CommittedEntries:");
    for (const Entry& e : rd.committed_entries) Line(Describe(e));
  }
  if (!rd.messages.empty()) {
    Line("Messages:");
    for (const Message& m : rd.messages) Line(Describe(m));
  }
  if (!rd.read_states.empty()) {
    Line("ReadStates:");
    for (const ReadState& rs : rd.read_states) {
      Line(absl::StrCat("Index:", rs.index, " RequestCtx:\"",
                        absl::CHexEscape(rs.request_ctx.str()), "\""));
    }
  }
}

bool InteractionEnv::ProcessReady(NodeId id) {
  Node& n = nodes_.at(id);
  if (!n.raw->HasReady()) return false;
  Ready rd = n.raw->GetReady();
  PrintReady(rd);
  // 1. Persist snapshot, entries, hard state, in one synced write.
  if (!rd.snapshot.IsEmpty()) {
    absl::Status st = n.store->ApplySnapshot(rd.snapshot);
    KEEL_CHECK(st.ok()) << "node " << id << " cannot store snapshot: " << st;
  }
  n.store->Append(rd.entries);
  if (rd.hard_state) n.store->SetHardState(*rd.hard_state);
  n.store->Sync();
  // 2. Send.
  for (const Message& m : rd.messages) Send(m);
  // 3. Apply.
  ApplyCommitted(id, rd);
  // 5. Advance (4, serving reads, is the script's business: it reads the ReadStates).
  n.raw->Advance(rd);
  return true;
}

void InteractionEnv::ApplyCommitted(NodeId id, const Ready& rd) {
  Node& n = nodes_.at(id);
  if (!rd.snapshot.IsEmpty()) {
    // The snapshot replaces the state machine, including what it knew of membership.
    n.applied_index = rd.snapshot.metadata.index;
    n.conf_history.clear();
    n.conf_history[n.applied_index] = rd.snapshot.metadata.conf_state;
  }
  for (const Entry& e : rd.committed_entries) {
    KEEL_CHECK_EQ(e.index, n.applied_index + 1) << "node " << id << " applies out of order";
    n.applied_index = e.index;
    if (e.type != EntryType::kConfChange || e.data.empty()) continue;
    absl::StatusOr<ConfChange> cc = DecodeConfChange(e.data.view());
    KEEL_CHECK(cc.ok()) << cc.status();
    ConfState cs = n.raw->ApplyConfChange(*cc);
    n.conf_history[e.index] = cs;
    Line(absl::StrCat("applied ", DescribeConfChange(*cc), " at ", e.index, ": ",
                      DescribeConfState(cs)));
  }
}

void InteractionEnv::Send(const Message& m) {
  if (isolated_.count(m.from) > 0 || isolated_.count(m.to) > 0) return;
  Node* to = Find(m.to);
  // A message to a node that does not exist or is down is lost, as on a real network.
  if (to == nullptr || !to->raw) return;
  to->inbox.push_back(m);
}

bool InteractionEnv::DeliverMsgs(NodeId id, bool drop) {
  Node& n = nodes_.at(id);
  if (n.inbox.empty()) return false;
  std::vector<Message> msgs = std::move(n.inbox);
  n.inbox.clear();
  for (const Message& m : msgs) {
    if (drop || !n.raw) {
      Line(absl::StrCat("dropped: ", Describe(m)));
      continue;
    }
    Line(Describe(m));
    absl::Status st = n.raw->Step(m);
    if (!st.ok()) Line(absl::StrCat("  step error: ", st.message()));
  }
  return true;
}

absl::Status InteractionEnv::Stabilize(const std::vector<NodeId>& ids) {
  for (int round = 0; round < kMaxStabilizeRounds; ++round) {
    bool done = true;
    for (NodeId id : ids) {
      Node& n = nodes_.at(id);
      if (!n.raw || !n.raw->HasReady()) continue;
      done = false;
      Line(absl::StrCat("> ", id, " handling Ready"));
      indent_ = "  ";
      ProcessReady(id);
      indent_.clear();
    }
    for (NodeId id : ids) {
      Node& n = nodes_.at(id);
      if (!n.raw || n.inbox.empty()) continue;
      done = false;
      Line(absl::StrCat("> ", id, " receiving messages"));
      indent_ = "  ";
      DeliverMsgs(id, false);
      indent_.clear();
    }
    if (done) return absl::OkStatus();
  }
  return absl::DeadlineExceededError(
      absl::StrCat("not stable after ", kMaxStabilizeRounds, " rounds"));
}

void InteractionEnv::PrintStatus(NodeId id) {
  Status s = Raw(id).GetStatus();
  if (s.soft_state.role != Role::kLeader) {
    Line(absl::StrCat(id, " is not the leader (", RoleName(s.soft_state.role),
                      " Lead:", s.soft_state.lead, ")"));
    return;
  }
  for (const auto& [peer, pr] : s.progress) Line(absl::StrCat(peer, ": ", pr.ToString()));
  if (s.lead_transferee != kNone) Line(absl::StrCat("transferring to ", s.lead_transferee));
}

void InteractionEnv::PrintRaftState() {
  for (auto& [id, n] : nodes_) {
    if (!n.raw) {
      Line(absl::StrCat(id, ": crashed"));
      continue;
    }
    const Raft& r = n.raw->raft();
    const char* membership = r.tracker().IsVoter(id)     ? "Voter"
                             : r.tracker().IsLearner(id) ? "Learner"
                                                         : "Non-Member";
    Line(absl::StrCat(id, ": ", RoleName(r.role()), " (", membership, ") Term:", r.term(),
                      " Lead:", r.lead(), " Commit:", r.log().committed(),
                      " Applied:", r.log().applied()));
  }
}

void InteractionEnv::PrintRaftLog(NodeId id) {
  const RaftLog& log = Raw(id).raft().log();
  std::vector<Entry> entries = log.AllEntries();
  if (log.FirstIndex() > 1) {
    Line(absl::StrCat("compacted up to ", log.FirstIndex() - 1, " (term ",
                      log.ZeroTermOnError(log.FirstIndex() - 1), ")"));
  }
  if (entries.empty()) {
    Line(absl::StrCat("log is empty: first index=", log.FirstIndex(),
                      ", last index=", log.LastIndex()));
  }
  for (const Entry& e : entries) Line(Describe(e));
}

}  // namespace keel::raft::interaction
