#include "watch/hub.h"

#include <algorithm>
#include <utility>

#include "base/check.h"
#include "base/thread_name.h"

namespace keel::watch {

struct WatchHub::Watcher : std::enable_shared_from_this<Watcher> {
  Watcher(int64_t id, Stream* stream, const WatchSpec& spec, int64_t next)
      : id(id), stream(stream), filter(spec), next_revision(next) {}
  const int64_t id;
  Stream* const stream;  // owns this watcher through its map
  const EventFilter filter;
  Group* group = nullptr;   // guarded by the hub's mutex, as the rest
  size_t group_slot = 0;    // Invariant: group->watchers[group_slot] == this
  // The queue position (Stream::pushed_ numbering) of this watcher's last events update;
  // it may still take events while it is queued and no control update follows it.
  uint64_t pending_seq = 0;
  bool has_pending = false;
  bool progress_notify = false;  // set once at creation
  // Invariant: every event of this watcher below next_revision is queued (or was sent); for a
  // synced watcher every event below max(next_revision, published + 1) is.
  int64_t next_revision;
  bool synced = false;
  bool removed = false;
  // No events queued since the last NotifyProgress() (etcd: progress[id], true at creation).
  bool quiet = true;
};

// Watchers with one spec: a publish is matched once for all of them.
struct WatchHub::Group {
  explicit Group(const WatchSpec& spec, GroupKey key) : filter(spec), key(std::move(key)) {}
  const EventFilter filter;
  const GroupKey key;
  std::vector<Watcher*> watchers;
  std::vector<uint32_t> matched;  // Publish() scratch: indexes of the events it matches
};

class WatchHub::Stream : public std::enable_shared_from_this<Stream> {
 public:
  explicit Stream(std::function<void()> on_ready) : on_ready_(std::move(on_ready)) {}

 private:
  friend class WatchHub;
  struct Queued {
    WatchUpdate update;
    size_t bytes;
  };

  // Serializes on_ready calls with CloseStream, so none runs after the stream is closed.
  std::mutex notify_mu_;
  std::function<void()> on_ready_;  // guarded by notify_mu_

  // The rest is guarded by the hub's mutex.
  std::map<int64_t, std::shared_ptr<Watcher>> watchers_;
  int64_t next_auto_id_ = 0;
  std::deque<Queued> queue_;
  size_t queued_bytes_ = 0;  // Invariant: the sum of queue_[i].bytes.
  uint64_t popped_ = 0;      // updates taken so far: queue_[i] is number popped_ + i
  uint64_t barrier_ = 0;     // updates numbered below it take no more events
  bool marked_ready_ = false;  // Publish() scratch
  // The batch whose bytes this stream was charged last (see EnqueueEventsLocked).
  std::shared_ptr<const EventBatch> last_charged_;
  int unsynced_ = 0;         // Invariant: watchers_ with !synced.
  bool progress_pending_ = false;
  bool closed_ = false;
};

namespace {

constexpr size_t kUpdateOverheadBytes = 64;     // an update's own fields, roughly
constexpr size_t kBatchReferenceBytes = 16;     // one more update holding a batch

// The events of `from` at the given indexes, prev_kv dropped unless wanted.
std::shared_ptr<const EventBatch> Subset(const std::vector<mvccpb::Event>& from,
                                         const std::vector<uint32_t>& indexes, bool prev_kv) {
  std::vector<mvccpb::Event> out;
  out.reserve(indexes.size());
  for (uint32_t i : indexes) {
    out.push_back(from[i]);
    if (!prev_kv) out.back().clear_prev_kv();
  }
  return EventBatch::Make(std::move(out));
}

// The part of `batch` at or after `revision`; null when nothing is.
std::shared_ptr<const EventBatch> FromRevision(const std::shared_ptr<const EventBatch>& batch,
                                               int64_t revision) {
  std::vector<mvccpb::Event> out;
  for (const auto& e : batch->events) {
    if (e.kv().mod_revision() >= revision) out.push_back(e);
  }
  if (out.empty()) return nullptr;
  if (out.size() == batch->events.size()) return batch;
  return EventBatch::Make(std::move(out));
}

}  // namespace

WatchHub::WatchHub(const HistorySource* history, int64_t current_revision,
                   WatchHubOptions options)
    : history_(history), options_(options), published_(current_revision) {
  KEEL_CHECK(options_.catch_up_chunk_events > 0 && options_.catch_up_chunk_bytes > 0);
  catch_up_ = std::thread([this] {
    NameThisThread("keel-watch-cu");
    CatchUpLoop();
  });
}

WatchHub::~WatchHub() { Stop(); }

void WatchHub::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (catch_up_.joinable()) catch_up_.join();
}

