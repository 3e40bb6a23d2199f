#include "server/raft_loop.h"

#include <algorithm>
#include <future>
#include <utility>

#include "asio/post.hpp"
#include "base/check.h"
#include "base/etcd_errors.h"
#include "raft/codec.h"
#include "server/read_index_context.h"

namespace keel::server {

RaftLoop::RaftLoop(raft::Config config, raft::RocksDbLogStore* store, Hooks hooks,
                   std::chrono::milliseconds tick_interval, asio::io_context* io)
    : config_(config),
      id_(config.id),
      store_(store),
      hooks_(std::move(hooks)),
      tick_interval_(tick_interval),
      io_(io) {
  KEEL_CHECK(io_ != nullptr) << "RaftLoop needs an event loop";
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
  started_ = true;
  asio::post(*io_, [this] {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      running_ = true;
    }
    tick_timer_ = std::make_unique<asio::steady_timer>(*io_);
    next_tick_ = std::chrono::steady_clock::now() + tick_interval_;
    ScheduleTick();
    Drain();  // what arrived before the start, and the campaign's Ready
  });
  return absl::OkStatus();
}

void RaftLoop::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (started_) {
    KEEL_CHECK(!io_->get_executor().running_in_this_thread())
        << "RaftLoop::Stop called from the raft loop";
    // Runs after whatever the loop is doing; Drain and OnTick see stopping_ from then on.
    std::promise<void> stopped;
    asio::post(*io_, [this, &stopped] {
      tick_timer_.reset();  // cancels the pending wait; its handler sees stopping_
      stopped.set_value();
    });
    stopped.get_future().wait();
  }
  // Proposals still queued were never handed to raft.
  std::vector<Input> left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    left.swap(inbox_);
  }
  for (Input& in : left) DropStopped(in);
}

void RaftLoop::DropStopped(Input& input) {
  if (auto* p = std::get_if<ProposeInput>(&input)) {
    if (p->on_dropped) p->on_dropped(ErrStopped());
  }
}

void RaftLoop::Enqueue(Input input) {
  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_) {
    lock.unlock();
    DropStopped(input);
    return;
  }
  inbox_.push_back(std::move(input));
  if (std::exchange(drain_posted_, true)) return;  // the queued drain will take it
  lock.unlock();
  // post, never dispatch: inputs from the loop's own thread (a peer's messages, read as a
  // batch) are gathered into one drain after the handler that read them.
  asio::post(*io_, [this] { Drain(); });
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

void RaftLoop::Drain() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    drain_posted_ = false;
    // Before Start's task runs, inputs wait in the inbox: that task drains them.
    if (stopping_ || !running_) return;
    batch_.swap(inbox_);
  }
  // Proposals drained together go to raft as one batch: one append, one broadcast.
  std::vector<raft::Bytes> proposals;
  std::vector<std::function<void(absl::Status)>> on_dropped;
  for (Input& in : batch_) {
    if (auto* p = std::get_if<ProposeInput>(&in)) {
      proposals.emplace_back(std::move(p->data));
      on_dropped.push_back(std::move(p->on_dropped));
    } else {
      Handle(in);
    }
  }
  batch_.clear();
  if (!proposals.empty()) {
    absl::Status st = node_->ProposeBatch(std::move(proposals));
    if (!st.ok()) {
      for (auto& cb : on_dropped) {
        if (cb) cb(st);
      }
    }
  }
  AfterInputs();
}

void RaftLoop::ScheduleTick() {
  tick_timer_->expires_at(next_tick_);
  tick_timer_->async_wait([this](const asio::error_code& error) {
    if (!error) OnTick();
  });
}

void RaftLoop::OnTick() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
  }
  node_->Tick();
  const auto now = std::chrono::steady_clock::now();
  next_tick_ += tick_interval_;
  // After a long stall (a slow disk), do not fire a burst of ticks: that would look like an
  // election timeout to ourselves.
  if (next_tick_ < now) next_tick_ = now + tick_interval_;
  ScheduleTick();
  AfterInputs();
}

void RaftLoop::AfterInputs() {
  while (node_->HasReady()) HandleReady();
  raft::HardState hs = node_->GetHardState();
  term_.store(hs.term, std::memory_order_relaxed);
  uint64_t lead = node_->GetSoftState().lead;
  if (leader_.exchange(lead, std::memory_order_relaxed) != lead && hooks_.leader_changed) {
    hooks_.leader_changed(lead);
  }
  commit_.store(hs.commit, std::memory_order_relaxed);
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
  // The transport writes on this thread (Send from its own loop), so a leader's appends are on
  // their way to the followers before it starts its own fsync.
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
