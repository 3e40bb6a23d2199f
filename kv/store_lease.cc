// MvccStore leases: the replicated lease table (grant, renewal, checkpoint, revocation) and
// which keys are attached to which lease.
//
// A lease record in the `lease` family is 24 bytes: ttl, remaining ttl, renewed index, each
// 8 bytes big-endian. Attached keys are not stored: a key's lease is part of its newest
// KeyValue, so Load() rebuilds the attachments from the kv family.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "base/big_endian.h"
#include "base/check.h"
#include "base/etcd_errors.h"
#include "kv/store.h"
#include "kv/store_internal.h"

namespace keel::kv {
namespace {

constexpr size_t kLeaseRecordBytes = 24;

std::string LeaseKey(int64_t id) { return BigEndian64(static_cast<uint64_t>(id)); }

LeaseInfo ToInfo(int64_t id, int64_t ttl, int64_t remaining, uint64_t renewed) {
  LeaseInfo info;
  info.id = id;
  info.ttl = ttl;
  info.remaining_ttl = remaining;
  info.renewed_index = renewed;
  return info;
}

}  // namespace

absl::Status MvccStore::LoadLeases() {
  leases_.clear();
  key_lease_.clear();
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), lease_cf_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key().size() != 8 || it->value().size() != kLeaseRecordBytes) {
      return absl::DataLossError("malformed record in the lease column family");
    }
    const char* v = it->value().data();
    Lease& lease = leases_[static_cast<int64_t>(GetBigEndian64(it->key().data()))];
    lease.ttl = static_cast<int64_t>(GetBigEndian64(v));
    lease.remaining_ttl = static_cast<int64_t>(GetBigEndian64(v + 8));
    lease.renewed_index = GetBigEndian64(v + 16);
  }
  if (!it->status().ok()) {
    return absl::InternalError("scanning the lease family: " + it->status().ToString());
  }
  return absl::OkStatus();
}

void MvccStore::PersistLease(int64_t id, const Lease& lease) {
  std::string value;
  value.reserve(kLeaseRecordBytes);
  AppendBigEndian64(static_cast<uint64_t>(lease.ttl), &value);
  AppendBigEndian64(static_cast<uint64_t>(lease.remaining_ttl), &value);
  AppendBigEndian64(lease.renewed_index, &value);
  rocksdb::Status s = batch_.Put(lease_cf_, LeaseKey(id), value);
  KEEL_CHECK(s.ok()) << "adding to the lease batch: " << s.ToString();
}

void MvccStore::AttachKeyLocked(std::string_view key, int64_t lease) {
  auto it = key_lease_.find(absl::string_view(key.data(), key.size()));
  const int64_t old = it == key_lease_.end() ? 0 : it->second;
  if (old == lease) return;
  if (old != 0) {
    auto l = leases_.find(old);
    KEEL_CHECK(l != leases_.end()) << "key attached to a missing lease";
    l->second.keys.erase(std::string(key));
  }
  if (lease == 0) {
    key_lease_.erase(it);
    return;
  }
  auto l = leases_.find(lease);
  KEEL_CHECK(l != leases_.end()) << "attaching a key to a missing lease";
  l->second.keys.insert(std::string(key));
  if (it == key_lease_.end()) {
    key_lease_.emplace(std::string(key), lease);
  } else {
    it->second = lease;
  }
}

std::optional<LeaseInfo> MvccStore::GetLease(int64_t id, bool with_keys) const {
  std::shared_lock lock(mu_);
  auto it = leases_.find(id);
  if (it == leases_.end()) return std::nullopt;
  const Lease& l = it->second;
  LeaseInfo info = ToInfo(id, l.ttl, l.remaining_ttl, l.renewed_index);
  if (with_keys) info.keys.assign(l.keys.begin(), l.keys.end());
  return info;
}

std::vector<LeaseInfo> MvccStore::ListLeases() const {
  std::vector<LeaseInfo> out;
  {
    std::shared_lock lock(mu_);
    out.reserve(leases_.size());
    for (const auto& [id, l] : leases_) {
      out.push_back(ToInfo(id, l.ttl, l.remaining_ttl, l.renewed_index));
    }
  }
  std::sort(out.begin(), out.end(),
            [](const LeaseInfo& a, const LeaseInfo& b) { return a.id < b.id; });
  return out;
}

size_t MvccStore::LeaseCount() const {
  std::shared_lock lock(mu_);
  return leases_.size();
}

