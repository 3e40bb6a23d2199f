#include "watch/watcher.h"

namespace keel::watch {
namespace {

kv::KeyRange RangeOf(const WatchSpec& spec) {
  // etcd (v3rpc/watch.go): an empty key means "\0"; range_end keeps its meaning.
  std::string key = spec.key.empty() ? std::string(1, '\0') : spec.key;
  return kv::KeyRange::FromRequest(key, spec.range_end);
}

}  // namespace

std::shared_ptr<const EventBatch> EventBatch::Make(std::vector<mvccpb::Event> events) {
  auto batch = std::make_shared<EventBatch>();
  size_t total = 0;
  for (const auto& e : events) total += e.ByteSizeLong() + 1 + 5;
  batch->wire.reserve(total);
  for (const auto& e : events) {
    size_t n = static_cast<size_t>(e.GetCachedSize());  // computed by ByteSizeLong() above
    batch->wire.push_back(static_cast<char>(kWatchResponseEventsTag));
    for (uint64_t v = n; ; v >>= 7) {  // varint length
      if (v < 0x80) {
        batch->wire.push_back(static_cast<char>(v));
        break;
      }
      batch->wire.push_back(static_cast<char>((v & 0x7f) | 0x80));
    }
    size_t at = batch->wire.size();
    batch->wire.resize(at + n);
    e.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(batch->wire.data() + at));
  }
  batch->bytes = batch->wire.size();
  batch->events = std::move(events);
  return batch;
}

size_t WatchUpdate::event_count() const {
  size_t n = 0;
  for (const auto& b : batches) n += b->events.size();
  return n;
}

size_t WatchUpdate::event_bytes() const {
  size_t n = 0;
  for (const auto& b : batches) n += b->bytes;
  return n;
}

std::vector<mvccpb::Event> WatchUpdate::Events() const {
  std::vector<mvccpb::Event> out;
  out.reserve(event_count());
  for (const auto& b : batches) out.insert(out.end(), b->events.begin(), b->events.end());
  return out;
}

EventFilter::EventFilter(const WatchSpec& spec)
    : range_(RangeOf(spec)),
      no_put_(spec.no_put),
      no_delete_(spec.no_delete),
      prev_kv_(spec.prev_kv) {}

bool EventFilter::Matches(const mvccpb::Event& event) const {
  if (event.type() == mvccpb::Event::PUT && no_put_) return false;
  if (event.type() == mvccpb::Event::DELETE && no_delete_) return false;
  return range_.Contains(event.kv().key());
}

}  // namespace keel::watch
