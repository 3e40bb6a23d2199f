#include "raft/storage/rocksdb_log_store.h"

#include <algorithm>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/big_endian.h"
#include "base/check.h"
#include "base/status_macros.h"
#include "raft/codec.h"
#include "rocksdb/iterator.h"
#include "rocksdb/options.h"
#include "rocksdb/write_batch.h"

namespace keel::raft {
namespace {

constexpr char kFormatVersionKey[] = "format_version";
constexpr char kFormatVersion[] = "1";
constexpr char kHardStateKey[] = "hard_state";
constexpr char kConfStateKey[] = "conf_state";
constexpr char kSnapshotKey[] = "snapshot";
constexpr char kLogStartKey[] = "log_start";
constexpr size_t kIndexBytes = 8;

// What a write batch holds besides the entries (its header, a hard state, meta records), and
// per entry besides the payload (record type, column family, lengths, key, entry header).
constexpr size_t kBatchOverheadBytes = 256;
constexpr size_t kEntryOverheadBytes = 16 + kIndexBytes + kMaxEntryHeaderBytes;

std::string IndexKey(uint64_t index) { return BigEndian64(index); }

absl::StatusOr<uint64_t> DecodeIndexKey(const rocksdb::Slice& key) {
  if (key.size() != kIndexBytes) {
    return absl::DataLossError(absl::StrCat("raft storage: log key of ", key.size(), " bytes"));
  }
  return GetBigEndian64(key.data());
}

std::string EncodeLogStart(uint64_t index, uint64_t term) {
  std::string out;
  out.reserve(2 * kIndexBytes);
  AppendBigEndian64(index, &out);
  AppendBigEndian64(term, &out);
  return out;
}

// rocksdb::Status never leaves raft/storage: canonical codes, the RocksDB text kept.
absl::Status FromRocks(const rocksdb::Status& s, const char* what) {
  if (s.ok()) return absl::OkStatus();
  std::string message = absl::StrCat("raft storage: ", what, ": ", s.ToString());
  switch (s.code()) {
    case rocksdb::Status::kNotFound: return absl::NotFoundError(message);
    case rocksdb::Status::kCorruption: return absl::DataLossError(message);
    case rocksdb::Status::kNotSupported: return absl::UnimplementedError(message);
    case rocksdb::Status::kInvalidArgument: return absl::InvalidArgumentError(message);
    case rocksdb::Status::kAborted: return absl::AbortedError(message);
    case rocksdb::Status::kBusy:
    case rocksdb::Status::kTimedOut:
    case rocksdb::Status::kTryAgain:
    case rocksdb::Status::kIncomplete:
    case rocksdb::Status::kShutdownInProgress: return absl::UnavailableError(message);
    default: return absl::InternalError(message);
  }
}

// Reads a meta value; *found is false (and OK returned) when the key is absent.
absl::Status GetMeta(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, const char* key,
                     std::string* value, bool* found) {
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), cf, key, value);
  *found = s.ok();
  if (s.IsNotFound()) return absl::OkStatus();
  return FromRocks(s, key);
}

}  // namespace

std::vector<rocksdb::ColumnFamilyDescriptor> RocksDbLogStore::ColumnFamilies() {
  rocksdb::ColumnFamilyOptions log_options;
  // Entries are written once in index order and read back mostly by recent index (a slow
  // follower's catch-up); meta is a handful of keys. A small memtable: the log is a
  // write-mostly queue, and RocksDB's default of two 64 MiB memtables was a tenth of a
  // member's resident memory after a million puts.
  log_options.write_buffer_size = 16 << 20;
  return {rocksdb::ColumnFamilyDescriptor(kLogColumnFamily, log_options),
          rocksdb::ColumnFamilyDescriptor(kMetaColumnFamily, rocksdb::ColumnFamilyOptions())};
}

absl::StatusOr<std::unique_ptr<RocksDbLogStore>> RocksDbLogStore::Open(
    const std::string& dir, const RocksDbLogStoreOptions& options) {
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {rocksdb::ColumnFamilyDescriptor(
      rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions())};
  for (auto& d : ColumnFamilies()) descriptors.push_back(std::move(d));
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw_db = nullptr;
  KEEL_RETURN_IF_ERROR(
      FromRocks(rocksdb::DB::Open(db_options, dir, descriptors, &handles, &raw_db), "open"));
  std::unique_ptr<rocksdb::DB> db(raw_db);
  KEEL_CHECK_EQ(handles.size(), descriptors.size());
  rocksdb::ColumnFamilyHandle* log_cf = handles[1];
  rocksdb::ColumnFamilyHandle* meta_cf = handles[2];
  std::unique_ptr<RocksDbLogStore> store(new RocksDbLogStore(
      std::move(db), std::move(handles), raw_db, log_cf, meta_cf, options));
  KEEL_RETURN_IF_ERROR(store->Load());
  return store;
}

