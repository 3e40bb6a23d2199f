#include "server/lessor.h"

#include <algorithm>
#include <memory>

#include "base/check.h"
#include "base/etcd_errors.h"
#include "base/thread_name.h"

namespace keel::server {
namespace {

// A checkpoint rounds up, so the member that applies it never expires the lease earlier
// than the leader would have.
int64_t CeilSeconds(Lessor::Clock::duration d) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  return std::max<int64_t>(1, (ms + 999) / 1000);
}

}  // namespace

Lessor::Lessor(Options options, const kv::MvccStore* store, ProposeFn propose)
    : options_(options), store_(store), propose_(std::move(propose)) {}

Lessor::~Lessor() { Stop(); }

void Lessor::Start() {
  thread_ = std::thread([this] {
    NameThisThread("keel-lessor");
    Run();
  });
}

void Lessor::Stop() {
  std::vector<std::pair<int64_t, RenewCallback>> pending;
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    pending.swap(pending_renewals_);
    cv_.notify_all();
  }
  for (auto& [id, done] : pending) done(ErrStopped());
  if (thread_.joinable()) thread_.join();
}

void Lessor::Reload() {
  std::vector<kv::LeaseInfo> leases = store_->ListLeases();
  const Clock::time_point now = Now();
  std::lock_guard lock(mu_);
  deadlines_.clear();
  heap_ = {};
  revoking_.clear();
  for (const kv::LeaseInfo& l : leases) {
    const int64_t left = l.remaining_ttl > 0 ? l.remaining_ttl : l.ttl;
    SetDeadlineLocked(l.id, now + std::chrono::seconds(left), l.ttl);
  }
  cv_.notify_all();
}

void Lessor::SetDeadlineLocked(int64_t id, Clock::time_point at, int64_t ttl) {
  deadlines_.insert_or_assign(id, Deadline{at, ttl});
  heap_.emplace(at, id);
  // The heap holds stale entries for renewed leases until they surface; rebuild it when
  // they dominate, so it stays proportional to the number of leases.
  if (heap_.size() > 2 * deadlines_.size() + 1024) {
    std::vector<HeapItem> items;
    items.reserve(deadlines_.size());
    for (const auto& [lease, d] : deadlines_) items.emplace_back(d.at, lease);
    heap_ = decltype(heap_)(std::greater<HeapItem>(), std::move(items));
  }
}

void Lessor::OnGranted(int64_t id, int64_t ttl) {
  std::lock_guard lock(mu_);
  SetDeadlineLocked(id, Now() + std::chrono::seconds(ttl), ttl);
  cv_.notify_all();
}

void Lessor::OnRenewed(const std::vector<int64_t>& ids, const std::vector<int64_t>& ttls) {
  KEEL_CHECK_EQ(ids.size(), ttls.size());
  const Clock::time_point now = Now();
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ttls[i] > 0) SetDeadlineLocked(ids[i], now + std::chrono::seconds(ttls[i]), ttls[i]);
  }
}

void Lessor::OnCheckpointed(const std::vector<std::pair<int64_t, int64_t>>& checkpoints) {
  const Clock::time_point now = Now();
  std::lock_guard lock(mu_);
  // The leader's own clock is the reference: it proposed these from its deadlines.
  if (leader_term_ != 0) return;
  for (const auto& [id, remaining] : checkpoints) {
    auto it = deadlines_.find(id);
    if (it == deadlines_.end()) continue;
    const Clock::time_point at = now + std::chrono::seconds(remaining);
    // A member that applied the renewals itself already has a deadline at least as late as
    // the leader's; a restarted one learns a tighter one here.
    if (at < it->second.at) SetDeadlineLocked(id, at, it->second.ttl);
  }
}

void Lessor::OnRevoked(const std::vector<int64_t>& ids) {
  std::lock_guard lock(mu_);
  for (int64_t id : ids) {
    deadlines_.erase(id);
    revoking_.erase(id);
  }
}

