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
  if (lease == 0 || leases_.contains(lease)) return absl::OkStatus();
  return ErrLeaseNotFound();
}

// The newest live version of a key as the writer sees it (open batch included).
void MvccStore::LatestForWriter(const KeyHistory& h, mvccpb::KeyValue* kv) const {
  KEEL_CHECK(h.live()) << "no live version to read";
  if (!h.latest.empty()) {
    KEEL_CHECK(kv->ParseFromString(h.latest.str())) << "malformed cached value";
    return;
  }
  KEEL_CHECK(ReadForWriter(h.entries.back().revision(), kv))
      << "latest revision of a live key is missing";
}

void MvccStore::WriteRecord(RevisionWriter& txn, const KeyHistory* history, bool tombstone,
                            const KeyValueFields& kv) {
  const Revision rev{txn.rev, txn.next_sub++};
  char key[kRevisionKeyBytes];
  EncodeRevisionKey(rev, key);
  // Encoded once, by hand, into a buffer of the exact size: the batch copies it, and for a
  // put the same string then becomes the cached value or the pending value.
  std::string encoded;
  encoded.reserve(KeyValueBytes(kv));
  AppendKeyValue(kv, &encoded);
  const char marker = tombstone ? kTombstoneMarker : kPutMarker;
  const rocksdb::Slice key_part(key, kRevisionKeyBytes);
  const rocksdb::Slice value_parts[2] = {rocksdb::Slice(&marker, 1), rocksdb::Slice(encoded)};
  rocksdb::Status s = batch_.Put(kv_cf_, rocksdb::SliceParts(&key_part, 1),
                                 rocksdb::SliceParts(value_parts, 2));
  KEEL_CHECK(s.ok()) << "adding to the kv batch: " << s.ToString();

  // The key's newest put before this write, which this write supersedes.
  const bool superseding = history != nullptr && history->live();
  const Revision superseded_rev = superseding ? history->entries.back().revision() : Revision{};
  std::string superseded;
  const size_t freed = history != nullptr ? history->latest.size() : 0;
  const bool cache = !tombstone && index_.CachedValueBytes() - freed + encoded.size() <=
                                       options_.value_cache_bytes;
  {
    std::unique_lock lock(mu_);
    if (tombstone) {
      superseded = index_.RecordTombstone(history, kv.key, rev);
    } else {
      superseded = index_.RecordPut(history, kv.key, rev, kv.create_revision, kv.version,
                                    cache ? std::move(encoded) : std::string());
    }
    // Most workloads use no leases: then there is nothing to look up.
    const int64_t lease = tombstone ? 0 : kv.lease;
    if (lease != 0 || !key_lease_.empty()) AttachKeyLocked(kv.key, lease);
  }
  // Keep the invariant on pending_values_: a put of the open batch that is not its key's
  // cached newest value must be readable from the map. Tombstones are never read back.
  if (!tombstone && !cache) pending_values_.insert_or_assign(rev, std::move(encoded));
  if (superseding && !superseded.empty() && superseded_rev.main > visible_rev_) {
    pending_values_.insert_or_assign(superseded_rev, std::move(superseded));
  }
}

void MvccStore::ApplyPut(RevisionWriter& txn, const PutRequest& request, PutResponse* response) {
  const KeyHistory* h = index_.Find(request.key());
  const bool live = h != nullptr && h->live();
  mvccpb::Event& event = txn.events.emplace_back();
  event.set_type(mvccpb::Event::PUT);
  // The previous version is read only when something uses it, and straight into the event
  // when the event carries it.
  const bool need_prev = live && (request.prev_kv() || request.ignore_value() ||
                                  request.ignore_lease() || options_.events_with_prev_kv);
  mvccpb::KeyValue local_prev;
  mvccpb::KeyValue* prev =
      live && options_.events_with_prev_kv ? event.mutable_prev_kv() : &local_prev;
  if (need_prev) LatestForWriter(*h, prev);

  KeyValueFields fields;
  fields.key = request.key();
  fields.create_revision = live ? h->create_revision : txn.rev;
  fields.mod_revision = txn.rev;
  fields.version = live ? h->version + 1 : 1;
  fields.value = request.ignore_value() ? prev->value() : request.value();
  fields.lease = request.ignore_lease() ? prev->lease() : request.lease();

  mvccpb::KeyValue* kv = event.mutable_kv();
  kv->set_key(request.key());
  kv->set_create_revision(fields.create_revision);
  kv->set_mod_revision(fields.mod_revision);
  kv->set_version(fields.version);
  kv->set_value(fields.value.data(), fields.value.size());
  kv->set_lease(fields.lease);

  response->mutable_header()->set_revision(txn.rev);
  if (request.prev_kv() && live) *response->mutable_prev_kv() = *prev;
  WriteRecord(txn, h, /*tombstone=*/false, fields);
}

void MvccStore::ApplyDelete(RevisionWriter& txn, const DeleteRangeRequest& request,
                            DeleteRangeResponse* response) {
  // Every key live now, including writes earlier in this txn. Histories stay where they are
  // while tombstones are recorded (only compaction frees them).
  std::vector<const KeyHistory*> live;
  index_.VisitRange(KeyRange::FromRequest(request.key(), request.range_end()), INT64_MAX,
                    [&](const std::string&, const KeyHistory& h, const IndexEntry&) {
                      live.push_back(&h);
                      return true;
                    });
  const bool need_prev = request.prev_kv() || options_.events_with_prev_kv;
  for (const KeyHistory* h : live) {
    mvccpb::Event& event = txn.events.emplace_back();
    event.set_type(mvccpb::Event::DELETE);
    mvccpb::KeyValue local_prev;
    mvccpb::KeyValue* prev = options_.events_with_prev_kv ? event.mutable_prev_kv() : &local_prev;
    if (need_prev) LatestForWriter(*h, prev);
    if (request.prev_kv()) *response->add_prev_kvs() = *prev;
    mvccpb::KeyValue* tombstone = event.mutable_kv();
    tombstone->set_key(h->key);
    tombstone->set_mod_revision(txn.rev);
    KeyValueFields fields;
    fields.key = h->key;
    fields.mod_revision = txn.rev;
    WriteRecord(txn, h, /*tombstone=*/true, fields);
  }
  response->set_deleted(static_cast<int64_t>(live.size()));
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
