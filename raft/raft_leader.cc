// The leader role: replication with flow control, commit, heartbeats, quorum checks,
// ReadIndex and leadership transfer.
#include <algorithm>

#include "base/check.h"
#include "raft/raft.h"
#include "raft/raw_node.h"

namespace keel::raft {

void Raft::BecomeLeader() {
  KEEL_CHECK(role_ != Role::kFollower) << "invalid transition [follower -> leader]";
  step_ = &Raft::StepLeader;
  Reset(term_);
  tick_ = &Raft::TickHeartbeat;
  lead_ = id_;
  role_ = Role::kLeader;
  // The leader's own log is by definition in sync, and it is always active to itself.
  tracker_.Get(id_)->BecomeReplicate();
  tracker_.Get(id_)->recent_active = true;
  // Any conf change in the uncommitted tail might still be pending: be conservative.
  pending_conf_index_ = log_.LastIndex();
  // §5.4.2 / thesis §6.4: an empty entry of the new term lets the leader commit (and learn the
  // commit index of) everything before it.
  Entry empty;
  KEEL_CHECK(AppendEntry({empty})) << "the leader's empty entry cannot be refused";
  // The empty entry does not count against the uncommitted-bytes limit.
  uncommitted_size_bytes_ = 0;
}

void Raft::TickHeartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (election_elapsed_ >= config_.election_timeout_ticks) {
    election_elapsed_ = 0;
    if (config_.check_quorum) {
      Message m;
      m.type = MessageType::kCheckQuorum;
      m.from = id_;
      (void)Step(std::move(m));
    }
    // A transfer that did not finish within an election timeout is abandoned.
    if (role_ == Role::kLeader && lead_transferee_ != kNone) AbortLeaderTransfer();
  }
  if (role_ != Role::kLeader) return;
  if (heartbeat_elapsed_ >= config_.heartbeat_interval_ticks) {
    heartbeat_elapsed_ = 0;
    Message m;
    m.type = MessageType::kBeat;
    m.from = id_;
    (void)Step(std::move(m));
  }
}

bool Raft::IncreaseUncommittedSize(const std::vector<Entry>& entries) {
  uint64_t size = 0;
  for (const Entry& e : entries) size += e.data.size();
  uint64_t limit = config_.max_uncommitted_entries_bytes;
  // One proposal is always accepted when nothing is outstanding, however large.
  if (limit != 0 && uncommitted_size_bytes_ > 0 && size > 0 &&
      uncommitted_size_bytes_ + size > limit) {
    return false;
  }
  uncommitted_size_bytes_ += size;
  return true;
}

void Raft::ReduceUncommittedSize(const std::vector<Entry>& entries) {
  if (uncommitted_size_bytes_ == 0) return;
  uint64_t size = 0;
  for (const Entry& e : entries) size += e.data.size();
  uncommitted_size_bytes_ = size > uncommitted_size_bytes_ ? 0 : uncommitted_size_bytes_ - size;
}

bool Raft::AppendEntry(std::vector<Entry> entries) {
  uint64_t last = log_.LastIndex();
  for (size_t i = 0; i < entries.size(); ++i) {
    entries[i].term = term_;
    entries[i].index = last + 1 + i;
  }
  if (!IncreaseUncommittedSize(entries)) return false;
  last = log_.Append(std::move(entries));
  // The leader counts its own (not yet persisted) entries: it persists them before applying
  // anything, and before acting on any commit computed from them (see the Ready contract).
  tracker_.Get(id_)->MaybeUpdate(last);
  MaybeCommit();
  return true;
}

bool Raft::MaybeCommit() {
  // §5.4.2: only an entry of the current term is committed by counting replicas; earlier
  // entries are committed indirectly (Figure 8). The planted bug skips the term check.
  return log_.MaybeCommit(tracker_.Committed(), term_, config_.bugs.commit_earlier_term_entries);
}

bool Raft::MaybeSendAppend(NodeId to, bool send_if_empty) {
  Progress* pr = tracker_.Get(to);
  if (pr == nullptr || pr->IsPaused()) return false;
  auto prev_term = log_.Term(pr->next - 1);
  absl::StatusOr<std::vector<Entry>> entries = std::vector<Entry>();
  if (prev_term.ok()) entries = log_.EntriesFrom(pr->next, config_.max_size_per_msg_bytes);
  if (prev_term.ok() && entries.ok()) {
    if (entries->empty() && !send_if_empty) return false;
    Message m;
    m.type = MessageType::kApp;
    m.to = to;
    m.index = pr->next - 1;
    m.log_term = *prev_term;
    m.commit = log_.committed();
    if (!entries->empty()) {
      pr->UpdateOnEntriesSend(static_cast<int>(entries->size()), TotalSizeBytes(*entries),
                              entries->back().index);
    } else if (pr->state == ProgressState::kProbe) {
      pr->probe_sent = true;
    }
    m.entries = std::move(*entries);
    Send(std::move(m));
    return true;
  }
  // The follower needs entries we compacted: send the snapshot instead.
  return SendSnapshot(to, pr);
}