void Lessor::OnLeaderChanged(uint64_t leader_term) {
  std::lock_guard lock(mu_);
  const bool promoted = leader_term != 0 && leader_term_ == 0;
  leader_term_ = leader_term;
  revoking_.clear();
  if (promoted) {
    // etcd's Promote(extend): keep-alives could not be served during the election.
    std::vector<HeapItem> items;
    items.reserve(deadlines_.size());
    for (auto& [id, d] : deadlines_) {
      d.at += options_.election_timeout;
      items.emplace_back(d.at, id);
    }
    heap_ = decltype(heap_)(std::greater<HeapItem>(), std::move(items));
    next_checkpoint_ = Now() + options_.checkpoint_interval;
  }
  cv_.notify_all();
}

std::optional<Lessor::Clock::duration> Lessor::Remaining(int64_t id) const {
  std::lock_guard lock(mu_);
  auto it = deadlines_.find(id);
  if (it == deadlines_.end()) return std::nullopt;
  return it->second.at - Now();
}

void Lessor::Renew(int64_t id, RenewCallback done) {
  absl::StatusOr<int64_t> answer_now;
  bool queued = false;
  {
    std::lock_guard lock(mu_);
    auto it = deadlines_.find(id);
    if (stopping_) {
      answer_now = ErrStopped();
    } else if (it == deadlines_.end() || it->second.at <= Now()) {
      // An expired lease is being revoked: etcd answers such a keep-alive as for an
      // unknown lease once the revocation is through.
      answer_now = int64_t{0};
    } else {
      pending_renewals_.emplace_back(id, std::move(done));
      queued = true;
    }
  }
  if (!queued) {
    done(std::move(answer_now));
    return;
  }
  FlushRenewals();
}

void Lessor::FlushRenewals() {
  auto batch = std::make_shared<std::vector<std::pair<int64_t, RenewCallback>>>();
  {
    std::lock_guard lock(mu_);
    if (pending_renewals_.empty() || stopping_) return;
    const Clock::time_point now = Now();
    if (renewals_in_flight_ > 0 && now - last_renewal_proposed_ < kRenewalFlushInterval) {
      cv_.notify_all();  // the expiry thread flushes them when the interval is up
      return;
    }
    ++renewals_in_flight_;
    last_renewal_proposed_ = now;
    if (pending_renewals_.size() <= kMaxRenewalsPerEntry) {
      batch->swap(pending_renewals_);
    } else {
      auto end = pending_renewals_.begin() + kMaxRenewalsPerEntry;
      batch->assign(std::make_move_iterator(pending_renewals_.begin()),
                    std::make_move_iterator(end));
      pending_renewals_.erase(pending_renewals_.begin(), end);
    }
  }
  serverpb::Request req;
  for (const auto& [id, done] : *batch) req.mutable_lease_renewal()->add_ids(id);
  propose_(std::move(req), [this, batch](ApplyResult r) {
    const auto* resp = dynamic_cast<const serverpb::LeaseRenewalResponse*>(r.response.get());
    for (size_t i = 0; i < batch->size(); ++i) {
      RenewCallback& done = (*batch)[i].second;
      if (!r.status.ok()) {
        done(r.status);
      } else {
        KEEL_CHECK(resp != nullptr && static_cast<size_t>(resp->ttls_size()) == batch->size());
        done(resp->ttls(static_cast<int>(i)));
      }
    }
    {
      std::lock_guard lock(mu_);
      --renewals_in_flight_;
    }
    FlushRenewals();
  });
}

void Lessor::Run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    const Clock::time_point wake = StepLocked(lock);
    if (stopping_) break;
    cv_.wait_until(lock, wake);
  }
}

Lessor::Clock::time_point Lessor::Step() {
  std::unique_lock lock(mu_);
  return StepLocked(lock);
}

