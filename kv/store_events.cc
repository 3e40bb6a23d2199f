// MvccStore::ReadEvents: the changes of a revision range, for watch catch-up.
//
// Why a scan of the kv column family. Range at a revision gives the state, not the changes: a
// deleted key is simply absent and the order of the writes inside one revision (a txn's
// sub-revisions) is lost. The kv family is keyed by (main, sub) revision and its records are
// write-once (kv_codec.h), so a scan of [from, to] replays exactly the events of those
// revisions, tombstones included, in the order the watch guarantees.
//
// Compaction. Compact(C) raises the compacted revision before it deletes anything and deletes
// only records at main revision <= C, so reading the compacted revision after the scan tells
// whether the scan may have missed records: only if from < C. At from == C the records at C
// survive except tombstones, which etcd 3.4 loses the same way (etcd #18089, docs/watch.md).
#include <memory>

#include "base/check.h"
#include "kv/revision.h"
#include "kv/store.h"

namespace keel::kv {

EventsChunk MvccStore::ReadEvents(int64_t from, int64_t to, size_t max_events,
                                  size_t max_bytes) const {
  KEEL_CHECK(from >= 1 && max_events > 0) << "bad event read from " << from;
  EventsChunk chunk;
  chunk.next_revision = from;
  if (from <= to) {
    std::string lower = EncodeRevisionKey({from, 0});
    std::string upper = EncodeRevisionKey({to + 1, 0});
    rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions options;
    options.iterate_upper_bound = &upper_slice;
    options.fill_cache = false;  // catch-up scans are one-off; keep the cache for readers
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options, kv_cf_));
    int64_t last_main = 0;
    size_t bytes = 0;
    bool cut = false;
    for (it->Seek(lower); it->Valid(); it->Next()) {
      Revision rev;
      KEEL_CHECK(DecodeRevisionKey(std::string_view(it->key().data(), it->key().size()), &rev))
          << "undecodable kv record key";
      if (rev.main != last_main && (chunk.events.size() >= max_events || bytes >= max_bytes)) {
        chunk.next_revision = rev.main;
        cut = true;
        break;
      }
      last_main = rev.main;
      bytes += it->value().size();
      mvccpb::Event event;
      bool tombstone = false;
      KEEL_CHECK(DecodeValue(std::string_view(it->value().data(), it->value().size()),
                             &tombstone, event.mutable_kv()))
          << "undecodable kv record at " << rev.main << "/" << rev.sub;
      event.set_type(tombstone ? mvccpb::Event::DELETE : mvccpb::Event::PUT);
      chunk.events.push_back(std::move(event));
    }
    KEEL_CHECK(it->status().ok()) << "event scan failed: " << it->status().ToString();
    if (!cut) chunk.next_revision = to + 1;
  }
  // After the scan: a compaction raises this before deleting anything (see above).
  int64_t compacted = CompactedRevision();
  if (from < compacted) {
    chunk.events.clear();
    chunk.next_revision = from;
    chunk.compact_revision = compacted;
  }
  return chunk;
}

}  // namespace keel::kv