int64_t WatchHub::published_revision() const {
  std::lock_guard<std::mutex> lock(mu_);
  return published_;
}

size_t WatchHub::UnsyncedCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& s : streams_) n += s->unsynced_;
  return n;
}

uint64_t WatchHub::FellBehindCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fell_behind_;
}

void WatchHub::Notify(const StreamList& streams) {
  for (const auto& s : streams) {
    std::lock_guard<std::mutex> lock(s->notify_mu_);
    if (s->on_ready_) s->on_ready_();
  }
}

std::vector<mvccpb::Event> WatchHub::Select(const Watcher& w,
                                            const std::vector<mvccpb::Event>& events,
                                            bool fill_prev_kv) const {
  std::vector<mvccpb::Event> out;
  for (const auto& e : events) {
    if (e.kv().mod_revision() < w.next_revision || !w.filter.Matches(e)) continue;
    out.push_back(e);
    mvccpb::Event& mine = out.back();
    if (!w.filter.wants_prev_kv()) {
      mine.clear_prev_kv();
    } else if (fill_prev_kv) {
      // History records carry no prev_kv: read the key as it was just before (empty when
      // that revision was compacted, as etcd).
      auto prev = history_->ValueAt(mine.kv().key(), mine.kv().mod_revision() - 1);
      if (prev) *mine.mutable_prev_kv() = std::move(*prev);
    }
  }
  return out;
}

void WatchHub::EnqueueLocked(Stream& stream, WatchUpdate update) {
  size_t bytes = kUpdateOverheadBytes + update.event_bytes();
  stream.queued_bytes_ += bytes;
  stream.queue_.push_back(Stream::Queued{std::move(update), bytes});
  stream.barrier_ = stream.popped_ + stream.queue_.size();
}

void WatchHub::EnqueueEventsLocked(Watcher& w, int64_t revision,
                                   std::shared_ptr<const EventBatch> batch) {
  Stream& s = *w.stream;
  // What the stream pins: a batch's bytes once (its watchers share it), a reference for each
  // further update holding it. Publishes come in order, so "once" = "not the last one seen".
  size_t charge = kBatchReferenceBytes;
  if (s.last_charged_ != batch) {
    charge += batch->bytes;
    s.last_charged_ = batch;
  }
  s.queued_bytes_ += charge;
  w.quiet = false;
  if (w.has_pending && w.pending_seq >= s.popped_ && w.pending_seq >= s.barrier_) {
    Stream::Queued& q = s.queue_[w.pending_seq - s.popped_];
    KEEL_CHECK(q.update.watch_id == w.id && q.update.has_events());
    if (q.bytes < options_.max_merged_update_bytes) {
      q.update.revision = revision;
      q.update.batches.push_back(std::move(batch));
      q.bytes += charge;
      return;
    }
  }
  s.queued_bytes_ += kUpdateOverheadBytes;
  size_t bytes = kUpdateOverheadBytes + charge;
  WatchUpdate update{.watch_id = w.id, .revision = revision};
  update.batches.push_back(std::move(batch));
  s.queue_.push_back(Stream::Queued{std::move(update), bytes});
  w.pending_seq = s.popped_ + s.queue_.size() - 1;
  w.has_pending = true;
}