absl::StatusOr<std::unique_ptr<RocksDbLogStore>> RocksDbLogStore::Attach(
    rocksdb::DB* db, rocksdb::ColumnFamilyHandle* log_cf, rocksdb::ColumnFamilyHandle* meta_cf,
    const RocksDbLogStoreOptions& options) {
  if (db == nullptr || log_cf == nullptr || meta_cf == nullptr || log_cf == meta_cf) {
    return absl::InvalidArgumentError("raft storage: Attach needs a DB and two column families");
  }
  std::unique_ptr<RocksDbLogStore> store(
      new RocksDbLogStore(nullptr, {}, db, log_cf, meta_cf, options));
  KEEL_RETURN_IF_ERROR(store->Load());
  return store;
}

RocksDbLogStore::RocksDbLogStore(std::unique_ptr<rocksdb::DB> owned_db,
                                 std::vector<rocksdb::ColumnFamilyHandle*> owned_handles,
                                 rocksdb::DB* db, rocksdb::ColumnFamilyHandle* log_cf,
                                 rocksdb::ColumnFamilyHandle* meta_cf,
                                 const RocksDbLogStoreOptions& options)
    : owned_db_(std::move(owned_db)),
      owned_handles_(std::move(owned_handles)),
      db_(db),
      log_cf_(log_cf),
      meta_cf_(meta_cf),
      tail_cache_limit_bytes_(options.tail_cache_bytes) {}

RocksDbLogStore::~RocksDbLogStore() {
  for (rocksdb::ColumnFamilyHandle* h : owned_handles_) {
    rocksdb::Status s = owned_db_->DestroyColumnFamilyHandle(h);
    KEEL_CHECK(s.ok()) << s.ToString();
  }
  // owned_db_ (if any) closes the DB after its handles are gone.
}

absl::Status RocksDbLogStore::Load() {
  std::string value;
  bool found = false;
  KEEL_RETURN_IF_ERROR(GetMeta(db_, meta_cf_, kFormatVersionKey, &value, &found));
  if (found && value != kFormatVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("raft storage: unknown format version \"", value, "\""));
  }
  if (!found) {
    rocksdb::WriteBatch batch;
    batch.Put(meta_cf_, kFormatVersionKey, kFormatVersion);
    KEEL_RETURN_IF_ERROR(Write(&batch, /*sync=*/true));
  }

  KEEL_RETURN_IF_ERROR(GetMeta(db_, meta_cf_, kHardStateKey, &value, &found));
  if (found) {
    KEEL_ASSIGN_OR_RETURN(hard_state_, DecodeHardState(value));
  }
  KEEL_RETURN_IF_ERROR(GetMeta(db_, meta_cf_, kConfStateKey, &value, &found));
  if (found) {
    KEEL_ASSIGN_OR_RETURN(conf_state_, DecodeConfState(value));
  }
  KEEL_RETURN_IF_ERROR(GetMeta(db_, meta_cf_, kSnapshotKey, &value, &found));
  if (found) {
    KEEL_ASSIGN_OR_RETURN(snapshot_, DecodeSnapshot(value));
  }
  KEEL_RETURN_IF_ERROR(GetMeta(db_, meta_cf_, kLogStartKey, &value, &found));
  if (found) {
    if (value.size() != 2 * kIndexBytes) return absl::DataLossError("raft storage: bad log_start");
    dummy_index_ = GetBigEndian64(value.data());
    dummy_term_ = GetBigEndian64(value.data() + kIndexBytes);
  }

  // The log's bounds: its first key must follow the dummy, its last key is LastIndex().
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), log_cf_));
  it->SeekToFirst();
  last_index_ = dummy_index_;
  if (it->Valid()) {
    KEEL_ASSIGN_OR_RETURN(uint64_t first, DecodeIndexKey(it->key()));
    it->SeekToLast();
    KEEL_CHECK(it->Valid());
    KEEL_ASSIGN_OR_RETURN(uint64_t last, DecodeIndexKey(it->key()));
    if (first != dummy_index_ + 1 || last < first) {
      return absl::DataLossError(absl::StrCat("raft storage: log holds [", first, ", ", last,
                                              "] after compacted index ", dummy_index_));
    }
    last_index_ = last;
  }
  KEEL_RETURN_IF_ERROR(FromRocks(it->status(), "scan log"));
  KEEL_RETURN_IF_ERROR(LoadTail());
  CheckInvariants();
  return absl::OkStatus();
}