Lessor::Clock::time_point Lessor::StepLocked(std::unique_lock<std::mutex>& lock) {
  if (!pending_renewals_.empty() && Now() - last_renewal_proposed_ >= kRenewalFlushInterval) {
    lock.unlock();
    FlushRenewals();
    lock.lock();
  }
  const Clock::time_point now = Now();
  if (leader_term_ != 0) {
    ProposeExpiredLocked(lock, now);
    if (options_.checkpoint_interval > Clock::duration::zero() && now >= next_checkpoint_) {
      ProposeCheckpointsLocked(lock, now);
      next_checkpoint_ = now + options_.checkpoint_interval;
    }
  }
  // Wake at the next deadline (or checkpoint, or renewal flush); at least every second, to
  // retry revocations whose proposals failed.
  Clock::time_point wake = Now() + std::chrono::seconds(1);
  if (!pending_renewals_.empty()) {
    wake = std::min(wake, last_renewal_proposed_ + kRenewalFlushInterval);
  }
  if (leader_term_ != 0) {
    while (!heap_.empty()) {
      auto [at, id] = heap_.top();
      auto it = deadlines_.find(id);
      if (it != deadlines_.end() && it->second.at == at && !revoking_.contains(id)) break;
      heap_.pop();  // stale (renewed or revoked since) or already proposed
    }
    if (!heap_.empty() && revocations_in_flight_ < kMaxRevocationEntriesInFlight) {
      wake = std::min(wake, heap_.top().first);
    }
    if (options_.checkpoint_interval > Clock::duration::zero()) {
      wake = std::min(wake, next_checkpoint_);
    }
  }
  return wake;
}

void Lessor::ProposeExpiredLocked(std::unique_lock<std::mutex>& lock, Clock::time_point now) {
  while (revocations_in_flight_ < kMaxRevocationEntriesInFlight) {
    auto req = std::make_shared<serverpb::Request>();
    auto* expiry = req->mutable_lease_expiry();
    expiry->set_leader_term(leader_term_);
    std::vector<int64_t> ids;
    std::vector<HeapItem> in_flight;
    while (!heap_.empty() && heap_.top().first <= now && ids.size() < kMaxRevocationsPerEntry) {
      auto [at, id] = heap_.top();
      heap_.pop();
      auto it = deadlines_.find(id);
      if (it == deadlines_.end() || it->second.at != at || revoking_.contains(id)) continue;
      auto info = store_->GetLease(id, /*with_keys=*/false);
      if (!info) continue;  // revoked, the notification is on its way
      auto* l = expiry->add_leases();
      l->set_id(id);
      l->set_renewed_index(info->renewed_index);
      revoking_.insert(id);
      ids.push_back(id);
      in_flight.emplace_back(at, id);
    }
    if (ids.empty()) return;
    ++revocations_in_flight_;
    lock.unlock();
    propose_(std::move(*req), [this, in_flight = std::move(in_flight)](ApplyResult r) {
      std::lock_guard guard(mu_);
      --revocations_in_flight_;
      // Leases skipped at apply (renewed meanwhile) or whose proposal failed get another look
      // at their current deadline.
      for (const auto& [at, id] : in_flight) {
        if (!revoking_.erase(id)) continue;
        auto it = deadlines_.find(id);
        if (it != deadlines_.end()) heap_.emplace(it->second.at, id);
      }
      cv_.notify_all();
    });
    lock.lock();
  }
}

void Lessor::ProposeCheckpointsLocked(std::unique_lock<std::mutex>& lock, Clock::time_point now) {
  std::vector<serverpb::Request> requests;
  serverpb::Request req;
  for (const auto& [id, d] : deadlines_) {
    const Clock::duration left = d.at - now;
    // Only leases part-way through their TTL: a fresh or renewed one is known in full.
    if (left <= Clock::duration::zero() || left >= std::chrono::seconds(d.ttl)) continue;
    auto* cp = req.mutable_lease_checkpoint()->add_checkpoints();
    cp->set_id(id);
    cp->set_remaining_ttl(CeilSeconds(left));
    if (static_cast<size_t>(req.lease_checkpoint().checkpoints_size()) >= kMaxCheckpointsPerEntry) {
      requests.push_back(std::move(req));
      req.Clear();
    }
  }
  if (req.has_lease_checkpoint()) requests.push_back(std::move(req));
  lock.unlock();
  for (auto& r : requests) propose_(std::move(r), [](ApplyResult) {});
  lock.lock();
}

}  // namespace keel::server