void WatchHub::Publish(int64_t revision, std::vector<mvccpb::Event> events) {
  StreamList ready;
  bool wake_catch_up = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    KEEL_CHECK(!stopping_) << "publish after Stop";
    KEEL_CHECK(revision >= published_) << "revision " << revision << " after " << published_;
    const int64_t first = published_ + 1;
    int64_t last_seen = published_;
    for (const auto& e : events) {
      int64_t rev = e.kv().mod_revision();
      KEEL_CHECK(rev >= last_seen && rev >= first && rev <= revision)
          << "event at " << rev << " out of order in a publish of (" << published_ << ", "
          << revision << "]";
      last_seen = rev;
    }
    published_ = revision;
    // The publish itself is the batch of every group that matches all of it and wants
    // prev_kv; the rest share a copy without prev_kv, or their own subset.
    std::shared_ptr<const EventBatch> whole = EventBatch::Make(std::move(events));
    const std::vector<mvccpb::Event>& evs = whole->events;
    std::vector<Group*> touched;
    auto mark = [&touched](Group* g, uint32_t i) {
      if (g->matched.empty()) touched.push_back(g);
      g->matched.push_back(i);
    };
    for (uint32_t i = 0; i < evs.size(); ++i) {
      const mvccpb::Event& e = evs[i];
      if (!key_index_.empty()) {
        auto it = key_index_.find(e.kv().key());
        if (it != key_index_.end()) {
          for (Group* g : it->second) {
            if (g->filter.Matches(e)) mark(g, i);
          }
        }
      }
      for (Group* g : range_groups_) {
        if (g->filter.Matches(e)) mark(g, i);
      }
    }
    std::shared_ptr<const EventBatch> whole_without_prev;
    for (Group* g : touched) {
      std::shared_ptr<const EventBatch> batch;
      bool prev_kv = g->filter.wants_prev_kv();
      if (g->matched.size() == evs.size() && prev_kv) {
        batch = whole;
      } else if (g->matched.size() == evs.size()) {
        if (!whole_without_prev) whole_without_prev = Subset(evs, g->matched, false);
        batch = whole_without_prev;
      } else {
        batch = Subset(evs, g->matched, prev_kv);
      }
      g->matched.clear();
      for (Watcher* w : g->watchers) {
        if (!w->synced) continue;
        std::shared_ptr<const EventBatch> mine = batch;
        if (w->next_revision > first) {  // a future start revision
          mine = FromRevision(batch, w->next_revision);
          if (!mine) continue;
        }
        Stream& s = *w->stream;
        size_t would_charge = kUpdateOverheadBytes + kBatchReferenceBytes +
                              (s.last_charged_ == mine ? 0 : mine->bytes);
        if (s.queued_bytes_ + would_charge >
            options_.max_stream_buffered_bytes) {
          // Slow consumer: take nothing of this publish; catch up from history later.
          FallBehindLocked(w->shared_from_this(), std::max(w->next_revision, first));
          wake_catch_up = true;
          continue;
        }
        EnqueueEventsLocked(*w, revision, std::move(mine));
        w->next_revision = revision + 1;
        if (!s.marked_ready_) {
          s.marked_ready_ = true;
          ready.push_back(s.shared_from_this());
        }
      }
    }
    for (const auto& s : ready) s->marked_ready_ = false;
    if (wake_catch_up) cv_.notify_all();
  }
  Notify(ready);
}

void WatchHub::JoinGroupLocked(Watcher& w, const WatchSpec& spec) {
  GroupKey key{spec.key, spec.range_end, spec.no_put, spec.no_delete, spec.prev_kv};
  auto it = groups_.find(key);
  if (it == groups_.end()) {
    auto group = std::make_unique<Group>(spec, key);
    Group* g = group.get();
    if (g->filter.range().is_single()) {
      key_index_[g->filter.range().begin()].push_back(g);
    } else {
      range_groups_.push_back(g);
    }
    it = groups_.emplace(std::move(key), std::move(group)).first;
  }
  Group* g = it->second.get();
  w.group = g;
  w.group_slot = g->watchers.size();
  g->watchers.push_back(&w);
}

void WatchHub::LeaveGroupLocked(Watcher& w) {
  Group* g = w.group;
  KEEL_CHECK(g != nullptr && g->watchers[w.group_slot] == &w);
  g->watchers[w.group_slot] = g->watchers.back();
  g->watchers[w.group_slot]->group_slot = w.group_slot;
  g->watchers.pop_back();
  w.group = nullptr;
  if (!g->watchers.empty()) return;
  auto drop = [g](std::vector<Group*>& list) {
    list.erase(std::find(list.begin(), list.end(), g));
  };
  if (g->filter.range().is_single()) {
    auto it = key_index_.find(g->filter.range().begin());
    drop(it->second);
    if (it->second.empty()) key_index_.erase(it);
  } else {
    drop(range_groups_);
  }
  groups_.erase(g->key);  // destroys g: last use
}