bool Raft::SendSnapshot(NodeId to, Progress* pr) {
  // Only to a follower we know is alive: a snapshot is expensive.
  if (!pr->recent_active) return false;
  auto snapshot = log_.GetSnapshot();
  if (!snapshot.ok()) {
    if (IsSnapshotTemporarilyUnavailable(snapshot.status())) return false;
    KEEL_FATAL() << "cannot read snapshot: " << snapshot.status();
  }
  KEEL_CHECK(!snapshot->IsEmpty()) << "need a non-empty snapshot to catch up " << to;
  pr->BecomeSnapshot(snapshot->metadata.index);
  Message m;
  m.type = MessageType::kSnap;
  m.to = to;
  m.snapshot = std::move(*snapshot);
  Send(std::move(m));
  return true;
}

void Raft::SendHeartbeat(NodeId to, const Bytes& ctx) {
  // Never tell a follower to commit beyond what it is known to have: its log may still hold
  // a conflicting suffix there.
  const Progress* pr = tracker_.Get(to);
  Message m;
  m.type = MessageType::kHeartbeat;
  m.to = to;
  m.commit = std::min(pr->match, log_.committed());
  m.context = ctx;
  Send(std::move(m));
}

void Raft::BcastAppend() {
  for (const auto& [id, pr] : tracker_.progress()) {
    if (id != id_) SendAppend(id);
  }
}

void Raft::BcastHeartbeat() {
  std::string ctx = read_only_.LastPendingRequestCtx();
  BcastHeartbeatWithCtx(ctx.empty() ? Bytes() : Bytes(std::move(ctx)));
}

void Raft::BcastHeartbeatWithCtx(const Bytes& ctx) {
  for (const auto& [id, pr] : tracker_.progress()) {
    if (id != id_) SendHeartbeat(id, ctx);
  }
}

absl::Status Raft::StepLeader(Message& m) {
  // Messages that do not need a sender's progress.
  switch (m.type) {
    case MessageType::kBeat:
      BcastHeartbeat();
      return absl::OkStatus();
    case MessageType::kCheckQuorum:
      // Thesis §6.2: a leader that cannot reach a quorum steps down, so clients retry
      // elsewhere instead of waiting on a leader that can commit nothing.
      if (!tracker_.QuorumActive(id_)) BecomeFollower(term_, kNone);
      for (auto& [id, pr] : tracker_.progress()) {
        if (id != id_) pr.recent_active = false;
      }
      return absl::OkStatus();
    case MessageType::kProp: {
      KEEL_CHECK(!m.entries.empty()) << "stepped an empty MsgProp";
      if (!tracker_.IsMember(id_)) return ErrProposalDropped();  // removed leader
      if (lead_transferee_ != kNone) return ErrProposalDropped();
      for (size_t i = 0; i < m.entries.size(); ++i) {
        if (m.entries[i].type == EntryType::kConfChange) {
          absl::Status st = FilterConfChangeProposal(&m.entries[i], i);
          if (!st.ok()) return st;
        }
      }
      if (!AppendEntry(std::move(m.entries))) return ErrProposalDropped();
      BcastAppend();
      return absl::OkStatus();
    }
    case MessageType::kReadIndex:
      HandleReadIndex(m);
      return absl::OkStatus();
    default:
      break;
  }
  Progress* pr = tracker_.Get(m.from);
  if (pr == nullptr) return absl::OkStatus();  // not (or no longer) a member
  switch (m.type) {
    case MessageType::kAppResp:
      HandleAppendResponse(m, pr);
      break;
    case MessageType::kHeartbeatResp:
      HandleHeartbeatResponse(m, pr);
      break;
    case MessageType::kSnapStatus:
      if (pr->state != ProgressState::kSnapshot) break;
      if (m.reject) pr->pending_snapshot = 0;
      pr->BecomeProbe();
      // Wait for the next heartbeat's answer before probing: the snapshot may still be
      // being applied.
      pr->probe_sent = true;
      break;
    case MessageType::kUnreachable:
      // Pipelining to an unreachable follower would only lose more messages.
      if (pr->state == ProgressState::kReplicate) pr->BecomeProbe();
      break;
    case MessageType::kTransferLeader:
      HandleTransferLeader(m, pr);
      break;
    default:
      break;
  }
  return absl::OkStatus();
}

