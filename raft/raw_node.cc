#include "raft/raw_node.h"

#include "base/check.h"
#include "raft/codec.h"
#include "raft/raft.h"

namespace keel::raft {
namespace {
constexpr char kProposalDropped[] = "raft proposal dropped";
}  // namespace

absl::Status ErrProposalDropped() { return absl::UnavailableError(kProposalDropped); }
bool IsProposalDropped(const absl::Status& s) {
  return s.code() == absl::StatusCode::kUnavailable && s.message() == kProposalDropped;
}
absl::Status ErrStepLocalMessage() {
  return absl::InvalidArgumentError("raft: cannot step raft local message");
}
absl::Status ErrStepPeerNotFound() {
  return absl::NotFoundError("raft: cannot step as peer not found");
}

bool Ready::ContainsUpdates() const {
  return soft_state.has_value() || hard_state.has_value() || !read_states.empty() ||
         !entries.empty() || !snapshot.IsEmpty() || !committed_entries.empty() ||
         !messages.empty();
}

absl::StatusOr<std::unique_ptr<RawNode>> RawNode::Create(const Config& config) {
  absl::Status valid = config.Validate();
  if (!valid.ok()) return valid;
  auto initial = config.store->GetInitialState();
  if (!initial.ok()) return initial.status();
  if (initial->hard_state.commit > config.store->LastIndex()) {
    return absl::DataLossError("raft: stored commit index is beyond the stored log");
  }
  return std::unique_ptr<RawNode>(new RawNode(std::make_unique<Raft>(config)));
}

RawNode::RawNode(std::unique_ptr<Raft> raft) : raft_(std::move(raft)) {
  prev_soft_state_ = raft_->GetSoftState();
  prev_hard_state_ = raft_->GetHardState();
}

RawNode::~RawNode() = default;

NodeId RawNode::id() const { return raft_->id(); }

void RawNode::Tick() { raft_->Tick(); }

absl::Status RawNode::Campaign() {
  Message m;
  m.type = MessageType::kHup;
  return raft_->Step(std::move(m));
}

absl::Status RawNode::Propose(Bytes data) {
  Message m;
  m.type = MessageType::kProp;
  m.from = raft_->id();
  Entry e;
  e.data = std::move(data);
  m.entries.push_back(std::move(e));
  return raft_->Step(std::move(m));
}

absl::Status RawNode::ProposeBatch(std::vector<Bytes> batch) {
  if (batch.empty()) return absl::OkStatus();
  Message m;
  m.type = MessageType::kProp;
  m.from = raft_->id();
  m.entries.resize(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) m.entries[i].data = std::move(batch[i]);
  return raft_->Step(std::move(m));
}

absl::Status RawNode::ProposeConfChange(const ConfChange& cc) {
  Message m;
  m.type = MessageType::kProp;
  Entry e;
  e.type = EntryType::kConfChange;
  e.data = EncodeConfChange(cc);
  m.entries.push_back(std::move(e));
  return raft_->Step(std::move(m));
}

ConfState RawNode::ApplyConfChange(const ConfChange& cc) { return raft_->ApplyConfChange(cc); }

absl::Status RawNode::Step(const Message& m) {
  if (IsLocalMessage(m.type)) return ErrStepLocalMessage();
  // Responses from non-members are meaningless (e.g. from a removed node).
  if (raft_->tracker().IsMember(m.from) || !IsResponseMessage(m.type)) return raft_->Step(m);
  return ErrStepPeerNotFound();
}

void RawNode::ReadIndex(Bytes request_ctx) {
  Message m;
  m.type = MessageType::kReadIndex;
  Entry e;
  e.data = std::move(request_ctx);
  m.entries.push_back(std::move(e));
  (void)raft_->Step(std::move(m));
}

void RawNode::TransferLeadership(NodeId transferee) {
  Message m;
  m.type = MessageType::kTransferLeader;
  m.from = transferee;
  (void)raft_->Step(std::move(m));
}

void RawNode::ReportUnreachable(NodeId id) {
  Message m;
  m.type = MessageType::kUnreachable;
  m.from = id;
  (void)raft_->Step(std::move(m));
}

void RawNode::ReportSnapshot(NodeId id, bool failed) {
  Message m;
  m.type = MessageType::kSnapStatus;
  m.from = id;
  m.reject = failed;
  (void)raft_->Step(std::move(m));
}

bool RawNode::HasReady() const {
  if (raft_->GetSoftState() != prev_soft_state_) return true;
  HardState hs = raft_->GetHardState();
  if (!hs.IsEmpty() && hs != prev_hard_state_) return true;
  const RaftLog& log = raft_->log();
  if (log.UnstableSnapshot().has_value()) return true;
  if (!raft_->msgs().empty() || !log.UnstableEntries().empty() || log.HasNextCommittedEntries()) {
    return true;
  }
  return !raft_->read_states().empty();
}

Ready RawNode::GetReady() {
  KEEL_CHECK(!ready_outstanding_) << "GetReady() called again before Advance()";
  ready_outstanding_ = true;
  Ready rd;
  RaftLog& log = raft_->log();
  rd.entries = log.UnstableEntries();
  rd.committed_entries = log.NextCommittedEntries();
  rd.messages = std::move(raft_->msgs());
  raft_->msgs().clear();
  SoftState ss = raft_->GetSoftState();
  if (ss != prev_soft_state_) {
    rd.soft_state = ss;
    prev_soft_state_ = ss;
  }
  HardState hs = raft_->GetHardState();
  if (!hs.IsEmpty() && hs != prev_hard_state_) rd.hard_state = hs;
  if (log.UnstableSnapshot()) rd.snapshot = *log.UnstableSnapshot();
  rd.read_states = std::move(raft_->read_states());
  raft_->read_states().clear();
  // Term, vote and log changes must be on disk before anyone hears of them; a commit index
  // alone can be recomputed after a crash.
  rd.must_sync = !rd.entries.empty() || !rd.snapshot.IsEmpty() ||
                 (rd.hard_state && (rd.hard_state->term != prev_hard_state_.term ||
                                    rd.hard_state->vote != prev_hard_state_.vote));
  ready_last_entry_index_ = rd.entries.empty() ? 0 : rd.entries.back().index;
  ready_last_entry_term_ = rd.entries.empty() ? 0 : rd.entries.back().term;
  ready_last_committed_index_ = rd.committed_entries.empty() ? 0 : rd.committed_entries.back().index;
  ready_snapshot_index_ = rd.snapshot.metadata.index;
  return rd;
}

void RawNode::Advance(const Ready& rd) {
  KEEL_CHECK(ready_outstanding_) << "Advance() without an outstanding Ready";
  ready_outstanding_ = false;
  if (rd.hard_state) prev_hard_state_ = *rd.hard_state;
  raft_->ReduceUncommittedSize(rd.committed_entries);
  RaftLog& log = raft_->log();
  if (ready_last_committed_index_ > 0) {
    log.AppliedTo(ready_last_committed_index_);
  } else if (ready_snapshot_index_ > 0) {
    log.AppliedTo(ready_snapshot_index_);
  }
  if (ready_last_entry_index_ > 0) log.StableTo(ready_last_entry_index_, ready_last_entry_term_);
  if (ready_snapshot_index_ > 0) log.StableSnapTo(ready_snapshot_index_);
}

HardState RawNode::GetHardState() const { return raft_->GetHardState(); }

SoftState RawNode::GetSoftState() const { return raft_->GetSoftState(); }

Status RawNode::GetStatus() const {
  Status s;
  s.id = raft_->id();
  s.hard_state = raft_->GetHardState();
  s.soft_state = raft_->GetSoftState();
  s.applied_index = raft_->log().applied();
  s.conf_state = raft_->tracker().GetConfState();
  if (raft_->role() == Role::kLeader) s.progress = raft_->tracker().progress();
  s.lead_transferee = raft_->lead_transferee();
  return s;
}

}  // namespace keel::raft
