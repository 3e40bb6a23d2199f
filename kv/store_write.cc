// MvccStore writes: Put and DeleteRange, and the machinery every write shares (one revision
// under construction, records into the batch and the key index, commit).
#include <string>
#include <utility>
#include <vector>

#include "base/check.h"
#include "base/etcd_errors.h"
#include "base/status_macros.h"
#include "kv/kv_codec.h"
#include "kv/store.h"
#include "kv/store_internal.h"

namespace keel::kv {

using etcdserverpb::DeleteRangeRequest;
using etcdserverpb::DeleteRangeResponse;
using etcdserverpb::PutRequest;
using etcdserverpb::PutResponse;

absl::Status MvccStore::CheckLease(int64_t lease) const {
  if (lease == 0) return absl::OkStatus();
  if (options_.lease_exists && options_.lease_exists(lease)) return absl::OkStatus();
  return ErrLeaseNotFound();
}

// The newest live version of `key` as the writer sees it (open batch included).
bool MvccStore::LatestForWriter(const std::string& key, mvccpb::KeyValue* kv) const {
  const KeyHistory* h = index_.Find(key);
  if (h == nullptr || !h->live()) return false;
  if (!h->latest.empty()) {
    KEEL_CHECK(kv->ParseFromString(h->latest)) << "malformed cached value";
    return true;
  }
  KEEL_CHECK(ReadForWriter(h->entries.back().revision(), kv))
      << "latest revision of a live key is missing";
  return true;
}

void MvccStore::WriteRecord(RevisionWriter& txn, bool tombstone, const mvccpb::KeyValue& kv) {
  const Revision rev{txn.rev, txn.next_sub++};
  std::string key = EncodeRevisionKey(rev);
  std::string value;
  EncodeValue(tombstone, kv, &value);
  batch_.Put(kv_cf_, key, value);
  {
    std::unique_lock lock(mu_);
    if (tombstone) {
      index_.RecordTombstone(kv.key(), rev);
    } else {
      std::string_view cached;
      if (options_.cache_latest_values) cached = std::string_view(value).substr(1);
      index_.RecordPut(kv.key(), rev, kv.create_revision(), kv.version(), cached);
    }
  }
  pending_values_.insert_or_assign(rev, std::move(value));
}

void MvccStore::ApplyPut(RevisionWriter& txn, const PutRequest& request, PutResponse* response) {
  const KeyHistory* h = index_.Find(request.key());
  const bool live = h != nullptr && h->live();
  mvccpb::KeyValue prev;
  const bool need_prev = live && (request.prev_kv() || request.ignore_value() ||
                                  request.ignore_lease() || options_.events_with_prev_kv);
  if (need_prev) KEEL_CHECK(LatestForWriter(request.key(), &prev));

  mvccpb::KeyValue kv;
  kv.set_key(request.key());
  kv.set_create_revision(live ? h->create_revision : txn.rev);
  kv.set_mod_revision(txn.rev);
  kv.set_version(live ? h->version + 1 : 1);
  kv.set_value(request.ignore_value() ? prev.value() : request.value());
  kv.set_lease(request.ignore_lease() ? prev.lease() : request.lease());
  WriteRecord(txn, /*tombstone=*/false, kv);

  response->mutable_header()->set_revision(txn.rev);
  if (request.prev_kv() && live) *response->mutable_prev_kv() = prev;
  mvccpb::Event& event = txn.events.emplace_back();
  event.set_type(mvccpb::Event::PUT);
  if (live && options_.events_with_prev_kv) *event.mutable_prev_kv() = std::move(prev);
  *event.mutable_kv() = std::move(kv);
}

void MvccStore::ApplyDelete(RevisionWriter& txn, const DeleteRangeRequest& request,
                            DeleteRangeResponse* response) {
  // Every key live now, including writes earlier in this txn.
  std::vector<std::string> keys;
  index_.VisitRange(KeyRange::FromRequest(request.key(), request.range_end()), INT64_MAX,
                    [&](const std::string& key, const KeyHistory&, const IndexEntry&) {
                      keys.push_back(key);
                      return true;
                    });
  const bool need_prev = request.prev_kv() || options_.events_with_prev_kv;
  for (const std::string& key : keys) {
    mvccpb::KeyValue prev;
    if (need_prev) KEEL_CHECK(LatestForWriter(key, &prev));
    mvccpb::KeyValue tombstone;
    tombstone.set_key(key);
    tombstone.set_mod_revision(txn.rev);
    WriteRecord(txn, /*tombstone=*/true, tombstone);
    mvccpb::Event& event = txn.events.emplace_back();
    event.set_type(mvccpb::Event::DELETE);
    *event.mutable_kv() = std::move(tombstone);
    if (request.prev_kv()) *response->add_prev_kvs() = prev;
    if (options_.events_with_prev_kv) *event.mutable_prev_kv() = std::move(prev);
  }
  response->set_deleted(static_cast<int64_t>(keys.size()));
  response->mutable_header()->set_revision(txn.changed() ? txn.rev : txn.rev - 1);
}

void MvccStore::FinishWrite(RevisionWriter& txn, uint64_t applied_index) {
  if (txn.changed()) current_rev_ = txn.rev;
  pending_applied_index_ = applied_index;
  if (!in_batch_) {
    absl::Status s = CommitPending();
    KEEL_CHECK(s.ok()) << s;
  }
}

void MvccStore::CheckAppliedIndex(uint64_t applied_index) const {
  KEEL_CHECK(applied_index > pending_applied_index_)
      << "applied index " << applied_index << " not after " << pending_applied_index_;
}

absl::StatusOr<PutResult> MvccStore::Put(const PutRequest& request, uint64_t applied_index) {
  std::lock_guard w(write_mu_);
  KEEL_RETURN_IF_ERROR(CheckPutRequest(request));
  KEEL_RETURN_IF_ERROR(CheckLease(request.lease()));
  if (request.ignore_value() || request.ignore_lease()) {
    const KeyHistory* h = index_.Find(request.key());
    if (h == nullptr || !h->live()) return ErrKeyNotFound();
  }
  CheckAppliedIndex(applied_index);
  RevisionWriter txn(current_rev_);
  PutResult result;
  ApplyPut(txn, request, &result.response);
  FinishWrite(txn, applied_index);
  result.events = std::move(txn.events);
  return result;
}

absl::StatusOr<DeleteRangeResult> MvccStore::DeleteRange(const DeleteRangeRequest& request,
                                                         uint64_t applied_index) {
  std::lock_guard w(write_mu_);
  KEEL_RETURN_IF_ERROR(CheckDeleteRangeRequest(request));
  CheckAppliedIndex(applied_index);
  RevisionWriter txn(current_rev_);
  DeleteRangeResult result;
  ApplyDelete(txn, request, &result.response);
  FinishWrite(txn, applied_index);
  result.events = std::move(txn.events);
  return result;
}

}  // namespace keel::kv
