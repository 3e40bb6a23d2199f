#include "watch/history.h"

namespace keel::watch {

HistoryChunk KvHistory::Read(int64_t from, int64_t to, size_t max_events,
                             size_t max_bytes) const {
  kv::EventsChunk read = store_->ReadEvents(from, to, max_events, max_bytes);
  return HistoryChunk{.events = std::move(read.events),
                      .next_revision = read.next_revision,
                      .compact_revision = read.compact_revision};
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
