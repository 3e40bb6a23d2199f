// Lessor: the time-dependent half of leases (the replicated half is kv::MvccStore's lease
// table). It knows when each lease expires, proposes the revocation of expired leases while
// this member leads, gathers keep-alives into renewal proposals and checkpoints remaining
// TTLs.
//
// Deadlines. Every member keeps a deadline per lease on its own steady clock, set when it
// applies the lease's grant or renewal (now + TTL). Renewals go through raft, so every
// member's deadline is at or after the leader's: a new leader never expires a lease early,
// and keeps its remaining TTL instead of restarting it (etcd restarts every TTL on a leader
// change unless checkpointing is on). On taking leadership a member adds one election
// timeout to every deadline, for the keep-alives that could not reach anyone during the
// election (etcd's Promote(extend)). After a restart or a snapshot a deadline is
// now + the checkpointed remaining TTL (or the full TTL).
//
// Expiry. Only the leader revokes. Deadlines sit in a min-heap, so the work per wake-up is
// proportional to what expires. Expired leases are proposed in LeaseExpiry entries of
// kMaxRevocationsPerEntry, one in flight, so other writes never queue behind more than one.
// Each carries the leader's term and the renewal index it saw; see keel/request.proto for
// why that is safe.
//
// Keep-alives. Renew() answers at once for unknown or expired leases (TTL 0, as etcd);
// otherwise the id joins the next LeaseRenewal proposal. While a renewal proposal is in
// flight the next one gathers what arrives (group commit), but waits at most
// kRenewalFlushInterval for it: a proposal forwarded to a leader that just died is lost
// and would otherwise hold every keep-alive of this member until the request timeout.
//
// Threads: the On* notifications come from the apply thread, OnLeaderChanged from the raft
// thread, Renew and the queries from the RPC loop; the expiry thread proposes.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <queue>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "keel/request.pb.h"
#include "kv/store.h"
#include "server/wait_registry.h"

namespace keel::server {

class Lessor {
 public:
  using Clock = std::chrono::steady_clock;
  using ProposeFn = std::function<void(serverpb::Request, WaitRegistry::Callback)>;
  // A keep-alive's answer: the granted TTL, 0 for an unknown or expired lease.
  using RenewCallback = std::function<void(absl::StatusOr<int64_t> ttl)>;

  struct Options {
    Clock::duration election_timeout = std::chrono::seconds(1);
    // How often the leader checkpoints remaining TTLs; zero: never.
    Clock::duration checkpoint_interval = std::chrono::minutes(5);
    // The clock deadlines are kept on (tests inject one and call Step() themselves).
    std::function<Clock::time_point()> now = [] { return Clock::now(); };
  };

  static constexpr size_t kMaxRevocationsPerEntry = 128;
  static constexpr int kMaxRevocationEntriesInFlight = 1;
  static constexpr size_t kMaxRenewalsPerEntry = 10000;
  static constexpr size_t kMaxCheckpointsPerEntry = 1000;
  static constexpr Clock::duration kRenewalFlushInterval = std::chrono::milliseconds(50);

  Lessor(Options options, const kv::MvccStore* store, ProposeFn propose);
  ~Lessor();

  // Start() runs Step() on a thread of its own, sleeping until the time it returns.
  void Start();
  void Stop();
  // One round of the expiry thread's work: flush keep-alives whose interval is up; if
  // leading, propose what expired and the checkpoints that are due. Returns when to run
  // next.
  Clock::time_point Step();

  // Rebuilds every deadline from the store (start-up, snapshot restore).
  void Reload();

  // Apply thread, after the store changed.
  void OnGranted(int64_t id, int64_t ttl);
  void OnRenewed(const std::vector<int64_t>& ids, const std::vector<int64_t>& ttls);
  void OnCheckpointed(const std::vector<std::pair<int64_t, int64_t>>& checkpoints);
  void OnRevoked(const std::vector<int64_t>& ids);

  // Raft thread: `leader_term` is the term this member now leads, 0 if it does not lead.
  void OnLeaderChanged(uint64_t leader_term);

  // A keep-alive. `done` may run on this thread, the apply thread or the raft thread.
  void Renew(int64_t id, RenewCallback done);

  // Time left before lease `id` expires (negative once expired but not yet revoked), or
  // nullopt for an unknown lease.
  std::optional<Clock::duration> Remaining(int64_t id) const;

 private:
  struct Deadline {
    Clock::time_point at;
    int64_t ttl = 0;
  };
  using HeapItem = std::pair<Clock::time_point, int64_t>;

  void Run();
  Clock::time_point StepLocked(std::unique_lock<std::mutex>& lock);
  Clock::time_point Now() const { return options_.now(); }
  // Under mu_: sets `id`'s deadline and queues it in the heap.
  void SetDeadlineLocked(int64_t id, Clock::time_point at, int64_t ttl);
  // Under mu_ (released while proposing): proposes what expired by `now`.
  void ProposeExpiredLocked(std::unique_lock<std::mutex>& lock, Clock::time_point now);
  void ProposeCheckpointsLocked(std::unique_lock<std::mutex>& lock, Clock::time_point now);
  // Proposes the gathered keep-alives if no renewal is in flight (takes mu_).
  void FlushRenewals();

  const Options options_;
  const kv::MvccStore* store_;
  const ProposeFn propose_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  absl::flat_hash_map<int64_t, Deadline> deadlines_;
  std::priority_queue<HeapItem, std::vector<HeapItem>, std::greater<HeapItem>> heap_;
  absl::flat_hash_set<int64_t> revoking_;  // proposed for expiry, not applied yet
  int revocations_in_flight_ = 0;
  uint64_t leader_term_ = 0;
  Clock::time_point next_checkpoint_;
  std::vector<std::pair<int64_t, RenewCallback>> pending_renewals_;
  int renewals_in_flight_ = 0;
  Clock::time_point last_renewal_proposed_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace keel::server