absl::Status RocksDbLogStore::LoadTail() {
  // Walk back from the end until the cache budget is spent, so recent reads after a restart
  // are memory reads too.
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), log_cf_));
  uint64_t expected = last_index_;
  for (it->SeekToLast(); it->Valid() && expected > dummy_index_; it->Prev(), --expected) {
    KEEL_ASSIGN_OR_RETURN(uint64_t index, DecodeIndexKey(it->key()));
    KEEL_ASSIGN_OR_RETURN(Entry e, DecodeEntry(it->value().ToStringView()));
    if (index != expected || e.index != expected) {
      return absl::DataLossError(absl::StrCat("raft storage: expected entry ", expected,
                                              ", found key ", index, " entry ", e.index));
    }
    if (tail_bytes_ + e.SizeBytes() > tail_cache_limit_bytes_) break;
    tail_bytes_ += e.SizeBytes();
    tail_.push_front(std::move(e));
  }
  return FromRocks(it->status(), "load log tail");
}

absl::StatusOr<InitialState> RocksDbLogStore::GetInitialState() const {
  return InitialState{hard_state_, conf_state_};
}

absl::StatusOr<std::vector<Entry>> RocksDbLogStore::Entries(uint64_t lo, uint64_t hi,
                                                            uint64_t max_size_bytes) const {
  if (lo > hi) {
    return absl::InvalidArgumentError(absl::StrCat("raft storage: Entries(", lo, ", ", hi, ")"));
  }
  if (lo <= dummy_index_) return ErrCompacted();
  if (hi > last_index_ + 1) return ErrUnavailable();
  std::vector<Entry> out;
  uint64_t size_bytes = 0;
  const uint64_t tail_start = tail_.empty() ? last_index_ + 1 : tail_.front().index;
  if (lo < tail_start) {
    const uint64_t db_hi = std::min(hi, tail_start);
    KEEL_RETURN_IF_ERROR(ReadFromDb(lo, db_hi, max_size_bytes, &size_bytes, &out));
    if (out.size() < db_hi - lo) return out;  // the size limit stopped the read
  }
  for (uint64_t i = std::max(lo, tail_start); i < hi; ++i) {
    const Entry& e = tail_[i - tail_start];
    size_bytes += e.SizeBytes();
    if (!out.empty() && size_bytes > max_size_bytes) break;
    out.push_back(e);
  }
  return out;
}

absl::Status RocksDbLogStore::ReadFromDb(uint64_t lo, uint64_t hi, uint64_t max_size_bytes,
                                         uint64_t* size_bytes, std::vector<Entry>* out) const {
  const std::string upper = IndexKey(hi);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions read_options;
  read_options.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, log_cf_));
  uint64_t expected = lo;
  for (it->Seek(IndexKey(lo)); it->Valid(); it->Next(), ++expected) {
    KEEL_ASSIGN_OR_RETURN(uint64_t index, DecodeIndexKey(it->key()));
    if (index != expected) {
      return absl::DataLossError(absl::StrCat("raft storage: entry ", expected, " missing"));
    }
    KEEL_ASSIGN_OR_RETURN(Entry e, DecodeEntry(it->value().ToStringView()));
    if (e.index != index) {
      return absl::DataLossError(absl::StrCat("raft storage: key ", index, " holds entry ", e.index));
    }
    *size_bytes += e.SizeBytes();
    if (!out->empty() && *size_bytes > max_size_bytes) return absl::OkStatus();
    out->push_back(std::move(e));
  }
  KEEL_RETURN_IF_ERROR(FromRocks(it->status(), "read log"));
  if (expected != hi) {
    return absl::DataLossError(absl::StrCat("raft storage: entry ", expected, " missing"));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> RocksDbLogStore::Term(uint64_t index) const {
  if (index < dummy_index_) return ErrCompacted();
  if (index > last_index_) return ErrUnavailable();
  if (index == dummy_index_) return dummy_term_;
  if (!tail_.empty() && index >= tail_.front().index) return tail_[index - tail_.front().index].term;
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), log_cf_, IndexKey(index), &value);
  if (s.IsNotFound()) {
    return absl::DataLossError(absl::StrCat("raft storage: entry ", index, " missing"));
  }
  KEEL_RETURN_IF_ERROR(FromRocks(s, "read term"));
  KEEL_ASSIGN_OR_RETURN(Entry e, DecodeEntry(value));
  return e.term;
}