void WatchHub::Reset(int64_t revision) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t first = published_ + 1;
  published_ = std::max(published_, revision);
  for (const auto& stream : streams_) {
    for (const auto& [id, w] : stream->watchers_) {
      if (w->synced) FallBehindLocked(w, std::max(w->next_revision, first));
    }
  }
  cv_.notify_all();
}

std::shared_ptr<WatchHub::Stream> WatchHub::OpenStream(std::function<void()> on_ready) {
  auto stream = std::make_shared<Stream>(std::move(on_ready));
  std::lock_guard<std::mutex> lock(mu_);
  streams_.push_back(stream);
  return stream;
}

void WatchHub::CloseStream(const std::shared_ptr<Stream>& stream) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stream->closed_) return;
    stream->closed_ = true;
    while (!stream->watchers_.empty()) RemoveWatcherLocked(*stream->watchers_.begin()->second);
    stream->queue_.clear();
    stream->queued_bytes_ = 0;
    streams_.remove(stream);
  }
  std::lock_guard<std::mutex> lock(stream->notify_mu_);  // waits for a running on_ready
  stream->on_ready_ = nullptr;
}

int64_t WatchHub::Watch(Stream& stream, int64_t watch_id, const WatchSpec& spec) {
  std::lock_guard<std::mutex> lock(mu_);
  // A stopped hub still accepts watches (a stream may outlive Stop() by a moment while the
  // server shuts down); they just never catch up.
  KEEL_CHECK(!stream.closed_) << "watch on a closed stream";
  if (watch_id != 0 && stream.watchers_.count(watch_id) > 0) {
    EnqueueLocked(stream, WatchUpdate{.watch_id = -1, .revision = published_, .created = true,
                                      .canceled = true,
                                      .cancel_reason = kDuplicateWatchIdReason});
    return -1;
  }
  int64_t id = watch_id;
  if (id == 0) {
    while (stream.watchers_.count(stream.next_auto_id_) > 0) ++stream.next_auto_id_;
    id = stream.next_auto_id_++;
  }
  int64_t next = spec.start_revision > 0 ? spec.start_revision : published_ + 1;
  auto w = std::make_shared<Watcher>(id, &stream, spec, next);
  w->progress_notify = spec.progress_notify;
  stream.watchers_.emplace(id, w);
  JoinGroupLocked(*w, spec);
  EnqueueLocked(stream, WatchUpdate{.watch_id = id, .revision = published_, .created = true});
  if (next > published_) {
    w->synced = true;  // now or in the future: publishing will reach it
  } else {
    ++stream.unsynced_;
    unsynced_.push_back(w);
    cv_.notify_all();
  }
  return id;
}

bool WatchHub::Cancel(Stream& stream, int64_t watch_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = stream.watchers_.find(watch_id);
  if (it == stream.watchers_.end()) return false;
  RemoveWatcherLocked(*it->second);
  EnqueueLocked(stream,
                WatchUpdate{.watch_id = watch_id, .revision = published_, .canceled = true});
  return true;
}

void WatchHub::RequestProgress(Stream& stream) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stream.unsynced_ == 0) {
    EnqueueLocked(stream, WatchUpdate{.watch_id = -1, .revision = published_});
  } else {
    stream.progress_pending_ = true;  // answered when the last watcher syncs
  }
}

std::optional<WatchUpdate> WatchHub::Take(Stream& stream) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stream.queue_.empty()) return std::nullopt;
  Stream::Queued q = std::move(stream.queue_.front());
  stream.queue_.pop_front();
  ++stream.popped_;
  stream.queued_bytes_ -= q.bytes;
  if (stream.unsynced_ > 0) cv_.notify_all();  // room for catch-up may have opened
  return std::move(q.update);
}

