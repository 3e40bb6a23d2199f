// WatchHub: routes the events the apply thread publishes to the watchers of every stream, and
// catches up watchers that start in the past or fell behind from the store's history.
//
// Contract (etcd's watch guarantees, ETCD-REFERENCE.md §1.3). For every watcher, the
// updates queued on its stream carry exactly the events of its range (after its filters)
// from its start revision on, ascending, each once, a revision never split across updates —
// or, when history it still needs was compacted, a cancel with compact_revision after a
// prefix of them. Control updates (created, canceled, progress) are queued in order with the
// events, so a progress update at revision R follows every event <= R of the stream.
//
// Synced and unsynced watchers. A synced watcher has received every published revision
// below its next revision (next > published; a future start waits there). Publish() appends
// its events to its stream's queue at once. An unsynced watcher (start in the past, or it
// fell behind) is served by the catch-up thread, which reads history in chunks of about
// `catch_up_chunk_events` (HistorySource::Read), outside the hub's lock, never on the apply
// thread, and moves it to synced when its next revision passes the published one.
//
// Fan-out. Watchers with identical specs (range, filters, prev_kv) form a group; a publish is
// matched once per group, not once per watcher — single-key groups through a hash index by
// key, range groups by a scan of the distinct ranges — and the group's events are one
// EventBatch shared by all its watchers' updates. When a watcher already has an events update
// waiting in its stream's queue with no control update after it, new events are appended to
// it (up to `max_merged_update_bytes`) instead of queuing another message: a stream that
// cannot keep up sends fewer, larger messages rather than one per watcher per revision.
//
// Slow consumers. A stream's unsent updates are bounded by `max_stream_buffered_bytes` of
// memory they pin — a shared batch counted once per stream plus a small charge for every
// further update referencing it —
// (plus at most one catch-up chunk — `catch_up_chunk_bytes` and one revision more, twice
// that with prev_kv — and the small control updates). When a publish would
// pass the bound, the watcher does not take the events: it becomes unsynced at the first
// revision it lacks and catches up from history once its stream has drained below half the
// bound. Nothing is dropped; publishing never blocks on a consumer.
//
// Threads. Publish(): the apply thread, after the group's commit, in revision order.
// Each stream is driven by its owner (Watch, Cancel, RequestProgress, Take, Close), from any
// thread but one at a time. on_ready is called from the apply or catch-up thread, never
// under the hub's lock; it must not block, and may call Take().
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <condition_variable>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "etcd/kv.pb.h"
#include "watch/history.h"
#include "watch/watcher.h"

namespace keel::watch {

// etcd's text for a client-chosen watch id already used on the stream (mvcc/watcher.go).
inline constexpr char kDuplicateWatchIdReason[] =
    "mvcc: duplicate watch ID provided on the WatchStream";

struct WatchHubOptions {
  size_t max_stream_buffered_bytes = 4 * 1024 * 1024;
  // One catch-up read stops after the revision that reaches either limit.
  size_t catch_up_chunk_events = 1000;
  size_t catch_up_chunk_bytes = 1024 * 1024;
  // Coalescing stops once an update's events reach this size.
  size_t max_merged_update_bytes = 1024 * 1024;
};

class WatchHub {
 public:
  class Stream;

  // `history` must outlive the hub. `current_revision`: the store's revision when the hub
  // starts; the first Publish() continues from it.
  WatchHub(const HistorySource* history, int64_t current_revision, WatchHubOptions options = {});
  ~WatchHub();
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  // Joins the catch-up thread. Publishing after it is a fatal check.
  void Stop();

  // The events of the revisions after published_revision() up to `revision`, ascending, as
  // the store returned them (prev_kv filled). Apply thread only.
  void Publish(int64_t revision, std::vector<mvccpb::Event> events);
  int64_t published_revision() const;
  // The store was replaced by a newer one at `revision` (a raft snapshot): every watcher
  // catches up from the new store's history from where it was (or is cancelled with
  // compact_revision if that history is gone). Apply thread, between publishes.
  void Reset(int64_t revision);

  std::shared_ptr<Stream> OpenStream(std::function<void()> on_ready);
  // Removes the stream's watchers; on_ready is not called once this returns.
  void CloseStream(const std::shared_ptr<Stream>& stream);

  // Creates a watch and queues its created update. watch_id 0 lets the hub choose (etcd's
  // AutoWatchID: the smallest unused id counting up from 0). A client-chosen id in use
  // queues etcd's refusal (watch_id -1, created and canceled, kDuplicateWatchIdReason) and
  // returns -1. Otherwise returns the id.
  int64_t Watch(Stream& stream, int64_t watch_id, const WatchSpec& spec);
  // Queues a canceled update; false (nothing queued) if there is no such watch, as etcd.
  bool Cancel(Stream& stream, int64_t watch_id);
  // Queues a progress update (watch_id -1) at the published revision as soon as every
  // watcher of the stream is synced (at once if they are).
  void RequestProgress(Stream& stream);
  // The next update to send, if any.
  std::optional<WatchUpdate> Take(Stream& stream);

  // etcd's periodic progress notification (--watch-progress-notify-interval; the caller owns
  // the timer): every synced watcher created with progress_notify that was sent no events
  // since the previous call gets an update with its id, no events, at the published revision.
  void NotifyProgress();

  // Counters for tests: watchers waiting for catch-up, and how often one fell behind.
  size_t UnsyncedCount() const;
  uint64_t FellBehindCount() const;

 private:
  struct Watcher;
  struct Group;
  using StreamList = std::vector<std::shared_ptr<Stream>>;
  // (key, range_end, no_put, no_delete, prev_kv): watchers with equal keys share a Group.
  using GroupKey = std::tuple<std::string, std::string, bool, bool, bool>;

  void CatchUpLoop();
  std::shared_ptr<Watcher> PickUnsyncedLocked();
  // Control updates (created, canceled, progress): nothing queued before them grows after.
  void EnqueueLocked(Stream& stream, WatchUpdate update);
  // Events for `w`, merged into its waiting update when allowed (see Fan-out above).
  void EnqueueEventsLocked(Watcher& w, int64_t revision, std::shared_ptr<const EventBatch> batch);
  void JoinGroupLocked(Watcher& w, const WatchSpec& spec);
  void LeaveGroupLocked(Watcher& w);
  void FallBehindLocked(const std::shared_ptr<Watcher>& w, int64_t next_revision);
  void MarkSyncedLocked(Watcher& w);
  void RemoveWatcherLocked(Watcher& w);
  std::vector<mvccpb::Event> Select(const Watcher& w, const std::vector<mvccpb::Event>& events,
                                    bool fill_prev_kv) const;
  static void Notify(const StreamList& streams);

  const HistorySource* const history_;
  const WatchHubOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;  // catch-up work may be ready
  int64_t published_;           // Invariant: revisions publish in order, never backwards.
  std::list<std::shared_ptr<Stream>> streams_;
  std::map<GroupKey, std::unique_ptr<Group>> groups_;
  absl::flat_hash_map<std::string, std::vector<Group*>> key_index_;  // single-key groups
  std::vector<Group*> range_groups_;
  std::deque<std::shared_ptr<Watcher>> unsynced_;  // may hold removed watchers; skipped
  uint64_t fell_behind_ = 0;
  bool stopping_ = false;
  std::thread catch_up_;
};

}  // namespace keel::watch
