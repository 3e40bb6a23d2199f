// MvccStore reads: Range with every RangeRequest option, for readers and for ranges inside a
// txn on the writer thread.
#include <algorithm>
#include <functional>

#include "base/check.h"
#include "base/etcd_errors.h"
#include "base/status_macros.h"
#include "kv/kv_codec.h"
#include "kv/store.h"
#include "kv/store_internal.h"

namespace keel::kv {
namespace {

using etcdserverpb::RangeRequest;
using etcdserverpb::RangeResponse;

// Attempts that read values without the index lock before keeping it for the whole read.
constexpr int kOptimisticAttempts = 3;

// A private signal from RangeLocked to Range: a revision vanished under a concurrent
// compaction; resolve again.
absl::Status RetryRead() { return absl::AbortedError("keel internal: retry read"); }
bool IsRetryRead(const absl::Status& s) {
  return s.code() == absl::StatusCode::kAborted && s.message() == "keel internal: retry read";
}

int CompareBy(RangeRequest::SortTarget target, const mvccpb::KeyValue& a,
              const mvccpb::KeyValue& b) {
  auto cmp = [](auto x, auto y) { return x < y ? -1 : (y < x ? 1 : 0); };
  switch (target) {
    case RangeRequest::KEY:
      return a.key().compare(b.key());
    case RangeRequest::VERSION:
      return cmp(a.version(), b.version());
    case RangeRequest::CREATE:
      return cmp(a.create_revision(), b.create_revision());
    case RangeRequest::MOD:
      return cmp(a.mod_revision(), b.mod_revision());
    case RangeRequest::VALUE:
      return a.value().compare(b.value());
    default:
      return 0;
  }
}

// Filters, sorting and truncation after the values are read, in etcd's order
// (applierV3backend.Range): prune by min/max revisions, sort, then cut to `limit`.
void ShapeResponse(const RangeRequest& request, RangeResponse* response) {
  auto* kvs = response->mutable_kvs();
  auto drop = [&](const mvccpb::KeyValue* kv) {
    return (request.max_mod_revision() != 0 && kv->mod_revision() > request.max_mod_revision()) ||
           (request.min_mod_revision() != 0 && kv->mod_revision() < request.min_mod_revision()) ||
           (request.max_create_revision() != 0 &&
            kv->create_revision() > request.max_create_revision()) ||
           (request.min_create_revision() != 0 &&
            kv->create_revision() < request.min_create_revision());
  };
  auto kept_end = std::stable_partition(kvs->pointer_begin(), kvs->pointer_end(),
                                        [&](const mvccpb::KeyValue* kv) { return !drop(kv); });
  const int kept = static_cast<int>(kept_end - kvs->pointer_begin());
  kvs->DeleteSubrange(kept, kvs->size() - kept);

  // The store yields key order; etcd sorts ascending by default only for non-key targets.
  RangeRequest::SortOrder order = request.sort_order();
  if (request.sort_target() != RangeRequest::KEY && order == RangeRequest::NONE) {
    order = RangeRequest::ASCEND;
  }
  if (order != RangeRequest::NONE) {
    // Stable, so equal targets stay in key order (Go's sort.Sort leaves ties unspecified).
    const bool descend = order == RangeRequest::DESCEND;
    std::stable_sort(kvs->pointer_begin(), kvs->pointer_end(),
                     [&](const mvccpb::KeyValue* a, const mvccpb::KeyValue* b) {
                       int c = CompareBy(request.sort_target(), *a, *b);
                       return descend ? c > 0 : c < 0;
                     });
  }
  if (request.limit() > 0 && kvs->size() > request.limit()) {
    kvs->DeleteSubrange(static_cast<int>(request.limit()),
                        kvs->size() - static_cast<int>(request.limit()));
    response->set_more(true);
  }
  if (request.keys_only()) {
    for (auto& kv : *kvs) kv.clear_value();
  }
}

}  // namespace

bool MvccStore::ReadCommitted(Revision rev, mvccpb::KeyValue* kv, bool* tombstone) const {
  char key[kRevisionKeyBytes];
  EncodeRevisionKey(rev, key);
  rocksdb::PinnableSlice value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), kv_cf_,
                               rocksdb::Slice(key, kRevisionKeyBytes), &value);
  if (s.IsNotFound()) return false;
  KEEL_CHECK(s.ok()) << "reading kv: " << s.ToString();
  KEEL_CHECK(DecodeValue(std::string_view(value.data(), value.size()), tombstone, kv))
      << "malformed kv record at revision " << rev.main << "." << rev.sub;
  return true;
}