void Raft::HandleAppendResponse(const Message& m, Progress* pr) {
  pr->recent_active = true;
  if (m.reject) {
    uint64_t next_probe = m.reject_hint;
    if (m.log_term > 0) {
      // The follower's log at reject_hint has term log_term: skip our entries of later terms.
      next_probe = log_.FindConflictByTerm(m.reject_hint, m.log_term).first;
    }
    if (pr->MaybeDecrTo(m.index, next_probe)) {
      if (pr->state == ProgressState::kReplicate) pr->BecomeProbe();
      SendAppend(m.from);
    }
    return;
  }
  bool was_paused = pr->IsPaused();
  if (!pr->MaybeUpdate(m.index)) return;
  switch (pr->state) {
    case ProgressState::kProbe:
      pr->BecomeReplicate();
      break;
    case ProgressState::kSnapshot:
      if (pr->match >= pr->pending_snapshot) {
        pr->BecomeProbe();
        pr->BecomeReplicate();
      }
      break;
    case ProgressState::kReplicate:
      pr->inflights.FreeLE(m.index);
      break;
  }
  if (MaybeCommit()) {
    ReleasePendingReadIndexMessages();
    BcastAppend();
  } else if (was_paused) {
    SendAppend(m.from);
  }
  // The window may have opened: send as much as it now allows.
  while (MaybeSendAppend(m.from, false)) {
  }
  if (m.from == lead_transferee_ && pr->match == log_.LastIndex()) SendTimeoutNow(m.from);
}

void Raft::HandleHeartbeatResponse(const Message& m, Progress* pr) {
  pr->recent_active = true;
  pr->probe_sent = false;
  // The follower is alive: if acks were lost and the window is full, free a slot.
  if (pr->state == ProgressState::kReplicate && pr->inflights.Full()) pr->inflights.FreeFirstOne();
  if (pr->match < log_.LastIndex()) SendAppend(m.from);
  if (config_.read_only != ReadOnlyOption::kSafe || m.context.empty()) return;
  const std::set<NodeId>* acks = read_only_.RecvAck(m.from, m.context.str());
  if (acks == nullptr) return;
  std::map<NodeId, bool> votes;
  for (NodeId id : *acks) votes.emplace(id, true);
  if (MajorityVoteResult(tracker_.voters(), votes) != VoteResult::kWon) return;
  for (ReadIndexStatus& rs : read_only_.Advance(m.context.str())) {
    RespondToReadIndex(rs.request, rs.index);
  }
}

void Raft::HandleTransferLeader(const Message& m, Progress* pr) {
  if (pr->is_learner) return;
  NodeId transferee = m.from;
  if (lead_transferee_ != kNone) {
    if (lead_transferee_ == transferee) return;  // already under way
    AbortLeaderTransfer();
  }
  if (transferee == id_) return;
  // The transfer must finish within an election timeout.
  election_elapsed_ = 0;
  lead_transferee_ = transferee;
  if (pr->match == log_.LastIndex()) {
    SendTimeoutNow(transferee);
  } else {
    SendAppend(transferee);
  }
}

void Raft::SendTimeoutNow(NodeId to) {
  Message m;
  m.type = MessageType::kTimeoutNow;
  m.to = to;
  Send(std::move(m));
}

bool Raft::CommittedEntryInCurrentTerm() const {
  return log_.ZeroTermOnError(log_.committed()) == term_;
}

void Raft::HandleReadIndex(const Message& m) {
  if (tracker_.voters().size() == 1 && tracker_.IsVoter(id_)) {
    // The only voter: nobody else can be leader.
    RespondToReadIndex(m, log_.committed());
    return;
  }
  // Thesis §6.4 step 1: until the leader commits an entry of its term it does not know the
  // latest commit index; hold the request until then.
  if (!CommittedEntryInCurrentTerm()) {
    pending_read_index_messages_.push_back(m);
    return;
  }
  SendReadIndexResponse(m);
}

void Raft::SendReadIndexResponse(const Message& m) {
  if (config_.read_only == ReadOnlyOption::kLeaseBased) {
    RespondToReadIndex(m, log_.committed());
    return;
  }
  read_only_.AddRequest(log_.committed(), m);
  // The leader acknowledges its own heartbeat round.
  read_only_.RecvAck(id_, m.entries[0].data.str());
  BcastHeartbeatWithCtx(m.entries[0].data);
}

void Raft::ReleasePendingReadIndexMessages() {
  if (pending_read_index_messages_.empty() || !CommittedEntryInCurrentTerm()) return;
  std::vector<Message> pending = std::move(pending_read_index_messages_);
  pending_read_index_messages_.clear();
  for (const Message& m : pending) SendReadIndexResponse(m);
}

void Raft::RespondToReadIndex(const Message& req, uint64_t read_index) {
  if (req.from == kNone || req.from == id_) {
    read_states_.push_back(ReadState{read_index, req.entries[0].data});
    return;
  }
  Message resp;
  resp.type = MessageType::kReadIndexResp;
  resp.to = req.from;
  resp.index = read_index;
  resp.entries = req.entries;
  Send(std::move(resp));
}

}  // namespace keel::raft
