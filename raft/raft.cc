// Terms, elections (with PreVote and CheckQuorum), and the follower and candidate roles.
#include "raft/raft.h"

#include <algorithm>

#include "base/check.h"
#include "raft/raw_node.h"

namespace keel::raft {
namespace {

constexpr char kCampaignTransfer[] = "CampaignTransfer";

MessageType VoteResponseType(MessageType t) {
  return t == MessageType::kVote ? MessageType::kVoteResp : MessageType::kPreVoteResp;
}

uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

Raft::Raft(const Config& config)
    : config_(config),
      id_(config.id),
      log_(config.store, config.max_committed_bytes_per_ready),
      tracker_(config.max_inflight_msgs, 0),
      rng_state_(config.random_seed ^ (config.id * 0x2545f4914f6cdd1dULL)) {
  auto initial = config.store->GetInitialState();
  KEEL_CHECK(initial.ok()) << "cannot read initial raft state: " << initial.status();
  tracker_.Reset(initial->conf_state, log_.LastIndex() + 1);
  if (!initial->hard_state.IsEmpty()) LoadState(initial->hard_state);
  if (config.applied_index > 0) log_.AppliedTo(config.applied_index);
  BecomeFollower(term_, kNone);
}

void Raft::LoadState(const HardState& hs) {
  KEEL_CHECK(hs.commit >= log_.committed() && hs.commit <= log_.LastIndex())
      << id_ << " state.commit " << hs.commit << " is out of range [" << log_.committed() << ", "
      << log_.LastIndex() << "]";
  log_.set_committed(hs.commit);
  term_ = hs.term;
  vote_ = hs.vote;
}

HardState Raft::GetHardState() const {
  // Planted bug: the vote never reaches Ready.hard_state, so it is never persisted.
  NodeId vote = config_.bugs.forget_to_persist_vote ? kNone : vote_;
  return HardState{term_, vote, log_.committed()};
}

bool Raft::Promotable() const {
  const Progress* pr = tracker_.Get(id_);
  return pr != nullptr && !pr->is_learner && !log_.UnstableSnapshot().has_value();
}

void Raft::Reset(uint64_t term) {
  if (term_ != term) {
    term_ = term;
    vote_ = kNone;
  }
  lead_ = kNone;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  ResetRandomizedElectionTimeout();
  AbortLeaderTransfer();
  tracker_.ResetVotes();
  uint64_t last = log_.LastIndex();
  for (auto& [id, pr] : tracker_.progress()) {
    bool learner = pr.is_learner;
    pr = Progress();
    pr.next = last + 1;
    pr.is_learner = learner;
    pr.inflights = Inflights(config_.max_inflight_msgs, 0);
    if (id == id_) pr.match = last;
  }
  pending_conf_index_ = 0;
  uncommitted_size_bytes_ = 0;
  read_only_.Clear();
  pending_read_index_messages_.clear();
}

void Raft::BecomeFollower(uint64_t term, NodeId lead) {
  step_ = &Raft::StepFollower;
  Reset(term);
  tick_ = &Raft::TickElection;
  lead_ = lead;
  role_ = Role::kFollower;
}

void Raft::BecomePreCandidate() {
  KEEL_CHECK(role_ != Role::kLeader) << "invalid transition [leader -> pre-candidate]";
  // A pre-candidate changes neither its term nor its vote (thesis §9.6): a node that cannot
  // win must not disrupt the cluster by raising terms.
  step_ = &Raft::StepCandidate;
  tracker_.ResetVotes();
  tick_ = &Raft::TickElection;
  lead_ = kNone;
  role_ = Role::kPreCandidate;
}

void Raft::BecomeCandidate() {
  KEEL_CHECK(role_ != Role::kLeader) << "invalid transition [leader -> candidate]";
  step_ = &Raft::StepCandidate;
  Reset(term_ + 1);
  tick_ = &Raft::TickElection;
  vote_ = id_;
  role_ = Role::kCandidate;
}

void Raft::Send(Message m) {
  if (m.from == kNone) m.from = id_;
  if (m.type == MessageType::kVote || m.type == MessageType::kVoteResp ||
      m.type == MessageType::kPreVote || m.type == MessageType::kPreVoteResp) {
    // Campaign messages carry the term they are about (a pre-vote: the term it would use).
    KEEL_CHECK(m.term != 0) << "term should be set when sending " << MessageTypeName(m.type);
  } else {
    KEEL_CHECK(m.term == 0) << "term should not be set when sending " << MessageTypeName(m.type);
    // Proposals and read requests are forwarded as if they were local: no term.
    if (m.type != MessageType::kProp && m.type != MessageType::kReadIndex) m.term = term_;
  }
  msgs_.push_back(std::move(m));
}

void Raft::ResetRandomizedElectionTimeout() {
  uint64_t spread = static_cast<uint64_t>(config_.election_timeout_ticks);
  randomized_election_timeout_ =
      config_.election_timeout_ticks + static_cast<int>(SplitMix64(&rng_state_) % spread);
}

bool Raft::PastElectionTimeout() const {
  return election_elapsed_ >= randomized_election_timeout_;
}

void Raft::TickElection() {
  ++election_elapsed_;
  if (Promotable() && PastElectionTimeout()) {
    election_elapsed_ = 0;
    Message m;
    m.type = MessageType::kHup;
    m.from = id_;
    (void)Step(std::move(m));
  }
}

void Raft::Hup(CampaignType type) {
  if (role_ == Role::kLeader) return;
  if (!Promotable()) return;
  // A node with an unapplied committed conf change must not campaign: once applied, the
  // change could remove it or alter the quorum it would count on.
  if (log_.committed() > log_.applied()) {
    auto pending = log_.Slice(log_.applied() + 1, log_.committed() + 1, UINT64_MAX);
    KEEL_CHECK(pending.ok()) << "cannot read unapplied entries: " << pending.status();
    for (const Entry& e : *pending) {
      if (e.type == EntryType::kConfChange) return;
    }
  }
  Campaign(type);
}

void Raft::Campaign(CampaignType type) {
  if (!Promotable()) return;
  uint64_t term;
  MessageType vote_type;
  if (type == CampaignType::kPreElection) {
    BecomePreCandidate();
    vote_type = MessageType::kPreVote;
    // Pre-votes ask about the term a real election would use.
    term = term_ + 1;
  } else {
    BecomeCandidate();
    vote_type = MessageType::kVote;
    term = term_;
  }
  if (Poll(id_, VoteResponseType(vote_type), true) == VoteResult::kWon) {
    // A single-voter cluster wins at once.
    if (type == CampaignType::kPreElection) {
      Campaign(CampaignType::kElection);
    } else {
      BecomeLeader();
    }
    return;
  }
  for (NodeId voter : tracker_.voters()) {
    if (voter == id_) continue;
    Message m;
    m.type = vote_type;
    m.to = voter;
    m.term = term;
    m.index = log_.LastIndex();
    m.log_term = log_.LastTerm();
    if (type == CampaignType::kTransfer) m.context = Bytes(std::string(kCampaignTransfer));
    Send(std::move(m));
  }
}

VoteResult Raft::Poll(NodeId id, MessageType type, bool granted) {
  tracker_.RecordVote(id, granted);
  int granted_count = 0, rejected_count = 0;
  return tracker_.TallyVotes(id_, config_.bugs.count_own_vote_twice, &granted_count,
                             &rejected_count);
}

absl::Status Raft::Step(Message m) {
  // Term handling first (§5.1: a higher term converts everyone to follower; lower terms are
  // stale), then dispatch by message type.
  if (m.term == 0) {
    // Local message, or a forwarded proposal / read request.
  } else if (m.term > term_) {
    if (m.type == MessageType::kVote || m.type == MessageType::kPreVote) {
      bool force = m.context.view() == kCampaignTransfer;
      bool in_lease = config_.check_quorum && lead_ != kNone &&
                      election_elapsed_ < config_.election_timeout_ticks;
      // Thesis §4.2.3: a node that heard from a live leader within the minimum election
      // timeout ignores vote requests, so a partitioned node rejoining cannot depose it.
      if (!force && in_lease) return absl::OkStatus();
    }
    if (m.type == MessageType::kPreVote) {
      // Never change our term in response to a pre-vote.
    } else if (m.type == MessageType::kPreVoteResp && !m.reject) {
      // A granted pre-vote carries the term we would campaign at; the term moves only when a
      // quorum grants it and the real election starts.
    } else if (m.type == MessageType::kApp || m.type == MessageType::kHeartbeat ||
               m.type == MessageType::kSnap) {
      BecomeFollower(m.term, m.from);
    } else {
      BecomeFollower(m.term, kNone);
    }
  } else if (m.term < term_) {
    if ((config_.check_quorum || config_.pre_vote) &&
        (m.type == MessageType::kHeartbeat || m.type == MessageType::kApp)) {
      // A stale leader (e.g. after a partition heals) learns our term from this answer and
      // steps down; without it, check_quorum/pre_vote could leave it isolated forever.
      Message resp;
      resp.type = MessageType::kAppResp;
      resp.to = m.from;
      Send(std::move(resp));
    } else if (m.type == MessageType::kPreVote) {
      Message resp;
      resp.type = MessageType::kPreVoteResp;
      resp.to = m.from;
      resp.term = term_;
      resp.reject = true;
      Send(std::move(resp));
    }
    return absl::OkStatus();
  }

  switch (m.type) {
    case MessageType::kHup:
      Hup(config_.pre_vote ? CampaignType::kPreElection : CampaignType::kElection);
      return absl::OkStatus();
    case MessageType::kVote:
    case MessageType::kPreVote:
      HandleVoteRequest(m);
      return absl::OkStatus();
    default:
      return (this->*step_)(m);
  }
}

void Raft::HandleVoteRequest(const Message& m) {
  // §5.2 one vote per term (repeat votes for the same candidate are fine); a pre-vote for a
  // future term may be granted whatever we voted in this one.
  bool can_vote = vote_ == m.from || (vote_ == kNone && lead_ == kNone) ||
                  (m.type == MessageType::kPreVote && m.term > term_);
  // §5.4.1 election restriction: only a candidate whose log is at least as up to date.
  bool up_to_date = config_.bugs.vote_without_log_check || log_.IsUpToDate(m.index, m.log_term);
  Message resp;
  resp.type = VoteResponseType(m.type);
  resp.to = m.from;
  if (can_vote && up_to_date) {
    // The response carries the request's term: for a pre-vote that is a future term.
    resp.term = m.term;
    Send(std::move(resp));
    if (m.type == MessageType::kVote) {
      election_elapsed_ = 0;
      vote_ = m.from;
    }
  } else {
    resp.term = term_;
    resp.reject = true;
    Send(std::move(resp));
  }
}

absl::Status Raft::StepCandidate(Message& m) {
  MessageType my_vote_resp =
      role_ == Role::kPreCandidate ? MessageType::kPreVoteResp : MessageType::kVoteResp;
  switch (m.type) {
    case MessageType::kProp:
      return ErrProposalDropped();
    case MessageType::kApp:
      BecomeFollower(m.term, m.from);  // always m.term == term_ here
      HandleAppendEntries(m);
      break;
    case MessageType::kHeartbeat:
      BecomeFollower(m.term, m.from);
      HandleHeartbeat(m);
      break;
    case MessageType::kSnap:
      BecomeFollower(m.term, m.from);
      HandleSnapshot(m);
      break;
    default:
      if (m.type == my_vote_resp) {
        switch (Poll(m.from, m.type, !m.reject)) {
          case VoteResult::kWon:
            if (role_ == Role::kPreCandidate) {
              Campaign(CampaignType::kElection);
            } else {
              BecomeLeader();
              BcastAppend();
            }
            break;
          case VoteResult::kLost:
            // A rejection with a higher term already made us a follower in Step.
            BecomeFollower(term_, kNone);
            break;
          case VoteResult::kPending:
            break;
        }
      }
      // MsgTimeoutNow and anything else: a candidate ignores them.
      break;
  }
  return absl::OkStatus();
}

absl::Status Raft::StepFollower(Message& m) {
  switch (m.type) {
    case MessageType::kProp:
      if (lead_ == kNone || config_.disable_proposal_forwarding) return ErrProposalDropped();
      m.to = lead_;
      Send(std::move(m));
      break;
    case MessageType::kApp:
      election_elapsed_ = 0;
      lead_ = m.from;
      HandleAppendEntries(m);
      break;
    case MessageType::kHeartbeat:
      election_elapsed_ = 0;
      lead_ = m.from;
      HandleHeartbeat(m);
      break;
    case MessageType::kSnap:
      election_elapsed_ = 0;
      lead_ = m.from;
      HandleSnapshot(m);
      break;
    case MessageType::kTransferLeader:
      if (lead_ == kNone) break;
      m.to = lead_;
      Send(std::move(m));
      break;
    case MessageType::kTimeoutNow:
      // The leader chose us (thesis §3.10): campaign at once, skipping pre-vote.
      Hup(CampaignType::kTransfer);
      break;
    case MessageType::kReadIndex:
      if (lead_ == kNone) break;
      m.to = lead_;
      Send(std::move(m));
      break;
    case MessageType::kReadIndexResp:
      if (m.entries.size() != 1) break;
      read_states_.push_back(ReadState{m.index, m.entries[0].data});
      break;
    default:
      break;
  }
  return absl::OkStatus();
}

void Raft::HandleAppendEntries(const Message& m) {
  Message resp;
  resp.type = MessageType::kAppResp;
  resp.to = m.from;
  if (m.index < log_.committed()) {
    // Everything up to our commit index is already settled: tell the leader where we are.
    resp.index = log_.committed();
    Send(std::move(resp));
    return;
  }
  if (auto last_new = log_.MaybeAppend(m.index, m.log_term, m.commit, m.entries)) {
    resp.index = *last_new;
    Send(std::move(resp));
    return;
  }
  // §5.3 consistency check failed. Hint the leader at the last index whose term is <= the
  // leader's term at m.index, so it can skip a whole term per round trip.
  uint64_t hint_index = std::min(m.index, log_.LastIndex());
  auto [index, term] = log_.FindConflictByTerm(hint_index, m.log_term);
  resp.index = m.index;
  resp.reject = true;
  resp.reject_hint = index;
  resp.log_term = term;
  Send(std::move(resp));
}

void Raft::HandleHeartbeat(const Message& m) {
  log_.CommitTo(m.commit);
  Message resp;
  resp.type = MessageType::kHeartbeatResp;
  resp.to = m.from;
  resp.context = m.context;
  Send(std::move(resp));
}

void Raft::HandleSnapshot(const Message& m) {
  KEEL_CHECK(m.snapshot.has_value()) << "MsgSnap without a snapshot";
  Message resp;
  resp.type = MessageType::kAppResp;
  resp.to = m.from;
  resp.index = Restore(*m.snapshot) ? log_.LastIndex() : log_.committed();
  Send(std::move(resp));
}

}  // namespace keel::raft
