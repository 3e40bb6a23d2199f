#include "server/applier.h"

#include <memory>
#include <utility>

#include "base/check.h"
#include "base/etcd_errors.h"
#include "base/thread_name.h"
#include "keel/request.pb.h"
#include "raft/codec.h"

namespace keel::server {
namespace {

bool TxnHasPut(const etcdserverpb::TxnRequest& txn) {
  for (const auto* ops : {&txn.success(), &txn.failure()}) {
    for (const auto& op : *ops) {
      if (op.has_request_put()) return true;
      if (op.has_request_txn() && TxnHasPut(op.request_txn())) return true;
    }
  }
  return false;
}

// Bounded by the size of the request itself: nothing that walks a range of keys.
bool TxnIsCheap(const etcdserverpb::TxnRequest& txn) {
  for (const auto& c : txn.compare()) {
    if (!c.range_end().empty()) return false;
  }
  for (const auto* ops : {&txn.success(), &txn.failure()}) {
    for (const auto& op : *ops) {
      if (op.has_request_range() && !op.request_range().range_end().empty()) return false;
      if (op.has_request_delete_range() && !op.request_delete_range().range_end().empty()) {
        return false;
      }
      if (op.has_request_txn() && !TxnIsCheap(op.request_txn())) return false;
    }
  }
  return true;
}

}  // namespace

Applier::Applier(kv::MvccStore* store, Alarms* alarms, Membership* membership, Lessor* lessor,
                 WaitRegistry* waits, Hooks hooks, size_t inline_max_entries)
    : store_(store),
      alarms_(alarms),
      membership_(membership),
      lessor_(lessor),
      waits_(waits),
      hooks_(std::move(hooks)),
      inline_max_entries_(inline_max_entries) {
  applied_.store(store_->AppliedIndex());
}

Applier::~Applier() { Stop(); }

void Applier::Start() {
  thread_ = std::thread([this] {
    NameThisThread("keel-apply");
    Run();
  });
}

void Applier::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void Applier::Enqueue(std::vector<raft::Entry> entries) {
  auto idle = [this] { return !applying_ && queue_.empty() && !stopping_; };
  std::unique_lock<std::mutex> lock(mu_);
  bool cheap = false;
  std::vector<serverpb::Request> decoded;
  if (entries.size() <= inline_max_entries_ && idle()) {
    lock.unlock();  // parsing needs no lock; the parsed requests are applied, not parsed again
    cheap = DecodeIfCheap(entries, &decoded);
    lock.lock();
  }
  backlog_.fetch_add(entries.size(), std::memory_order_relaxed);
  if (!cheap || !idle()) {
    queue_.push_back(Item{std::move(entries), nullptr});
    cv_.notify_one();
    return;
  }
  // Nothing is ahead of these entries and the apply thread cannot start anything while
  // applying_ is set: applying them here keeps the order.
  applying_ = true;
  lock.unlock();
  ApplyGroup(entries, &decoded);
  lock.lock();
  applying_ = false;
  backlog_.fetch_sub(entries.size(), std::memory_order_relaxed);
  if (!queue_.empty() || stopping_) cv_.notify_one();
}

bool Applier::DecodeIfCheap(const std::vector<raft::Entry>& entries,
                            std::vector<serverpb::Request>* decoded) {
  decoded->resize(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const raft::Entry& e = entries[i];
    if (e.type != raft::EntryType::kNormal) return false;
    if (e.data.empty()) continue;  // a new leader's empty entry
    serverpb::Request& req = (*decoded)[i];
    KEEL_CHECK(req.ParseFromString(e.data.str())) << "undecodable request at index " << e.index;
    if (req.has_put()) continue;
    if (req.has_txn() && TxnIsCheap(req.txn())) continue;
    return false;
  }
  return true;
}

void Applier::RunInOrder(std::function<void()> task) {
  std::lock_guard<std::mutex> lock(mu_);
  queue_.push_back(Item{{}, std::move(task)});
  cv_.notify_one();
}

void Applier::Run() {
  while (true) {
    std::vector<raft::Entry> group;
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return !applying_ && (stopping_ || !queue_.empty()); });
      if (queue_.empty()) return;  // stopping, and everything handed over was applied
      applying_ = true;
      // Merge what is queued into one group: one RocksDB write for all of it.
      task = std::move(queue_.front().task);
      group = std::move(queue_.front().entries);
      queue_.pop_front();
      while (!task && !queue_.empty() && !queue_.front().task && group.size() < 4096) {
        for (auto& e : queue_.front().entries) group.push_back(std::move(e));
        queue_.pop_front();
      }
    }
    if (task) {
      task();
      uint64_t applied = store_->AppliedIndex();
      applied_.store(applied, std::memory_order_release);
      if (hooks_.on_applied) hooks_.on_applied(applied);
    } else {
      ApplyGroup(group);
    }
    // Idle before the backlog reads 0: whoever sees no backlog may apply inline at once.
    std::lock_guard<std::mutex> lock(mu_);
    applying_ = false;
    backlog_.fetch_sub(group.size(), std::memory_order_relaxed);
  }
}

