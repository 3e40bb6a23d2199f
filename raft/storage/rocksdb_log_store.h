// RocksDbLogStore: the durable LogStore of a member, on RocksDB.
//
// On-disk format (format version 1)
//
//   column family "raft_log": one record per log entry
//     key   = entry index, 8 bytes big-endian (so byte order is index order)
//     value = EncodeEntry(entry) (raft/codec.h: keel.raftpb.Entry)
//     Invariant: the keys are exactly FirstIndex() .. LastIndex(), with no gap.
//
//   column family "raft_meta": fixed keys
//     "format_version" = "1"
//     "hard_state"     = EncodeHardState(...)            absent: empty hard state
//     "conf_state"     = EncodeConfState(...)            absent: no members
//     "snapshot"       = EncodeSnapshot(...)             absent: no snapshot
//                        (metadata + data of the latest snapshot, created or applied)
//     "log_start"      = dummy index (8 bytes BE) + dummy term (8 bytes BE)
//                        the last compacted entry: FirstIndex() - 1 and its term; absent: 0, 0
//
// LastIndex() is not stored: it is the largest key of raft_log, or the dummy index when the
// log is empty. Every write below is one rocksdb::WriteBatch, so a crash leaves the state of
// one whole call or the previous one; RocksDB's WAL recovery (point in time) also keeps the
// order of calls, so an unsynced call never survives a later call that was lost.
//
// Durability: Save(..., sync=true) is durable when it returns (one fsync for the whole batch:
// group commit). Save(..., sync=false) survives a process crash but not a power loss.
// SetConfState, CreateSnapshot and Compact are rare and always synced.
//
// Reads: FirstIndex(), LastIndex(), the hard state, the membership and the snapshot are cached
// in memory; so is a tail of the most recent entries, bounded by tail_cache_bytes, so that
// Term() and Entries() near the end of the log (what raft reads on every append and heartbeat)
// never reach RocksDB. Older ranges are read with an iterator.
//
// Thread-compatible: one thread at a time calls it (the server's raft loop; the apply thread
// asks that loop to CreateSnapshot/Compact rather than calling in).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "raft/storage/log_store.h"
#include "raft/types.h"
#include "rocksdb/db.h"

namespace keel::raft {

struct RocksDbLogStoreOptions {
  // Bound on the in-memory tail of recent entries (counted with Entry::SizeBytes()).
  uint64_t tail_cache_bytes = uint64_t{64} << 20;
};

class RocksDbLogStore : public LogStore {
 public:
  static constexpr char kLogColumnFamily[] = "raft_log";
  static constexpr char kMetaColumnFamily[] = "raft_meta";

  // Opens (creating if missing) a RocksDB in `dir` that this store owns, with the default
  // column family and the two above.
  static absl::StatusOr<std::unique_ptr<RocksDbLogStore>> Open(
      const std::string& dir, const RocksDbLogStoreOptions& options = {});

  // Uses column families of a DB the caller owns and keeps open for the store's lifetime (the
  // server shares one RocksDB between raft and kv). Open the DB with ColumnFamilies() among
  // its descriptors.
  static absl::StatusOr<std::unique_ptr<RocksDbLogStore>> Attach(
      rocksdb::DB* db, rocksdb::ColumnFamilyHandle* log_cf, rocksdb::ColumnFamilyHandle* meta_cf,
      const RocksDbLogStoreOptions& options = {});

  // The descriptors of raft_log and raft_meta, with the options the store expects.
  static std::vector<rocksdb::ColumnFamilyDescriptor> ColumnFamilies();

  ~RocksDbLogStore() override;
  RocksDbLogStore(const RocksDbLogStore&) = delete;
  RocksDbLogStore& operator=(const RocksDbLogStore&) = delete;