absl::Status RocksDbLogStore::Save(const HardState* hard_state, const std::vector<Entry>& entries,
                                   const Snapshot* snapshot, bool sync) {
  for (size_t i = 1; i < entries.size(); ++i) {
    if (entries[i].index != entries[i - 1].index + 1) {
      return absl::InvalidArgumentError(absl::StrCat("raft storage: entries not contiguous at ",
                                                     entries[i - 1].index));
    }
  }
  const bool apply_snapshot = snapshot != nullptr && !snapshot->IsEmpty();
  if (apply_snapshot && snapshot->metadata.index <= snapshot_.metadata.index) {
    return ErrSnapOutOfDate();
  }
  // The log as the entries find it: after the snapshot, if there is one.
  const uint64_t base_dummy = apply_snapshot ? snapshot->metadata.index : dummy_index_;
  const uint64_t base_last = apply_snapshot ? snapshot->metadata.index : last_index_;
  size_t skip = 0;  // entries at or below the dummy are compacted already
  if (!entries.empty() && entries.front().index <= base_dummy) {
    skip = static_cast<size_t>(std::min<uint64_t>(base_dummy + 1 - entries.front().index,
                                                  entries.size()));
  }
  const bool append = skip < entries.size();
  if (append && entries[skip].index > base_last + 1) {
    return absl::InvalidArgumentError(absl::StrCat("raft storage: entry ", entries[skip].index,
                                                   " leaves a gap after ", base_last));
  }

  // Sized once for the entries (each: key, encoded entry and RocksDB's record framing), so
  // a large append does not grow the batch's buffer step by step.
  size_t reserve_bytes = kBatchOverheadBytes;
  for (size_t i = skip; i < entries.size(); ++i) {
    reserve_bytes += kEntryOverheadBytes + entries[i].data.size();
  }
  rocksdb::WriteBatch batch(reserve_bytes);
  if (apply_snapshot) {
    const SnapshotMetadata& meta = snapshot->metadata;
    if (last_index_ > dummy_index_) {
      batch.DeleteRange(log_cf_, IndexKey(dummy_index_ + 1), IndexKey(last_index_ + 1));
    }
    batch.Put(meta_cf_, kSnapshotKey, EncodeSnapshot(*snapshot));
    batch.Put(meta_cf_, kConfStateKey, EncodeConfState(meta.conf_state));
    batch.Put(meta_cf_, kLogStartKey, EncodeLogStart(meta.index, meta.term));
  }
  if (append) {
    for (size_t i = skip; i < entries.size(); ++i) {
      // EncodeEntry's bytes in two pieces (header, payload): the batch copies them once, with
      // no per-entry message or string.
      char key[kIndexBytes];
      PutBigEndian64(entries[i].index, key);
      char header[kMaxEntryHeaderBytes];
      const size_t header_bytes = EncodeEntryHeader(entries[i], header);
      const rocksdb::Slice key_part(key, kIndexBytes);
      const std::string_view data = entries[i].data.view();
      const rocksdb::Slice value_parts[2] = {rocksdb::Slice(header, header_bytes),
                                             rocksdb::Slice(data.data(), data.size())};
      KEEL_RETURN_IF_ERROR(FromRocks(batch.Put(log_cf_, rocksdb::SliceParts(&key_part, 1),
                                               rocksdb::SliceParts(value_parts, 2)),
                                     "batch entry"));
    }
    // The conflicting suffix: whatever the new entries do not overwrite.
    const uint64_t new_last = entries.back().index;
    if (!apply_snapshot && last_index_ > new_last) {
      batch.DeleteRange(log_cf_, IndexKey(new_last + 1), IndexKey(last_index_ + 1));
    }
  }
  if (hard_state != nullptr) batch.Put(meta_cf_, kHardStateKey, EncodeHardState(*hard_state));
  if (batch.Count() == 0 && !sync) return absl::OkStatus();
  KEEL_RETURN_IF_ERROR(Write(&batch, sync));

  // The batch is on disk: bring the mirrors along.
  if (apply_snapshot) {
    snapshot_ = *snapshot;
    conf_state_ = snapshot->metadata.conf_state;
    dummy_index_ = snapshot->metadata.index;
    dummy_term_ = snapshot->metadata.term;
    last_index_ = dummy_index_;
    tail_.clear();
    tail_bytes_ = 0;
  }
  if (append) {
    AppendToTail(entries, skip);
    last_index_ = entries.back().index;
  }
  if (hard_state != nullptr) hard_state_ = *hard_state;
  CheckInvariants();
  return absl::OkStatus();
}

