#include "bench/keel_bench/watch_stream.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "bench/keel_bench/clock.h"
#include "etcd/rpc.pb.h"

namespace keel::bench {

void WatchGroup::StreamReady() {
  std::lock_guard<std::mutex> lock(mu_);
  ++ready_;
  cv_.notify_all();
}

void WatchGroup::StreamFinished() {
  std::lock_guard<std::mutex> lock(mu_);
  ++finished_;
  cv_.notify_all();
}

bool WatchGroup::WaitReady(int streams, std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  // A stream that ends before all its watchers exist is finished without being ready.
  return cv_.wait_until(lock, deadline, [&] { return ready_ + finished_ >= streams; });
}

int WatchGroup::finished() {
  std::lock_guard<std::mutex> lock(mu_);
  return finished_;
}

void WatchGroup::WaitFinished(int streams) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return finished_ >= streams; });
}

bool SendTimeOf(std::string_view value, int64_t now_ns, int64_t* sent_ns) {
  if (value.size() < sizeof(int64_t)) return false;
  int64_t t;
  std::memcpy(&t, value.data(), sizeof(t));
  constexpr int64_t kHourNs = int64_t{3600} * 1'000'000'000;
  if (t > now_ns || now_ns - t > kHourNs) return false;
  *sent_ns = t;
  return true;
}

WatchStream::WatchStream(Conn* conn, grpc::CompletionQueue* queue,
                         std::vector<WatcherSpec> watchers, WatchGroup* group,
                         WatchEventSink* sink)
    : stub_(conn->channel),
      queue_(queue),
      group_(group),
      sink_(sink),
      specs_(std::move(watchers)),
      watchers_(specs_.size()) {
  for (size_t i = 0; i < specs_.size(); ++i) watchers_[i].key_index = specs_[i].key_index;
  slot_by_watch_id_.reserve(specs_.size());
  // etcd's clients send this on watches; etcd then refuses to serve without a leader.
  context_.AddMetadata("hasleader", "true");
}

void WatchStream::Start() {
  stream_ = stub_.PrepareCall(&context_, "/etcdserverpb.Watch/Watch", queue_);
  stream_->StartCall(&start_tag_);
}

void WatchStream::Cancel() {
  cancel_requested_.store(true);
  context_.TryCancel();
}

void WatchStream::OnStart(bool ok) {
  if (!ok) {
    read_done_ = true;
    return MaybeFinish();
  }
  stream_->Read(&read_buffer_, &read_tag_);
  if (specs_.empty()) {
    group_->StreamReady();
  } else {
    WriteNextCreate();
  }
}

void WatchStream::WriteNextCreate() {
  const WatcherSpec& spec = specs_[next_create_++];
  etcdserverpb::WatchRequest request;
  auto* create = request.mutable_create_request();
  create->set_key(spec.key);
  create->set_range_end(spec.range_end);
  create->set_start_revision(spec.start_revision);
  if (spec.no_put) create->add_filters(etcdserverpb::WatchCreateRequest::NOPUT);
  const std::string bytes = request.SerializeAsString();
  grpc::Slice slice(bytes);
  write_buffer_ = grpc::ByteBuffer(&slice, 1);
  write_pending_ = true;
  stream_->Write(write_buffer_, &write_tag_);
}

void WatchStream::OnWrite(bool ok) {
  write_pending_ = false;
  if (!ok || read_done_) {
    read_done_ = read_done_ || !ok;
    // A failed write means the stream is broken; the pending read will fail too.
    return MaybeFinish();
  }
  if (next_create_ < specs_.size()) WriteNextCreate();
}

void WatchStream::OnRead(bool ok) {
  if (!ok) {
    read_done_ = true;
    return MaybeFinish();
  }
  ++responses_;
  // Usually one slice; several only for large responses.
  const uint8_t* data;
  size_t size;
  grpc::Slice single;
  if (read_buffer_.TrySingleSlice(&single).ok()) {
    data = single.begin();
    size = single.size();
  } else {
    read_buffer_.Dump(&slices_);
    flat_.clear();
    for (const auto& s : slices_) flat_.append(reinterpret_cast<const char*>(s.begin()), s.size());
    data = reinterpret_cast<const uint8_t*>(flat_.data());
    size = flat_.size();
  }
  WatchResponseView response;
  if (ScanWatchResponse(data, size, &response, &events_)) {
    Handle(response);
  } else {
    ++malformed_;
  }
  read_buffer_.Clear();
  stream_->Read(&read_buffer_, &read_tag_);
}

void WatchStream::Handle(const WatchResponseView& response) {
  if (response.created) {
    const size_t slot = created_.load(std::memory_order_relaxed);
    if (slot < watchers_.size()) {
      // etcd answers a stream's create requests in order.
      slot_by_watch_id_[response.watch_id] = static_cast<uint32_t>(slot);
      watchers_[slot].created = true;
      created_.store(slot + 1, std::memory_order_relaxed);
      if (slot + 1 == watchers_.size()) group_->StreamReady();
    }
  }
  auto slot_it = slot_by_watch_id_.find(response.watch_id);
  if (slot_it == slot_by_watch_id_.end()) {
    if (!events_.empty() || response.canceled) ++unknown_ids_;
    return;
  }
  WatcherState& w = watchers_[slot_it->second];
  if (response.canceled) {
    if (!w.canceled) ++canceled_;
    w.canceled = true;
    if (cancel_reason_.empty()) {
      cancel_reason_ = response.compact_revision != 0
                           ? absl::StrCat("compacted at revision ", response.compact_revision)
                           : std::string(response.cancel_reason);
    }
  }
  if (events_.empty()) return;
  const int64_t now = NowNs();
  int64_t last = w.last_revision.load(std::memory_order_relaxed);
  for (const WatchEventView& ev : events_) {
    if (ev.mod_revision <= last) {
      if (order_violations_++ == 0) {
        first_violation_ = absl::StrCat("watch id ", response.watch_id, ": revision ",
                                        ev.mod_revision, " after ", last);
      }
    }
    last = std::max(last, ev.mod_revision);
    int64_t sent;
    if (ev.type == 0 && SendTimeOf(ev.value, now, &sent)) {
      latency_ns_.Record(static_cast<uint64_t>(now - sent));
    }
  }
  // Single writer (this thread): plain load + store, no read-modify-write.
  w.last_revision.store(last, std::memory_order_relaxed);
  w.events.store(w.events.load(std::memory_order_relaxed) + events_.size(),
                 std::memory_order_relaxed);
  events_received_.store(events_received_.load(std::memory_order_relaxed) + events_.size(),
                         std::memory_order_relaxed);
  last_event_ns_ = now;
  if (sink_ != nullptr) sink_->OnEvents(events_, now);
}

void WatchStream::MaybeFinish() {
  if (finishing_ || write_pending_ || !read_done_) return;
  finishing_ = true;
  stream_->Finish(&status_, &finish_tag_);
}

void WatchStream::OnFinish(bool) {
  // The last thing this stream does: the main thread may read (and then destroy) it after.
  group_->StreamFinished();
}

}  // namespace keel::bench
