// One Watch stream of the watch and watch-get commands: it creates its watchers (one create
// request in flight at a time, as etcd's clients do), then reads responses as raw bytes
// (watch_scan.h) on one completion-queue thread and, per event, checks that the watcher's
// revisions strictly increase and records the delivery latency carried in the value.
#pragma once

#include <grpcpp/generic/generic_stub.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "bench/keel_bench/conn.h"
#include "bench/keel_bench/cq_pool.h"
#include "bench/keel_bench/histogram.h"
#include "bench/keel_bench/watch_scan.h"

namespace keel::bench {

struct WatcherSpec {
  std::string key;
  std::string range_end;
  int64_t start_revision = 0;
  uint32_t key_index = 0;  // which watched key (the watch command's expected-event count)
  bool no_put = false;     // filter PUT events out (WatchCreateRequest.filters = [NOPUT])
};

// Optionally told about every response's events, on the stream's thread, after the stream's
// own bookkeeping. The views point into the response: copy what must outlive the call.
class WatchEventSink {
 public:
  virtual ~WatchEventSink() = default;
  virtual void OnEvents(const std::vector<WatchEventView>& events, int64_t received_ns) = 0;
};

// What a watcher has received. Written by its stream's thread, read by the main thread while
// the run goes on (hence atomics, relaxed: the main thread only polls for progress).
struct WatcherState {
  std::atomic<int64_t> last_revision{0};
  std::atomic<uint64_t> events{0};
  uint32_t key_index = 0;
  bool created = false;
  bool canceled = false;
};

// Shared by all streams of a run: how many are ready (every watcher created) or finished.
class WatchGroup {
 public:
  void StreamReady();
  void StreamFinished();
  // Waits until every stream is ready or finished; false at the deadline.
  bool WaitReady(int streams, std::chrono::steady_clock::time_point deadline);
  void WaitFinished(int streams);
  int finished();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int ready_ = 0;
  int finished_ = 0;
};

class WatchStream {
 public:
  // `sink` may be null; it must outlive the stream.
  WatchStream(Conn* conn, grpc::CompletionQueue* queue, std::vector<WatcherSpec> watchers,
              WatchGroup* group, WatchEventSink* sink = nullptr);
  WatchStream(const WatchStream&) = delete;
  WatchStream& operator=(const WatchStream&) = delete;

  void Start();
  // Ends the stream (any thread); the group hears StreamFinished().
  void Cancel();

  // Valid while running (atomics) and after the group saw StreamFinished().
  size_t watcher_count() const { return watchers_.size(); }
  const WatcherState& watcher(size_t i) const { return watchers_[i]; }
  // Watchers created so far (any thread).
  size_t created() const { return created_.load(std::memory_order_relaxed); }
  // Events received so far (any thread).
  uint64_t events_received() const { return events_received_.load(std::memory_order_relaxed); }

  // After StreamFinished().
  const Histogram& delivery_latency_ns() const { return latency_ns_; }
  int64_t last_event_ns() const { return last_event_ns_; }
  uint64_t order_violations() const { return order_violations_; }
  const std::string& first_violation() const { return first_violation_; }
  uint64_t canceled_watchers() const { return canceled_; }
  const std::string& cancel_reason() const { return cancel_reason_; }
  uint64_t malformed_responses() const { return malformed_; }
  uint64_t unknown_watch_ids() const { return unknown_ids_; }
  uint64_t responses() const { return responses_; }
  const grpc::Status& status() const { return status_; }
  bool canceled_by_us() const { return cancel_requested_.load(); }

 private:
  void OnStart(bool ok);
  void OnWrite(bool ok);
  void OnRead(bool ok);
  void OnFinish(bool ok);
  void WriteNextCreate();
  void Handle(const WatchResponseView& response);
  void MaybeFinish();

  grpc::GenericStub stub_;
  grpc::CompletionQueue* queue_;
  WatchGroup* group_;
  WatchEventSink* sink_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> stream_;

  std::vector<WatcherSpec> specs_;
  std::vector<WatcherState> watchers_;
  absl::flat_hash_map<int64_t, uint32_t> slot_by_watch_id_;
  size_t next_create_ = 0;
  std::atomic<size_t> created_{0};  // written by the stream's thread only

  grpc::ByteBuffer write_buffer_;
  grpc::ByteBuffer read_buffer_;
  std::vector<grpc::Slice> slices_;
  std::string flat_;
  std::vector<WatchEventView> events_;

  bool write_pending_ = false;
  bool read_done_ = false;
  bool finishing_ = false;
  std::atomic<bool> cancel_requested_{false};
  std::atomic<uint64_t> events_received_{0};

  Histogram latency_ns_;
  int64_t last_event_ns_ = 0;
  uint64_t order_violations_ = 0;
  std::string first_violation_;
  uint64_t canceled_ = 0;
  std::string cancel_reason_;
  uint64_t malformed_ = 0;
  uint64_t unknown_ids_ = 0;
  uint64_t responses_ = 0;
  grpc::Status status_;

  MethodTag<WatchStream, &WatchStream::OnStart> start_tag_{this};
  MethodTag<WatchStream, &WatchStream::OnWrite> write_tag_{this};
  MethodTag<WatchStream, &WatchStream::OnRead> read_tag_{this};
  MethodTag<WatchStream, &WatchStream::OnFinish> finish_tag_{this};
};

// A value's first 8 bytes as the sender's NowNs(); false when the value is shorter or the
// time is not plausible (in the future, or more than an hour ago: a value from another run).
bool SendTimeOf(std::string_view value, int64_t now_ns, int64_t* sent_ns);

}  // namespace keel::bench
