#include "watch/hub.h"

#include <algorithm>
#include <utility>

#include "base/check.h"

namespace keel::watch {

struct WatchHub::Watcher {
  Watcher(int64_t id, Stream* stream, const WatchSpec& spec, int64_t next)
      : id(id), stream(stream), filter(spec), next_revision(next) {}
  const int64_t id;
  Stream* const stream;  // owns this watcher through its map
  const EventFilter filter;
  bool progress_notify = false;  // set once at creation
  // Guarded by the hub's mutex.
  // Invariant: every event of this watcher below next_revision is queued (or was sent).
  int64_t next_revision;
  bool synced = false;
  bool removed = false;
  // No events queued since the last NotifyProgress() (etcd: progress[id], true at creation).
  bool quiet = true;
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
  int unsynced_ = 0;         // Invariant: watchers_ with !synced.
  bool progress_pending_ = false;
  bool closed_ = false;
};

namespace {

size_t EventBytes(const std::vector<mvccpb::Event>& events) {
  size_t bytes = 64;  // the update's own fields, roughly
  for (const auto& e : events) bytes += e.ByteSizeLong();
  return bytes;
}

}  // namespace

WatchHub::WatchHub(const HistorySource* history, int64_t current_revision,
                   WatchHubOptions options)
    : history_(history), options_(options), published_(current_revision) {
  KEEL_CHECK(options_.catch_up_chunk_events > 0 && options_.catch_up_chunk_bytes > 0);
  catch_up_ = std::thread([this] { CatchUpLoop(); });
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
  size_t bytes = EventBytes(update.events);
  stream.queued_bytes_ += bytes;
  stream.queue_.push_back(Stream::Queued{std::move(update), bytes});
}

void WatchHub::Publish(int64_t revision, std::vector<mvccpb::Event> events) {
  StreamList ready;
  bool wake_catch_up = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    KEEL_CHECK(!stopping_) << "publish after Stop";
    KEEL_CHECK(revision >= published_) << "revision " << revision << " after " << published_;
    int64_t first = published_ + 1;
    int64_t last_seen = published_;
    for (const auto& e : events) {
      int64_t rev = e.kv().mod_revision();
      KEEL_CHECK(rev >= last_seen && rev >= first && rev <= revision)
          << "event at " << rev << " out of order in a publish of (" << published_ << ", "
          << revision << "]";
      last_seen = rev;
    }
    published_ = revision;
    for (const auto& stream : streams_) {
      bool queued = false;
      for (const auto& [id, w] : stream->watchers_) {
        if (!w->synced) continue;
        std::vector<mvccpb::Event> mine = Select(*w, events, /*fill_prev_kv=*/false);
        if (mine.empty()) {
          w->next_revision = std::max(w->next_revision, revision + 1);
          continue;
        }
        size_t bytes = EventBytes(mine);
        if (stream->queued_bytes_ + bytes > options_.max_stream_buffered_bytes) {
          // Slow consumer: take nothing of this publish; catch up from history later.
          FallBehindLocked(w, std::max(w->next_revision, first));
          wake_catch_up = true;
          continue;
        }
        EnqueueLocked(*stream, WatchUpdate{.watch_id = id, .revision = revision,
                                           .events = std::move(mine)});
        w->next_revision = revision + 1;
        w->quiet = false;
        queued = true;
      }
      if (queued) ready.push_back(stream);
    }
    if (wake_catch_up) cv_.notify_all();
  }
  Notify(ready);
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
        EnqueueLocked(s, WatchUpdate{.watch_id = w->id, .revision = chunk.next_revision - 1,
                                     .events = std::move(mine)});
        w->quiet = false;
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
