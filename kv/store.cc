// MvccStore: opening, start-up recovery, commit, accessors. Reads are in store_read.cc,
// writes in store_write.cc and store_txn.cc, compaction and hashing in store_compaction.cc.
#include "kv/store.h"

#include <optional>

#include <algorithm>
#include <utility>

#include "base/check.h"
#include "base/status_macros.h"
#include "kv/kv_codec.h"
#include "rocksdb/cache.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/table.h"

namespace keel::kv {
namespace {

absl::Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::InternalError(std::string(what) + ": " + s.ToString());
}

absl::StatusOr<std::optional<uint64_t>> ReadOptionalMeta(rocksdb::DB* db,
                                                         rocksdb::ColumnFamilyHandle* cf,
                                                         std::string_view name) {
  std::string value;
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), cf, rocksdb::Slice(name.data(), name.size()),
                              &value);
  if (s.IsNotFound()) return std::nullopt;
  KEEL_RETURN_IF_ERROR(FromRocks(s, "reading kv_meta"));
  uint64_t out = 0;
  if (!DecodeMetaInt(value, &out)) {
    return absl::DataLossError("kv_meta " + std::string(name) + " is not 8 bytes");
  }
  return out;
}

absl::StatusOr<uint64_t> ReadMeta(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                                  std::string_view name) {
  KEEL_ASSIGN_OR_RETURN(std::optional<uint64_t> value, ReadOptionalMeta(db, cf, name));
  return value.value_or(0);
}

}  // namespace

rocksdb::ColumnFamilyOptions MvccStore::ColumnFamilyOptions() {
  // One cache for every store in the process: the block cache only matters once the data
  // outgrows the memtables, and sharing it keeps test processes with many stores small.
  static std::shared_ptr<rocksdb::Cache> cache = rocksdb::NewLRUCache(64 << 20);
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  // Point reads of single revisions dominate; a bloom filter skips files without them.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocksdb::ColumnFamilyOptions cf;
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // Flushes and the first compactions run next to the apply thread on small machines:
  // leave the young levels uncompressed, compress where the data settles.
  cf.compression_per_level = {rocksdb::kNoCompression, rocksdb::kNoCompression,
                              rocksdb::kSnappyCompression};
  // 32 MiB memtables (RocksDB's default is 64): resident memory after a million puts,
  // without costing measurable put throughput.
  cf.write_buffer_size = 32 << 20;
  return cf;
}

std::vector<rocksdb::ColumnFamilyDescriptor> MvccStore::ColumnFamilyDescriptors() {
  return {rocksdb::ColumnFamilyDescriptor(kKvColumnFamily, ColumnFamilyOptions()),
          rocksdb::ColumnFamilyDescriptor(kKvMetaColumnFamily, ColumnFamilyOptions()),
          rocksdb::ColumnFamilyDescriptor(kLeaseColumnFamily, ColumnFamilyOptions())};
}

MvccStore::MvccStore(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* kv,
                     rocksdb::ColumnFamilyHandle* meta, rocksdb::ColumnFamilyHandle* lease,
                     MvccStoreOptions options)
    : db_(db), kv_cf_(kv), meta_cf_(meta), lease_cf_(lease), options_(std::move(options)) {}

MvccStore::~MvccStore() {
  // An open batch is dropped: it was never acknowledged, and its entries will be applied
  // again from the raft log after restart.
  owned_handles_.clear();
}

absl::StatusOr<std::unique_ptr<MvccStore>> MvccStore::Open(const std::string& dir,
                                                           MvccStoreOptions options) {
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {rocksdb::ColumnFamilyDescriptor(
      rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions())};
  for (auto& d : ColumnFamilyDescriptors()) families.push_back(d);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  KEEL_RETURN_IF_ERROR(
      FromRocks(rocksdb::DB::Open(db_options, dir, families, &handles, &raw), "opening " + dir));
  std::unique_ptr<rocksdb::DB> db(raw);
  std::unique_ptr<MvccStore> store(new MvccStore(db.get(), handles[1], handles[2], handles[3],
                                                 std::move(options)));
  for (auto* h : handles) store->owned_handles_.emplace_back(h);
  store->owned_db_ = std::move(db);
  KEEL_RETURN_IF_ERROR(store->Load());
  return store;
}

