// What one watch asks for and what it is sent, independent of gRPC.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "etcd/kv.pb.h"
#include "kv/key_range.h"

namespace keel::watch {

// A watch as created (etcdserverpb.WatchCreateRequest without the transport's fields).
struct WatchSpec {
  // etcd's key conventions: range_end "" = the single key, "\0" = every key >= key. An
  // empty key is the key "\0", as etcd reads it.
  std::string key;
  std::string range_end;
  // The first revision wanted (inclusive); 0 = the next revision ("now").
  int64_t start_revision = 0;
  bool no_put = false;
  bool no_delete = false;
  bool prev_kv = false;
  // Send a progress update (this watch's id, no events) at each WatchHub::NotifyProgress()
  // when no events were sent for it since the previous one (etcd's progress_notify).
  bool progress_notify = false;
};

// Events shared by every update they are queued in: a publish is copied once per group of
// identical watches, not once per watcher (10,000 watchers on one prefix share one batch).
struct EventBatch {
  std::vector<mvccpb::Event> events;  // ascending revision
  // The events serialized once as entries of WatchResponse.events (field 11), so a stream
  // writes a watcher's response as its own few header bytes followed by these, shared.
  std::string wire;
  size_t bytes = 0;  // wire.size()
  static std::shared_ptr<const EventBatch> Make(std::vector<mvccpb::Event> events);
};
// The tag of WatchResponse.events (field 11, length-delimited).
inline constexpr uint8_t kWatchResponseEventsTag = (11 << 3) | 2;

// One message for a stream, in the order the stream must send them. Exactly one of:
// created, canceled, progress (watch_id -1, no events), or events of whole revisions.
struct WatchUpdate {
  int64_t watch_id = 0;
  // The header revision: for events the last revision they cover; for created, progress and
  // cancels the revision every earlier update of the stream is complete up to; 0 for a
  // compaction cancel (as etcd 3.4).
  int64_t revision = 0;
  bool created = false;
  bool canceled = false;
  int64_t compact_revision = 0;
  std::string cancel_reason;
  // The events, batch after batch, ascending revision; one revision is never split.
  std::vector<std::shared_ptr<const EventBatch>> batches;

  bool has_events() const { return !batches.empty(); }
  size_t event_count() const;
  size_t event_bytes() const;
  // A copy of the events in order (tests, fragmenting).
  std::vector<mvccpb::Event> Events() const;
};

// The matching part of a watch, decoded once.
class EventFilter {
 public:
  explicit EventFilter(const WatchSpec& spec);
  // In range and not filtered out.
  bool Matches(const mvccpb::Event& event) const;
  bool wants_prev_kv() const { return prev_kv_; }
  const kv::KeyRange& range() const { return range_; }

 private:
  kv::KeyRange range_;
  bool no_put_;
  bool no_delete_;
  bool prev_kv_;
};

}  // namespace keel::watch