bool MvccStore::ReadForWriter(Revision rev, mvccpb::KeyValue* kv) const {
  if (!pending_values_.empty()) {
    auto it = pending_values_.find(rev);
    if (it != pending_values_.end()) {
      KEEL_CHECK(kv->ParseFromString(it->second)) << "malformed pending value";
      return true;
    }
  }
  // visible_rev_ is the committed revision (only this thread changes it): anything newer is
  // in the open batch and must have been found above (pending_values_'s invariant).
  KEEL_CHECK_LE(rev.main, visible_rev_) << "a put of the open batch is not readable";
  bool tombstone = false;
  return ReadCommitted(rev, kv, &tombstone);
}

absl::StatusOr<RangeResponse> MvccStore::Range(const RangeRequest& request) const {
  KEEL_RETURN_IF_ERROR(CheckRangeRequest(request));
  ValueReader reader([this](Revision rev, mvccpb::KeyValue* kv) {
    bool tombstone = false;
    return ReadCommitted(rev, kv, &tombstone);
  });
  for (int attempt = 0;; ++attempt) {
    std::shared_lock lock(mu_);
    const bool keep_lock = attempt >= kOptimisticAttempts;
    absl::StatusOr<RangeResponse> result =
        RangeLocked(request, visible_rev_, keep_lock ? nullptr : &lock, reader);
    if (!result.ok() && IsRetryRead(result.status())) {
      KEEL_CHECK(!keep_lock) << "a revision in the index is missing from the kv family";
      continue;
    }
    return result;
  }
}

// The caller holds mu_ shared (and passes the lock, which is released once the revisions are
// resolved) or is the writer (lock == nullptr: the writer may read the index unlocked).
absl::StatusOr<RangeResponse> MvccStore::RangeLocked(const RangeRequest& request,
                                                     int64_t current_rev,
                                                     std::shared_lock<std::shared_mutex>* lock,
                                                     const ValueReader& reader) const {
  int64_t rev = request.revision();
  if (rev > current_rev) return ErrFutureRev();
  if (rev <= 0) rev = current_rev;
  if (rev < compacted_rev_) return ErrCompacted();

  // etcd reads limit+1 keys to learn `more`, or everything when it must filter or sort first.
  const bool read_all = request.sort_order() != RangeRequest::NONE ||
                        request.min_mod_revision() != 0 || request.max_mod_revision() != 0 ||
                        request.min_create_revision() != 0 ||
                        request.max_create_revision() != 0;
  const int64_t fetch_limit = (read_all || request.limit() <= 0) ? 0 : request.limit() + 1;

  RangeResponse response;
  response.mutable_header()->set_revision(current_rev);
  auto* kvs = response.mutable_kvs();
  // Newest versions come from the index's cache while the lock is held; the rest are read
  // from RocksDB afterwards into their places.
  struct Missing {
    int position;
    Revision revision;
  };
  std::vector<Missing> missing;
  int64_t count = 0;
  index_.VisitRange(KeyRange::FromRequest(request.key(), request.range_end()), rev,
                    [&](const std::string&, const KeyHistory& h, const IndexEntry& e) {
                      ++count;
                      if (request.count_only() ||
                          (fetch_limit != 0 && kvs->size() >= fetch_limit)) {
                        return true;
                      }
                      mvccpb::KeyValue* kv = kvs->Add();
                      if (&e == &h.entries.back() && !h.latest.empty()) {
                        KEEL_CHECK(kv->ParseFromString(h.latest.str())) << "malformed cached value";
                      } else {
                        missing.push_back({kvs->size() - 1, e.revision()});
                      }
                      return true;
                    });
  if (lock != nullptr) lock->unlock();
  response.set_count(count);
  for (const Missing& m : missing) {
    if (!reader.Read(m.revision, kvs->Mutable(m.position))) return RetryRead();
  }
  ShapeResponse(request, &response);
  return response;
}

}  // namespace keel::kv