absl::StatusOr<std::unique_ptr<MvccStore>> MvccStore::Attach(
    rocksdb::DB* db, rocksdb::ColumnFamilyHandle* kv, rocksdb::ColumnFamilyHandle* kv_meta,
    rocksdb::ColumnFamilyHandle* lease, MvccStoreOptions options) {
  KEEL_CHECK(db != nullptr && kv != nullptr && kv_meta != nullptr && lease != nullptr);
  std::unique_ptr<MvccStore> store(new MvccStore(db, kv, kv_meta, lease, std::move(options)));
  KEEL_RETURN_IF_ERROR(store->Load());
  return store;
}

// Start-up: read the meta values and the lease table, replay the kv family into the key
// index in revision order (noting each key's newest lease), then finish a compaction a crash
// interrupted.
absl::Status MvccStore::Load() {
  KEEL_ASSIGN_OR_RETURN(uint64_t applied, ReadMeta(db_, meta_cf_, kMetaAppliedIndex));
  // Absent compaction records mean "never compacted" (compacted revision -1, as etcd's
  // compactMainRev), which is not the same as a compaction at revision 0.
  KEEL_ASSIGN_OR_RETURN(std::optional<uint64_t> scheduled_rec,
                        ReadOptionalMeta(db_, meta_cf_, kMetaScheduledCompaction));
  KEEL_ASSIGN_OR_RETURN(std::optional<uint64_t> finished_rec,
                        ReadOptionalMeta(db_, meta_cf_, kMetaFinishedCompaction));
  const uint64_t scheduled = scheduled_rec.value_or(0);
  const uint64_t finished = finished_rec.value_or(0);
  KEEL_RETURN_IF_ERROR(LoadLeases());

  uint64_t estimated_records = 0;
  if (db_->GetIntProperty(kv_cf_, "rocksdb.estimate-num-keys", &estimated_records)) {
    index_.Reserve(static_cast<size_t>(estimated_records));
  }
  int64_t max_main = 1;
  rocksdb::ReadOptions scan;
  scan.fill_cache = false;
  scan.readahead_size = 2 << 20;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(scan, kv_cf_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    Revision rev;
    rocksdb::Slice k = it->key();
    rocksdb::Slice v = it->value();
    ValueHeader header;
    if (!DecodeRevisionKey(std::string_view(k.data(), k.size()), &rev) ||
        !DecodeValueHeader(std::string_view(v.data(), v.size()), &header)) {
      return absl::DataLossError("malformed record in the kv column family");
    }
    index_.Restore(header.key, rev, header.tombstone, header.create_revision, header.version,
                   std::string_view(v.data() + 1, v.size() - 1), options_.value_cache_bytes);
    // Records come in revision order, so the last one of a key decides its lease.
    if (!header.tombstone && header.lease != 0) {
      key_lease_.insert_or_assign(std::string(header.key), header.lease);
    } else if (!key_lease_.empty()) {
      key_lease_.erase(absl::string_view(header.key.data(), header.key.size()));
    }
    max_main = std::max(max_main, rev.main);
  }
  KEEL_RETURN_IF_ERROR(FromRocks(it->status(), "scanning kv"));
  it.reset();
  for (const auto& [key, lease] : key_lease_) {
    auto l = leases_.find(lease);
    if (l == leases_.end()) {
      return absl::DataLossError("key attached to lease " + std::to_string(lease) +
                                 ", which is not in the lease table");
    }
    l->second.keys.insert(key);
  }

  compacted_rev_ = (scheduled_rec || finished_rec) ? static_cast<int64_t>(std::max(scheduled, finished))
                                                  : -1;
  current_rev_ = std::max(max_main, compacted_rev_);
  visible_rev_ = current_rev_;
  applied_index_ = applied;
  pending_applied_index_ = applied;
  if (scheduled > finished) {
    CompactionPlan plan = index_.PlanCompaction(static_cast<int64_t>(scheduled));
    index_.ApplyCompaction(plan);
    KEEL_RETURN_IF_ERROR(FinishCompaction(plan));
  }
  return absl::OkStatus();
}

