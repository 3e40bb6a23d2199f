// MvccStore::Compact (logical then physical) and HashKV.
#include <string>

#include "base/check.h"
#include "base/etcd_errors.h"
#include "base/status_macros.h"
#include "base/crc32c.h"
#include "kv/kv_codec.h"
#include "kv/store.h"

namespace keel::kv {
namespace {

// Deletions per RocksDB write while reclaiming space, so one compaction of millions of
// revisions does not build one enormous batch.
constexpr size_t kDeletesPerBatch = 10000;

}  // namespace

// Order matters for crash safety: (1) persist the scheduled compaction with the applied
// index, (2) cut the key index and raise the compacted revision (reads below it now fail),
// (3) delete the dropped revisions in chunks, (4) persist that the compaction finished. A
// crash after (1) redoes (2)-(4) at start-up from the replayed index.
absl::StatusOr<etcdserverpb::CompactionResponse> MvccStore::Compact(int64_t revision,
                                                                    uint64_t applied_index) {
  std::lock_guard w(write_mu_);
  KEEL_RETURN_IF_ERROR(CommitPending());
  if (revision <= compacted_rev_) return ErrCompacted();
  if (revision > current_rev_) return ErrFutureRev();
  CheckAppliedIndex(applied_index);

  // Only the writer mutates the index, so it can plan without the lock.
  CompactionPlan plan = index_.PlanCompaction(revision);
  std::lock_guard physical(physical_mu_);
  rocksdb::WriteBatch scheduled;
  scheduled.Put(meta_cf_,
                rocksdb::Slice(kMetaScheduledCompaction.data(), kMetaScheduledCompaction.size()),
                EncodeMetaInt(static_cast<uint64_t>(revision)));
  scheduled.Put(meta_cf_, rocksdb::Slice(kMetaAppliedIndex.data(), kMetaAppliedIndex.size()),
                EncodeMetaInt(applied_index));
  rocksdb::WriteOptions write_options;
  write_options.sync = options_.sync_writes;
  rocksdb::Status s = db_->Write(write_options, &scheduled);
  KEEL_CHECK(s.ok()) << "persisting a scheduled compaction: " << s.ToString();
  pending_applied_index_ = applied_index;
  {
    std::unique_lock lock(mu_);
    index_.ApplyCompaction(plan);
    compacted_rev_ = revision;
    applied_index_ = applied_index;
  }
  absl::Status finished = FinishCompaction(plan);
  KEEL_CHECK(finished.ok()) << finished;

  etcdserverpb::CompactionResponse response;
  response.mutable_header()->set_revision(current_rev_);
  return response;
}

absl::Status MvccStore::FinishCompaction(const CompactionPlan& plan) {
  rocksdb::WriteOptions write_options;
  write_options.sync = options_.sync_writes;
  rocksdb::WriteBatch batch;
  char key[kRevisionKeyBytes];
  for (size_t i = 0; i < plan.removed.size(); ++i) {
    EncodeRevisionKey(plan.removed[i], key);
    batch.Delete(kv_cf_, rocksdb::Slice(key, kRevisionKeyBytes));
    if (batch.Count() >= static_cast<int>(kDeletesPerBatch) || i + 1 == plan.removed.size()) {
      rocksdb::Status s = db_->Write(write_options, &batch);
      if (!s.ok()) return absl::InternalError("compaction delete: " + s.ToString());
      batch.Clear();
    }
  }
  batch.Put(meta_cf_,
            rocksdb::Slice(kMetaFinishedCompaction.data(), kMetaFinishedCompaction.size()),
            EncodeMetaInt(static_cast<uint64_t>(plan.revision)));
  rocksdb::Status s = db_->Write(write_options, &batch);
  if (!s.ok()) return absl::InternalError("compaction finish: " + s.ToString());
  return absl::OkStatus();
}

absl::StatusOr<HashKVResult> MvccStore::HashKV(int64_t revision) const {
  HashKVResult result;
  const rocksdb::Snapshot* snapshot = nullptr;
  {
    std::lock_guard physical(physical_mu_);
    std::shared_lock lock(mu_);
    result.compact_revision = compacted_rev_;
    result.current_revision = visible_rev_;
    if (revision > 0 && revision <= compacted_rev_) return ErrCompacted();
    if (revision > visible_rev_) return ErrFutureRev();
    snapshot = db_->GetSnapshot();
  }
  result.hash_revision = revision > 0 ? revision : result.current_revision;

  rocksdb::ReadOptions read;
  read.snapshot = snapshot;
  read.fill_cache = false;
  std::string upper = EncodeRevisionKey(Revision{result.hash_revision + 1, 0});
  rocksdb::Slice upper_slice(upper);
  read.iterate_upper_bound = &upper_slice;
  uint32_t crc = keel::Crc32cExtend(0, "kv");
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, kv_cf_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    crc = keel::Crc32cExtend(crc, std::string_view(it->key().data(), it->key().size()));
    crc = keel::Crc32cExtend(crc, std::string_view(it->value().data(), it->value().size()));
  }
  rocksdb::Status s = it->status();
  it.reset();
  db_->ReleaseSnapshot(snapshot);
  if (!s.ok()) return absl::InternalError("hashing kv: " + s.ToString());
  result.hash = crc;
  return result;
}

}  // namespace keel::kv
