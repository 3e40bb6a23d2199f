// History: the events of past revisions, read from the MVCC store, for watchers that catch up.
//
// Why a scan of the kv column family. MvccStore's public reads (Range at a revision) give the
// state at a revision, not the changes: a deleted key is simply absent, and the order of the
// writes inside one revision (a txn's sub-revisions) is lost. etcd's watch catch-up reads its
// backend by revision range for this reason (watchable_store.go syncWatchers). The `kv`
// family is keyed by (main, sub) revision and its records are write-once (kv/kv_codec.h), so a
// scan of [from, to] replays exactly the events of those revisions, tombstones included, in
// the order the watch guarantees. docs/watch.md proposes moving this scan into kv/ as
// MvccStore::ReadEvents; until then this class is its only reader outside kv/.
//
// Compaction. Compact(C) raises the compacted revision before it deletes anything, and
// deletes only records at main revision <= C (kv/store.h). So after a scan, reading the
// compacted revision C tells whether the scan may have missed records: only if from < C
// (etcd's rule for watches, ETCD-REFERENCE.md §1.2). At from == C the records at C survive
// except tombstones — etcd 3.4 loses those deletes the same way (etcd #18089, docs/watch.md).
//
// Threads: any; the store's readers are concurrent with its writer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "etcd/kv.pb.h"
#include "kv/store.h"
#include "rocksdb/db.h"

namespace keel::watch {

struct HistoryChunk {
  // Events of revisions [from, next_revision), ascending by (revision, sub-revision).
  std::vector<mvccpb::Event> events;
  int64_t next_revision = 0;
  // > 0: the history from `from` was compacted at this revision; `events` is empty.
  int64_t compact_revision = 0;
};

class HistorySource {
 public:
  virtual ~HistorySource() = default;
  // Events of revisions from..to (inclusive, to <= the store's visible revision), stopping
  // after the revision in which max_events or max_bytes (of stored records) is reached: a
  // revision is never split.
  virtual HistoryChunk Read(int64_t from, int64_t to, size_t max_events,
                            size_t max_bytes) const = 0;
  // `key` as it was at `revision` (for prev_kv); nullopt if absent or compacted away.
  virtual std::optional<mvccpb::KeyValue> ValueAt(const std::string& key,
                                                  int64_t revision) const = 0;
};

// The real source: an MvccStore and the `kv` column family it is attached to.
class KvHistory : public HistorySource {
 public:
  // All three must outlive this object.
  KvHistory(const kv::MvccStore* store, rocksdb::DB* db, rocksdb::ColumnFamilyHandle* kv_cf)
      : store_(store), db_(db), kv_cf_(kv_cf) {}

  HistoryChunk Read(int64_t from, int64_t to, size_t max_events,
                    size_t max_bytes) const override;
  std::optional<mvccpb::KeyValue> ValueAt(const std::string& key,
                                          int64_t revision) const override;

 private:
  const kv::MvccStore* store_;
  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* kv_cf_;
};

}  // namespace keel::watch
