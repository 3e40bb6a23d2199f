#include "server/raft_loop.h"

#include <algorithm>

#include "base/check.h"
#include "base/thread_name.h"
#include "raft/codec.h"
#include "server/read_index_context.h"

namespace keel::server {

RaftLoop::RaftLoop(raft::Config config, raft::RocksDbLogStore* store, Hooks hooks,
                   std::chrono::milliseconds tick_interval)
    : config_(config), id_(config.id), store_(store), hooks_(std::move(hooks)),
      tick_interval_(tick_interval) {
  config_.store = store;
}

RaftLoop::~RaftLoop() { Stop(); }

absl::Status RaftLoop::Start(bool campaign_now) {
  auto node = raft::RawNode::Create(config_);
  if (!node.ok()) return node.status();
  node_ = std::move(*node);
  if (campaign_now) {
    absl::Status st = node_->Campaign();
    if (!st.ok()) return st;
  }
  thread_ = std::thread([this] {
    NameThisThread("keel-raft");
    Run();
  });
  return absl::OkStatus();
}

void RaftLoop::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  // Proposals still queued were never handed to raft.
  for (Input& in : inbox_) {
    if (auto* p = std::get_if<ProposeInput>(&in)) {
      if (p->on_dropped) p->on_dropped(absl::UnavailableError("etcdserver: server stopped"));
    }
  }
  inbox_.clear();
}

void RaftLoop::Enqueue(Input input) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      inbox_.push_back(std::move(input));
      if (inbox_.size() == 1) cv_.notify_one();
      return;
    }
  }
  if (auto* p = std::get_if<ProposeInput>(&input)) {
    if (p->on_dropped) p->on_dropped(absl::UnavailableError("etcdserver: server stopped"));
  }
}

void RaftLoop::Propose(std::string data, std::function<void(absl::Status)> on_dropped) {
  Enqueue(ProposeInput{std::move(data), std::move(on_dropped)});
}

void RaftLoop::ReadIndex(uint64_t ctx) { Enqueue(ReadIndexInput{ctx}); }

void RaftLoop::Step(raft::Message message) { Enqueue(std::move(message)); }

void RaftLoop::CompactLog(uint64_t applied_index, uint64_t keep_entries) {
  Enqueue(CompactInput{applied_index, keep_entries});
}

void RaftLoop::Submit(std::function<void(raft::RawNode&)> fn) { Enqueue(NodeCall(std::move(fn))); }

void RaftLoop::Run() {
  using Clock = std::chrono::steady_clock;
  Clock::time_point next_tick = Clock::now() + tick_interval_;
  std::vector<Input> batch;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_until(lock, next_tick, [this] { return stopping_ || !inbox_.empty(); });
      if (stopping_) return;
      batch.swap(inbox_);
    }
    // Proposals drained together go to raft as one batch: one append, one broadcast.
    std::vector<raft::Bytes> proposals;
    std::vector<std::function<void(absl::Status)>> on_dropped;
    for (Input& in : batch) {
      if (auto* p = std::get_if<ProposeInput>(&in)) {
        proposals.emplace_back(std::move(p->data));
        on_dropped.push_back(std::move(p->on_dropped));
      } else {
        Handle(in);
      }
    }
    batch.clear();
    if (!proposals.empty()) {
      absl::Status st = node_->ProposeBatch(std::move(proposals));
      if (!st.ok()) {
        for (auto& cb : on_dropped) {
          if (cb) cb(st);
        }
      }
    }
    Clock::time_point now = Clock::now();
    if (now >= next_tick) {
      node_->Tick();
      next_tick += tick_interval_;
      // After a long stall (a slow disk), do not fire a burst of ticks: that would look like
      // an election timeout to ourselves.
      if (next_tick < now) next_tick = now + tick_interval_;
    }
    while (node_->HasReady()) HandleReady();
    raft::HardState hs = node_->GetHardState();
    term_.store(hs.term, std::memory_order_relaxed);
    uint64_t lead = node_->GetSoftState().lead;
    if (leader_.exchange(lead, std::memory_order_relaxed) != lead && hooks_.leader_changed) {
      hooks_.leader_changed(lead);
    }
    commit_.store(hs.commit, std::memory_order_relaxed);
  }
}