absl::Status RocksDbLogStore::SetConfState(const ConfState& cs) {
  rocksdb::WriteBatch batch;
  batch.Put(meta_cf_, kConfStateKey, EncodeConfState(cs));
  KEEL_RETURN_IF_ERROR(Write(&batch, /*sync=*/true));
  conf_state_ = cs;
  return absl::OkStatus();
}

absl::StatusOr<Snapshot> RocksDbLogStore::CreateSnapshot(uint64_t index, const ConfState* cs,
                                                         Bytes data) {
  if (index <= snapshot_.metadata.index) return ErrSnapOutOfDate();
  KEEL_ASSIGN_OR_RETURN(uint64_t term, Term(index));
  Snapshot snapshot;
  snapshot.data = std::move(data);
  snapshot.metadata.index = index;
  snapshot.metadata.term = term;
  snapshot.metadata.conf_state = cs != nullptr ? *cs : conf_state_;
  rocksdb::WriteBatch batch;
  batch.Put(meta_cf_, kSnapshotKey, EncodeSnapshot(snapshot));
  batch.Put(meta_cf_, kConfStateKey, EncodeConfState(snapshot.metadata.conf_state));
  KEEL_RETURN_IF_ERROR(Write(&batch, /*sync=*/true));
  snapshot_ = snapshot;
  conf_state_ = snapshot.metadata.conf_state;
  return snapshot;
}

absl::Status RocksDbLogStore::Compact(uint64_t compact_index) {
  if (compact_index <= dummy_index_) return ErrCompacted();
  if (compact_index > last_index_) return ErrUnavailable();
  KEEL_ASSIGN_OR_RETURN(uint64_t term, Term(compact_index));
  rocksdb::WriteBatch batch;
  // One range tombstone, whatever the number of entries dropped.
  batch.DeleteRange(log_cf_, IndexKey(dummy_index_ + 1), IndexKey(compact_index + 1));
  batch.Put(meta_cf_, kLogStartKey, EncodeLogStart(compact_index, term));
  KEEL_RETURN_IF_ERROR(Write(&batch, /*sync=*/true));
  dummy_index_ = compact_index;
  dummy_term_ = term;
  while (!tail_.empty() && tail_.front().index <= compact_index) {
    tail_bytes_ -= tail_.front().SizeBytes();
    tail_.pop_front();
  }
  CheckInvariants();
  return absl::OkStatus();
}

absl::Status RocksDbLogStore::Write(rocksdb::WriteBatch* batch, bool sync) {
  rocksdb::WriteOptions write_options;
  write_options.sync = sync;
  return FromRocks(db_->Write(write_options, batch), "write");
}

void RocksDbLogStore::AppendToTail(const std::vector<Entry>& entries, size_t skip) {
  DropTailFrom(entries[skip].index);
  if (!tail_.empty()) KEEL_CHECK_EQ(tail_.back().index + 1, entries[skip].index);
  for (size_t i = skip; i < entries.size(); ++i) {
    tail_.push_back(entries[i]);
    tail_bytes_ += entries[i].SizeBytes();
  }
  EvictTail();
}

void RocksDbLogStore::DropTailFrom(uint64_t index) {
  while (!tail_.empty() && tail_.back().index >= index) {
    tail_bytes_ -= tail_.back().SizeBytes();
    tail_.pop_back();
  }
}

void RocksDbLogStore::EvictTail() {
  while (!tail_.empty() && tail_bytes_ > tail_cache_limit_bytes_) {
    tail_bytes_ -= tail_.front().SizeBytes();
    tail_.pop_front();
  }
}

void RocksDbLogStore::CheckInvariants() const {
  KEEL_CHECK_LE(dummy_index_, last_index_);
  KEEL_CHECK_LE(tail_bytes_, tail_cache_limit_bytes_);
  if (!tail_.empty()) {
    KEEL_CHECK_EQ(tail_.back().index, last_index_);
    KEEL_CHECK(tail_.front().index > dummy_index_) << tail_.front().index << " " << dummy_index_;
    KEEL_CHECK_EQ(tail_.back().index - tail_.front().index + 1, tail_.size());
  }
}

}  // namespace keel::raft