void Applier::ApplyGroup(std::vector<raft::Entry>& entries,
                         std::vector<serverpb::Request>* decoded) {
  std::vector<std::pair<uint64_t, ApplyResult>> results;
  results.reserve(entries.size());
  std::vector<mvccpb::Event> events;
  uint64_t last = 0;
  store_->BeginBatch();
  for (size_t i = 0; i < entries.size(); ++i) {
    const raft::Entry& e = entries[i];
    last = e.index;
    if (e.index <= store_->AppliedIndex()) continue;  // applied before a restart
    serverpb::Request req;
    uint64_t id = 0;
    if (e.type == raft::EntryType::kConfChange) {
      // The membership record first, the applied index after it (one WAL keeps the order).
      auto cc = raft::DecodeConfChange(e.data.view());
      KEEL_CHECK(cc.ok()) << "undecodable conf change at index " << e.index;
      absl::Status st = membership_->ApplyConfChange(*cc);
      KEEL_CHECK(st.ok()) << "cannot apply conf change at " << e.index << ": " << st;
      st = store_->MarkApplied(e.index);
      KEEL_CHECK(st.ok()) << "cannot record applied index: " << st;
      if (hooks_.on_conf_change) hooks_.on_conf_change(*cc, e.index);
      if (cc->id != 0) results.emplace_back(cc->id, ApplyResult{absl::OkStatus(), nullptr});
      continue;
    }
    if (decoded) {
      req = std::move((*decoded)[i]);
      id = req.id();
    } else if (e.type == raft::EntryType::kNormal && !e.data.empty()) {
      KEEL_CHECK(req.ParseFromString(e.data.str())) << "undecodable request at index " << e.index;
      id = req.id();
    }
    ApplyResult result = ApplyEntry(e, req, &events);
    if (id != 0) results.emplace_back(id, std::move(result));
  }
  absl::Status st = store_->CommitBatch();
  KEEL_CHECK(st.ok()) << "cannot commit applied state: " << st;
  applied_.store(last, std::memory_order_release);
  // Events only after the commit: a watcher never sees what a reader could not yet read.
  if (hooks_.on_events && !events.empty()) {
    hooks_.on_events(store_->CurrentRevision(), std::move(events));
  }
  // Reply only after the batch is visible: a client that sees its put acknowledged can read it.
  const bool hand_off = hooks_.run_replies && results.size() >= 2;
  auto reply = [waits = waits_, results = std::move(results)]() mutable {
    for (auto& [id, result] : results) waits->Trigger(id, std::move(result));
  };
  if (hand_off) {
    hooks_.run_replies(std::move(reply));
  } else {
    reply();
  }
  if (hooks_.on_applied) hooks_.on_applied(last);
}

ApplyResult Applier::MarkApplied(uint64_t index, absl::Status status) {
  absl::Status st = store_->MarkApplied(index);
  KEEL_CHECK(st.ok()) << "cannot record applied index: " << st;
  return ApplyResult{std::move(status), nullptr};
}

void Applier::MoveEvents(std::vector<mvccpb::Event>& produced, std::vector<mvccpb::Event>* events) {
  for (auto& e : produced) events->push_back(std::move(e));
}