  // LogStore.
  absl::StatusOr<InitialState> GetInitialState() const override;
  absl::StatusOr<std::vector<Entry>> Entries(uint64_t lo, uint64_t hi,
                                             uint64_t max_size_bytes) const override;
  absl::StatusOr<uint64_t> Term(uint64_t index) const override;
  uint64_t FirstIndex() const override { return dummy_index_ + 1; }
  uint64_t LastIndex() const override { return last_index_; }
  absl::StatusOr<Snapshot> GetSnapshot() const override { return snapshot_; }

  // Persists what one Ready asks for, in one write batch, fsynced when `sync`:
  // - a non-empty `snapshot` replaces the whole log (the dummy becomes its index and term, the
  //   membership its conf state); ErrSnapOutOfDate unless newer than the current snapshot;
  // - `entries` (contiguous, starting at most at LastIndex() + 1 after the snapshot) overwrite
  //   from their first index, and stored entries after their last index are deleted (the
  //   conflicting suffix); entries below FirstIndex() are ignored; InvalidArgument otherwise;
  // - `hard_state` when non-null.
  // On error nothing was written and the store is unchanged.
  absl::Status Save(const HardState* hard_state, const std::vector<Entry>& entries,
                    const Snapshot* snapshot, bool sync);

  // Bootstrap membership (the snapshot and CreateSnapshot also set it).
  absl::Status SetConfState(const ConfState& cs);
  // As MemoryLogStore::CreateSnapshot: records a snapshot at `index` with membership *cs (or
  // the current one), leaving the log alone.
  absl::StatusOr<Snapshot> CreateSnapshot(uint64_t index, const ConfState* cs, Bytes data);
  // As MemoryLogStore::Compact: drops entries up to and including `compact_index`, keeping its
  // index and term as the dummy.
  absl::Status Compact(uint64_t compact_index);

  // Entries currently served from memory (for tests and metrics).
  uint64_t TailCacheBytes() const { return tail_bytes_; }
  size_t TailCacheEntries() const { return tail_.size(); }

 private:
  RocksDbLogStore(std::unique_ptr<rocksdb::DB> owned_db,
                  std::vector<rocksdb::ColumnFamilyHandle*> owned_handles, rocksdb::DB* db,
                  rocksdb::ColumnFamilyHandle* log_cf, rocksdb::ColumnFamilyHandle* meta_cf,
                  const RocksDbLogStoreOptions& options);

  // Reads the metadata and the tail of the log into memory.
  absl::Status Load();
  absl::Status LoadTail();
  // Entries [lo, hi) from RocksDB, stopping once the size limit is reached.
  absl::Status ReadFromDb(uint64_t lo, uint64_t hi, uint64_t max_size_bytes, uint64_t* size_bytes,
                          std::vector<Entry>* out) const;
  absl::Status Write(rocksdb::WriteBatch* batch, bool sync);

  // The tail cache after `entries` (already cut to FirstIndex()) were appended.
  void AppendToTail(const std::vector<Entry>& entries, size_t skip);
  void DropTailFrom(uint64_t index);
  void EvictTail();
  void CheckInvariants() const;

  // Owned only when created by Open(); handles are destroyed before the DB.
  std::unique_ptr<rocksdb::DB> owned_db_;
  std::vector<rocksdb::ColumnFamilyHandle*> owned_handles_;
  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* log_cf_;
  rocksdb::ColumnFamilyHandle* meta_cf_;
  const uint64_t tail_cache_limit_bytes_;

  // Mirrors of what is on disk (after the last successful write).
  HardState hard_state_;
  ConfState conf_state_;
  Snapshot snapshot_;
  uint64_t dummy_index_ = 0;
  uint64_t dummy_term_ = 0;
  // Invariant: dummy_index_ <= last_index_.
  uint64_t last_index_ = 0;
  // The most recent entries. Invariant: empty, or contiguous, ending at last_index_, starting
  // above dummy_index_, and tail_bytes_ is their total SizeBytes().
  std::deque<Entry> tail_;
  uint64_t tail_bytes_ = 0;
};

}  // namespace keel::raft