absl::Status MvccStore::CommitPending() {
  if (pending_applied_index_ != applied_index_) {
    batch_.Put(meta_cf_, rocksdb::Slice(kMetaAppliedIndex.data(), kMetaAppliedIndex.size()),
               EncodeMetaInt(pending_applied_index_));
  }
  if (batch_.Count() > 0) {
    rocksdb::WriteOptions write_options;
    write_options.sync = options_.sync_writes;
    KEEL_RETURN_IF_ERROR(FromRocks(db_->Write(write_options, &batch_), "committing kv batch"));
    batch_.Clear();
  }
  pending_values_.clear();
  std::unique_lock lock(mu_);
  visible_rev_ = current_rev_;
  applied_index_ = pending_applied_index_;
  return absl::OkStatus();
}

void MvccStore::BeginBatch() {
  std::lock_guard w(write_mu_);
  KEEL_CHECK(!in_batch_) << "BeginBatch inside a batch";
  in_batch_ = true;
}

absl::Status MvccStore::CommitBatch() {
  std::lock_guard w(write_mu_);
  KEEL_CHECK(in_batch_) << "CommitBatch without BeginBatch";
  in_batch_ = false;
  return CommitPending();
}

absl::Status MvccStore::MarkApplied(uint64_t applied_index) {
  std::lock_guard w(write_mu_);
  KEEL_CHECK_GE(applied_index, pending_applied_index_) << "applied index went backwards";
  pending_applied_index_ = applied_index;
  return in_batch_ ? absl::OkStatus() : CommitPending();
}

int64_t MvccStore::CurrentRevision() const {
  std::shared_lock lock(mu_);
  return visible_rev_;
}

int64_t MvccStore::CompactedRevision() const {
  std::shared_lock lock(mu_);
  return compacted_rev_;
}

uint64_t MvccStore::AppliedIndex() const {
  std::shared_lock lock(mu_);
  return applied_index_;
}

int64_t MvccStore::DbSizeBytes() const {
  uint64_t total = 0;
  for (auto* cf : {kv_cf_, meta_cf_, lease_cf_}) {
    uint64_t v = 0;
    if (db_->GetIntProperty(cf, "rocksdb.live-sst-files-size", &v)) total += v;
    if (db_->GetIntProperty(cf, "rocksdb.cur-size-all-mem-tables", &v)) total += v;
  }
  return static_cast<int64_t>(total);
}

int64_t MvccStore::DbSizeInUseBytes() const {
  uint64_t total = 0;
  for (auto* cf : {kv_cf_, meta_cf_, lease_cf_}) {
    uint64_t v = 0;
    if (db_->GetIntProperty(cf, "rocksdb.estimate-live-data-size", &v)) total += v;
    if (db_->GetIntProperty(cf, "rocksdb.cur-size-all-mem-tables", &v)) total += v;
  }
  return static_cast<int64_t>(total);
}

void MvccStore::CheckInvariants() const {
  std::lock_guard w(write_mu_);
  std::shared_lock lock(mu_);
  index_.CheckInvariants();
  KEEL_CHECK_LE(compacted_rev_, visible_rev_);
  KEEL_CHECK_LE(visible_rev_, current_rev_);
  KEEL_CHECK(in_batch_ || visible_rev_ == current_rev_) << "unpublished writes outside a batch";
  KEEL_CHECK_LE(applied_index_, pending_applied_index_);
  KEEL_CHECK(in_batch_ || batch_.Count() == 0) << "uncommitted writes outside a batch";
  size_t attached = 0;
  for (const auto& [id, lease] : leases_) {
    for (const std::string& key : lease.keys) {
      auto it = key_lease_.find(key);
      KEEL_CHECK(it != key_lease_.end() && it->second == id) << "lease attachment out of step";
      const KeyHistory* h = index_.Find(key);
      KEEL_CHECK(h != nullptr && h->live()) << "a lease holds a deleted key";
    }
    attached += lease.keys.size();
  }
  KEEL_CHECK_EQ(attached, key_lease_.size()) << "a key is attached to a missing lease";
}

}  // namespace keel::kv