void MvccStore::FinishLeaseWrite(uint64_t applied_index) {
  pending_applied_index_ = applied_index;
  if (!in_batch_) {
    absl::Status s = CommitPending();
    KEEL_CHECK(s.ok()) << s;
  }
}

absl::Status MvccStore::GrantLease(int64_t id, int64_t ttl, uint64_t applied_index) {
  std::lock_guard w(write_mu_);
  // etcd's lessor refuses the "no lease" id the same way.
  if (id == 0) return ErrLeaseNotFound();
  if (leases_.contains(id)) return ErrLeaseExist();
  CheckAppliedIndex(applied_index);
  Lease lease;
  lease.ttl = ttl;
  lease.renewed_index = applied_index;
  PersistLease(id, lease);
  {
    std::unique_lock lock(mu_);
    leases_.emplace(id, std::move(lease));
  }
  FinishLeaseWrite(applied_index);
  return absl::OkStatus();
}

void MvccStore::RevokeOne(int64_t id, LeaseRevokeResult* result) {
  auto it = leases_.find(id);
  KEEL_CHECK(it != leases_.end());
  // Sorted (the set's order), as etcd deletes them, so every member writes the same records.
  const std::vector<std::string> keys(it->second.keys.begin(), it->second.keys.end());
  RevisionWriter txn(current_rev_);
  for (const std::string& key : keys) {
    etcdserverpb::DeleteRangeRequest del;
    del.set_key(key);
    etcdserverpb::DeleteRangeResponse ignored;
    ApplyDelete(txn, del, &ignored);  // detaches the key from the lease
  }
  if (txn.changed()) current_rev_ = txn.rev;
  for (auto& e : txn.events) result->events.push_back(std::move(e));
  rocksdb::Status s = batch_.Delete(lease_cf_, LeaseKey(id));
  KEEL_CHECK(s.ok()) << "adding to the lease batch: " << s.ToString();
  {
    std::unique_lock lock(mu_);
    auto gone = leases_.find(id);
    KEEL_CHECK(gone->second.keys.empty()) << "revoked lease still holds keys";
    leases_.erase(gone);
  }
  result->revoked.push_back(id);
}

absl::StatusOr<LeaseRevokeResult> MvccStore::RevokeLease(int64_t id, uint64_t applied_index) {
  std::lock_guard w(write_mu_);
  if (!leases_.contains(id)) return ErrLeaseNotFound();
  CheckAppliedIndex(applied_index);
  LeaseRevokeResult result;
  RevokeOne(id, &result);
  FinishLeaseWrite(applied_index);
  result.revision = current_rev_;
  return result;
}

LeaseRevokeResult MvccStore::RevokeLeases(const std::vector<LeaseRevocation>& leases,
                                          uint64_t applied_index) {
  std::lock_guard w(write_mu_);
  CheckAppliedIndex(applied_index);
  LeaseRevokeResult result;
  for (const LeaseRevocation& r : leases) {
    auto it = leases_.find(r.id);
    if (it == leases_.end()) continue;
    if (r.if_renewed_index != 0 && it->second.renewed_index != r.if_renewed_index) continue;
    RevokeOne(r.id, &result);
  }
  FinishLeaseWrite(applied_index);
  result.revision = current_rev_;
  return result;
}

std::vector<int64_t> MvccStore::RenewLeases(const std::vector<int64_t>& ids,
                                            uint64_t applied_index) {
  std::lock_guard w(write_mu_);
  CheckAppliedIndex(applied_index);
  std::vector<int64_t> ttls;
  ttls.reserve(ids.size());
  {
    std::unique_lock lock(mu_);
    for (int64_t id : ids) {
      auto it = leases_.find(id);
      if (it == leases_.end()) {
        ttls.push_back(0);
        continue;
      }
      it->second.renewed_index = applied_index;
      it->second.remaining_ttl = 0;
      PersistLease(id, it->second);
      ttls.push_back(it->second.ttl);
    }
  }
  FinishLeaseWrite(applied_index);
  return ttls;
}

void MvccStore::CheckpointLeases(const std::vector<std::pair<int64_t, int64_t>>& checkpoints,
                                 uint64_t applied_index) {
  std::lock_guard w(write_mu_);
  CheckAppliedIndex(applied_index);
  {
    std::unique_lock lock(mu_);
    for (const auto& [id, remaining] : checkpoints) {
      auto it = leases_.find(id);
      if (it == leases_.end()) continue;
      it->second.remaining_ttl = remaining;
      PersistLease(id, it->second);
    }
  }
  FinishLeaseWrite(applied_index);
}

}  // namespace keel::kv