void RaftLoop::Handle(Input& input) {
  if (auto* r = std::get_if<ReadIndexInput>(&input)) {
    node_->ReadIndex(EncodeReadIndexContext(id_, r->ctx));
  } else if (auto* m = std::get_if<raft::Message>(&input)) {
    (void)node_->Step(*m);  // messages from removed or unknown peers are dropped
  } else if (auto* c = std::get_if<CompactInput>(&input)) {
    DoCompact(*c);
  } else if (auto* f = std::get_if<NodeCall>(&input)) {
    (*f)(*node_);
  }
}

void RaftLoop::HandleReady() {
  raft::Ready rd = node_->GetReady();
  if (rd.soft_state) role_ = rd.soft_state->role;
  bool leader = role_ == raft::Role::kLeader;
  if (leader && hooks_.send && !rd.messages.empty()) hooks_.send(std::move(rd.messages));
  // The state first: a crash after it and before the raft snapshot is saved leaves a store
  // ahead of the log, which the applier's skip of applied entries tolerates.
  if (!rd.snapshot.IsEmpty() && hooks_.restore_snapshot) hooks_.restore_snapshot(rd.snapshot);
  if (!rd.entries.empty() || rd.hard_state || !rd.snapshot.IsEmpty()) {
    absl::Status st = store_->Save(rd.hard_state ? &*rd.hard_state : nullptr, rd.entries,
                                   rd.snapshot.IsEmpty() ? nullptr : &rd.snapshot, rd.must_sync);
    // A member that cannot persist must not acknowledge anything: stop here.
    KEEL_CHECK(st.ok()) << "cannot persist raft state: " << st;
  }
  if (!leader && hooks_.send && !rd.messages.empty()) hooks_.send(std::move(rd.messages));
  for (const raft::Entry& e : rd.committed_entries) {
    if (e.type != raft::EntryType::kConfChange) continue;
    auto cc = raft::DecodeConfChange(e.data.view());
    KEEL_CHECK(cc.ok()) << "undecodable committed conf change at " << e.index;
    node_->ApplyConfChange(*cc);
  }
  if (!rd.committed_entries.empty() && hooks_.apply) hooks_.apply(std::move(rd.committed_entries));
  if (!rd.read_states.empty() && hooks_.read_states) hooks_.read_states(std::move(rd.read_states));
  node_->Advance(rd);
}

void RaftLoop::DoCompact(const CompactInput& in) {
  // The applied state can be ahead of this log: a snapshot from the leader carries the state
  // dumped when it was sent, newer than the raft index it is recorded at, and the entries in
  // between arrive (and are skipped) afterwards. The snapshot point must be an entry this log
  // holds and knows committed.
  const uint64_t snapshot_index = std::min(in.applied_index, node_->GetHardState().commit);
  if (snapshot_index <= in.keep_entries) return;
  uint64_t compact_to = snapshot_index - in.keep_entries;
  if (compact_to < store_->FirstIndex()) return;
  // The applied state must be durable before the entries that rebuild it are dropped.
  if (hooks_.sync_applied_state) {
    absl::Status st = hooks_.sync_applied_state();
    KEEL_CHECK(st.ok()) << "cannot sync applied state: " << st;
  }
  raft::ConfState cs = node_->GetStatus().conf_state;
  auto snap = store_->CreateSnapshot(snapshot_index, &cs, raft::Bytes());
  if (!snap.ok() && !raft::IsSnapOutOfDate(snap.status())) {
    KEEL_FATAL() << "cannot record snapshot: " << snap.status();
  }
  absl::Status st = store_->Compact(compact_to);
  KEEL_CHECK(st.ok() || raft::IsCompacted(st)) << "cannot compact raft log: " << st;
}

}  // namespace keel::server