ApplyResult Applier::ApplyEntry(const raft::Entry& entry, const serverpb::Request& req,
                                std::vector<mvccpb::Event>* events) {
  switch (req.op_case()) {
    case serverpb::Request::kPut: {
      if (alarms_->NoSpace()) return MarkApplied(entry.index, ErrNoSpace());
      auto r = store_->Put(req.put(), entry.index);
      if (!r.ok()) return MarkApplied(entry.index, r.status());
      MoveEvents(r->events, events);
      return ApplyResult{absl::OkStatus(),
                         std::make_shared<etcdserverpb::PutResponse>(std::move(r->response))};
    }
    case serverpb::Request::kDeleteRange: {
      auto r = store_->DeleteRange(req.delete_range(), entry.index);
      if (!r.ok()) return MarkApplied(entry.index, r.status());
      MoveEvents(r->events, events);
      return ApplyResult{absl::OkStatus(), std::make_shared<etcdserverpb::DeleteRangeResponse>(
                                               std::move(r->response))};
    }
    case serverpb::Request::kTxn: {
      // With NOSPACE, etcd refuses a txn that would put anything (its quota cost); reads and
      // deletes still work so an operator can free space.
      if (alarms_->NoSpace() && TxnHasPut(req.txn())) return MarkApplied(entry.index, ErrNoSpace());
      auto r = store_->Txn(req.txn(), entry.index);
      if (!r.ok()) return MarkApplied(entry.index, r.status());
      MoveEvents(r->events, events);
      return ApplyResult{absl::OkStatus(),
                         std::make_shared<etcdserverpb::TxnResponse>(std::move(r->response))};
    }
    case serverpb::Request::kCompaction: {
      auto r = store_->Compact(req.compaction().revision(), entry.index);
      if (!r.ok()) return MarkApplied(entry.index, r.status());
      return ApplyResult{absl::OkStatus(),
                         std::make_shared<etcdserverpb::CompactionResponse>(std::move(*r))};
    }
    case serverpb::Request::kAlarm: {
      auto resp = std::make_shared<etcdserverpb::AlarmResponse>(alarms_->Apply(req.alarm()));
      MarkApplied(entry.index, absl::OkStatus());
      return ApplyResult{absl::OkStatus(), std::move(resp)};
    }
    case serverpb::Request::kMemberAttributes: {
      const auto& a = req.member_attributes();
      std::vector<std::string> urls(a.client_urls().begin(), a.client_urls().end());
      absl::Status st = membership_->SetAttributes(a.id(), a.name(), urls);
      KEEL_CHECK(st.ok()) << "cannot record member attributes: " << st;
      return MarkApplied(entry.index, absl::OkStatus());
    }
    case serverpb::Request::kMemberUpdate: {
      const auto& u = req.member_update();
      std::vector<std::string> urls(u.peerurls().begin(), u.peerurls().end());
      absl::Status st = membership_->SetPeerUrls(u.id(), urls);
      KEEL_CHECK(st.ok()) << "cannot record member peer URLs: " << st;
      return MarkApplied(entry.index, absl::OkStatus());
    }
    case serverpb::Request::kLeaseGrant:
    case serverpb::Request::kLeaseRevoke:
    case serverpb::Request::kLeaseExpiry:
    case serverpb::Request::kLeaseRenewal:
    case serverpb::Request::kLeaseCheckpoint:
      return ApplyLease(entry, req, events);
    case serverpb::Request::OP_NOT_SET:
      break;
  }
  return MarkApplied(entry.index, absl::OkStatus());
}

ApplyResult Applier::ApplyLease(const raft::Entry& entry, const serverpb::Request& req,
                                std::vector<mvccpb::Event>* events) {
  switch (req.op_case()) {
    case serverpb::Request::kLeaseGrant: {
      const auto& g = req.lease_grant();
      if (alarms_->NoSpace()) return MarkApplied(entry.index, ErrNoSpace());
      absl::Status st = store_->GrantLease(g.id(), g.ttl(), entry.index);
      if (!st.ok()) return MarkApplied(entry.index, st);
      lessor_->OnGranted(g.id(), g.ttl());
      auto resp = std::make_shared<etcdserverpb::LeaseGrantResponse>();
      resp->set_id(g.id());
      resp->set_ttl(g.ttl());
      return ApplyResult{absl::OkStatus(), std::move(resp)};
    }
    case serverpb::Request::kLeaseRevoke: {
      auto r = store_->RevokeLease(req.lease_revoke().id(), entry.index);
      if (!r.ok()) return MarkApplied(entry.index, r.status());
      MoveEvents(r->events, events);
      lessor_->OnRevoked(r->revoked);
      auto resp = std::make_shared<etcdserverpb::LeaseRevokeResponse>();
      resp->mutable_header()->set_revision(r->revision);
      return ApplyResult{absl::OkStatus(), std::move(resp)};
    }
    case serverpb::Request::kLeaseExpiry: {
      const auto& x = req.lease_expiry();
      // Only from the term its proposer led: see keel/request.proto.
      if (x.leader_term() != entry.term) return MarkApplied(entry.index, absl::OkStatus());
      std::vector<kv::LeaseRevocation> leases;
      leases.reserve(x.leases_size());
      for (const auto& l : x.leases()) leases.push_back({l.id(), l.renewed_index()});
      kv::LeaseRevokeResult r = store_->RevokeLeases(leases, entry.index);
      MoveEvents(r.events, events);
      lessor_->OnRevoked(r.revoked);
      return ApplyResult{absl::OkStatus(), nullptr};
    }
    case serverpb::Request::kLeaseRenewal: {
      std::vector<int64_t> ids(req.lease_renewal().ids().begin(), req.lease_renewal().ids().end());
      std::vector<int64_t> ttls = store_->RenewLeases(ids, entry.index);
      lessor_->OnRenewed(ids, ttls);
      auto resp = std::make_shared<serverpb::LeaseRenewalResponse>();
      resp->mutable_ttls()->Add(ttls.begin(), ttls.end());
      return ApplyResult{absl::OkStatus(), std::move(resp)};
    }
    case serverpb::Request::kLeaseCheckpoint: {
      std::vector<std::pair<int64_t, int64_t>> cps;
      for (const auto& c : req.lease_checkpoint().checkpoints()) {
        cps.emplace_back(c.id(), c.remaining_ttl());
      }
      store_->CheckpointLeases(cps, entry.index);
      lessor_->OnCheckpointed(cps);
      return ApplyResult{absl::OkStatus(), nullptr};
    }
    default:
      break;
  }
  return MarkApplied(entry.index, absl::OkStatus());
}

}  // namespace keel::server