void WatchHub::NotifyProgress() {
  StreamList ready;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& stream : streams_) {
      bool queued = false;
      for (const auto& [id, w] : stream->watchers_) {
        if (!w->progress_notify) continue;
        // Unsynced watchers are skipped, as etcd's RequestProgress does: their revision is
        // not yet a valid bookmark.
        if (w->quiet && w->synced) {
          EnqueueLocked(*stream, WatchUpdate{.watch_id = id, .revision = published_});
          queued = true;
        }
        w->quiet = true;
      }
      if (queued) ready.push_back(stream);
    }
  }
  Notify(ready);
}

void WatchHub::FallBehindLocked(const std::shared_ptr<Watcher>& w, int64_t next_revision) {
  KEEL_CHECK(w->synced);
  w->synced = false;
  w->next_revision = next_revision;
  ++w->stream->unsynced_;
  ++fell_behind_;
  unsynced_.push_back(w);
}

void WatchHub::MarkSyncedLocked(Watcher& w) {
  KEEL_CHECK(!w.synced && w.next_revision > published_);
  w.synced = true;
  Stream& s = *w.stream;
  if (--s.unsynced_ == 0 && s.progress_pending_) {
    s.progress_pending_ = false;
    EnqueueLocked(s, WatchUpdate{.watch_id = -1, .revision = published_});
  }
}

void WatchHub::RemoveWatcherLocked(Watcher& w) {
  Stream& s = *w.stream;
  w.removed = true;
  if (!w.synced) {
    w.synced = true;  // no longer waits for anything
    if (--s.unsynced_ == 0 && s.progress_pending_ && !s.closed_) {
      s.progress_pending_ = false;
      EnqueueLocked(s, WatchUpdate{.watch_id = -1, .revision = published_});
    }
  }
  LeaveGroupLocked(w);
  s.watchers_.erase(w.id);  // may destroy `w`: last use
}

std::shared_ptr<WatchHub::Watcher> WatchHub::PickUnsyncedLocked() {
  for (auto it = unsynced_.begin(); it != unsynced_.end();) {
    if ((*it)->removed) {
      it = unsynced_.erase(it);
      continue;
    }
    if ((*it)->stream->queued_bytes_ < options_.max_stream_buffered_bytes / 2) {
      std::shared_ptr<Watcher> w = std::move(*it);
      unsynced_.erase(it);
      return w;
    }
    ++it;
  }
  return nullptr;
}

void WatchHub::CatchUpLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    std::shared_ptr<Watcher> w = PickUnsyncedLocked();
    if (!w) {
      cv_.wait(lock);
      continue;
    }
    const int64_t from = w->next_revision;
    const int64_t to = published_;
    HistoryChunk chunk;
    std::vector<mvccpb::Event> mine;
    if (from <= to) {
      lock.unlock();
      // Outside the lock: the apply thread keeps publishing to synced watchers meanwhile.
      chunk = history_->Read(from, to, options_.catch_up_chunk_events,
                             options_.catch_up_chunk_bytes);
      if (chunk.compact_revision == 0) mine = Select(*w, chunk.events, /*fill_prev_kv=*/true);
      lock.lock();
      if (w->removed) continue;
    } else {
      chunk.next_revision = from;
    }
    Stream& s = *w->stream;
    if (chunk.compact_revision > 0) {
      int64_t id = w->id;
      RemoveWatcherLocked(*w);
      // Header revision 0, as etcd 3.4 sends it.
      EnqueueLocked(s, WatchUpdate{.watch_id = id, .revision = 0, .canceled = true,
                                   .compact_revision = chunk.compact_revision});
    } else {
      KEEL_CHECK(chunk.next_revision > from || from > to) << "catch-up made no progress";
      if (!mine.empty()) {
        EnqueueEventsLocked(*w, chunk.next_revision - 1, EventBatch::Make(std::move(mine)));
      }
      w->next_revision = chunk.next_revision;
      if (w->next_revision > published_) {
        MarkSyncedLocked(*w);
      } else {
        unsynced_.push_back(w);
      }
    }
    std::shared_ptr<Stream> ready = s.weak_from_this().lock();
    if (!ready) continue;
    lock.unlock();
    Notify({ready});
    lock.lock();
  }
}

}  // namespace keel::watch
