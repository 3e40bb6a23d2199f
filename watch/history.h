// History: the events of past revisions, read from the MVCC store, for watchers that catch up.
//
// The events come from kv::MvccStore::ReadEvents (kv/store_events.cc says why it scans the
// kv column family and how it detects compaction); HistorySource exists so hub tests can
// substitute a history.
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

// The real source: an MvccStore.
class KvHistory : public HistorySource {
 public:
  // `store` must outlive this object.
  explicit KvHistory(const kv::MvccStore* store) : store_(store) {}

  HistoryChunk Read(int64_t from, int64_t to, size_t max_events,
                    size_t max_bytes) const override;
  std::optional<mvccpb::KeyValue> ValueAt(const std::string& key,
                                          int64_t revision) const override;

 private:
  const kv::MvccStore* store_;
};

}  // namespace keel::watch
