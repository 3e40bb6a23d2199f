#include "watch/history.h"

#include <memory>

#include "base/check.h"
#include "kv/kv_codec.h"
#include "kv/revision.h"

namespace keel::watch {

HistoryChunk KvHistory::Read(int64_t from, int64_t to, size_t max_events,
                             size_t max_bytes) const {
  KEEL_CHECK(from >= 1 && max_events > 0) << "bad history read from " << from;
  HistoryChunk chunk;
  chunk.next_revision = from;
  if (from <= to) {
    std::string lower = kv::EncodeRevisionKey({from, 0});
    std::string upper = kv::EncodeRevisionKey({to + 1, 0});
    rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions options;
    options.iterate_upper_bound = &upper_slice;
    options.fill_cache = false;  // catch-up scans are one-off; keep the cache for readers
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options, kv_cf_));
    int64_t last_main = 0;
    size_t bytes = 0;
    bool cut = false;
    for (it->Seek(lower); it->Valid(); it->Next()) {
      kv::Revision rev;
      KEEL_CHECK(kv::DecodeRevisionKey(std::string_view(it->key().data(), it->key().size()),
                                       &rev))
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
      KEEL_CHECK(kv::DecodeValue(std::string_view(it->value().data(), it->value().size()),
                                 &tombstone, event.mutable_kv()))
          << "undecodable kv record at " << rev.main << "/" << rev.sub;
      event.set_type(tombstone ? mvccpb::Event::DELETE : mvccpb::Event::PUT);
      chunk.events.push_back(std::move(event));
    }
    KEEL_CHECK(it->status().ok()) << "history scan failed: " << it->status().ToString();
    if (!cut) chunk.next_revision = to + 1;
  }
  // Checked after the scan: a compaction raises this before deleting anything, so a scan
  // that overlapped one sees it here (see the header).
  int64_t compacted = store_->CompactedRevision();
  if (from < compacted) {
    chunk.events.clear();
    chunk.next_revision = from;
    chunk.compact_revision = compacted;
  }
  return chunk;
}

std::optional<mvccpb::KeyValue> KvHistory::ValueAt(const std::string& key,
                                                   int64_t revision) const {
  if (revision <= 0) return std::nullopt;  // Range would read revision 0 as "latest"
  etcdserverpb::RangeRequest request;
  request.set_key(key);
  request.set_revision(revision);
  auto response = store_->Range(request);
  if (!response.ok() || response->kvs().empty()) return std::nullopt;
  return response->kvs(0);
}

}  // namespace keel::watch
