#include "server/watch_service.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <set>

#include "base/etcd_errors.h"
#include "google/protobuf/io/coded_stream.h"
#include "grpcpp/support/proto_buffer_reader.h"

namespace keel::server {
namespace {

using etcdserverpb::WatchRequest;
using etcdserverpb::WatchResponse;

watch::WatchSpec SpecOf(const etcdserverpb::WatchCreateRequest& create) {
  watch::WatchSpec spec;
  spec.key = create.key();
  spec.range_end = create.range_end();
  spec.start_revision = create.start_revision();
  spec.prev_kv = create.prev_kv();
  spec.progress_notify = create.progress_notify();
  for (int f : create.filters()) {
    if (f == etcdserverpb::WatchCreateRequest::NOPUT) spec.no_put = true;
    if (f == etcdserverpb::WatchCreateRequest::NODELETE) spec.no_delete = true;
  }
  return spec;
}

using RawReactor = BidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>;

// Responses up to this size are copied into one slice rather than referencing each batch.
constexpr size_t kCopyResponseBytes = 64 * 1024;

bool ParseRequest(grpc::ByteBuffer* buffer, WatchRequest* request) {
  grpc::ProtoBufferReader reader(buffer);
  return request->ParseFromZeroCopyStream(&reader);
}

void AppendCopy(const std::string& bytes, std::vector<grpc::Slice>* slices) {
  slices->emplace_back(bytes.data(), bytes.size());
}

// A slice over a batch's wire bytes that keeps the batch alive until gRPC is done with it.
void AppendShared(const std::shared_ptr<const watch::EventBatch>& batch,
                  std::vector<grpc::Slice>* slices) {
  if (batch->wire.empty()) return;
  auto* owner = new std::shared_ptr<const watch::EventBatch>(batch);
  slices->emplace_back(
      const_cast<char*>(batch->wire.data()), batch->wire.size(),
      [](void* p) { delete static_cast<std::shared_ptr<const watch::EventBatch>*>(p); }, owner);
}

// A stream refused before it starts (etcd's "no leader" check).
class RefusedWatch final : public RawReactor {
 public:
  explicit RefusedWatch(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

// One stream. Lifetime: created by gRPC's Watch(), deleted in OnDone() after the stream is
// closed in the hub (so no hub callback can reach it afterwards).
class WatchService::Reactor final : public RawReactor {
 public:
  explicit Reactor(WatchService* service)
      : service_(service), ctx_(service->ctx_), hub_(service->hub_) {
    stream_ = hub_->OpenStream([this] { WriteIfIdle(); });
    StartRead(&request_);
  }

  // The server is stopping: end the call (Unavailable) once no write is in flight.
  void Stop() {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    FinishIfDoneLocked();
  }

  void OnReadDone(bool ok) override {
    if (ok) {
      WatchRequest request;
      // etcd ends a stream whose request does not parse; gRPC would have refused it before
      // the handler in the typed API. An unparsable request is dropped here.
      if (ParseRequest(&request_, &request)) Handle(request);
      request_.Clear();
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (!ok) {
      // The client closed its side or went away: end the call once no write is in flight.
      reads_done_ = true;
      FinishIfDoneLocked();
      return;
    }
    if (!finished_) StartRead(&request_);  // under mu_: a stopping server may have finished
    WriteNextLocked();
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (!ok) write_failed_ = true;  // the call is broken; reads will end too
    if (!write_failed_) WriteNextLocked();
    FinishIfDoneLocked();
  }

  void OnDone() override {
    {
      std::lock_guard<std::mutex> lock(service_->mu_);
      service_->reactors_.erase(this);
    }
    hub_->CloseStream(stream_);
    delete this;
  }

 private:
  void Handle(const WatchRequest& req) {
    switch (req.request_union_case()) {
      case WatchRequest::kCreateRequest: {
        int64_t id =
            hub_->Watch(*stream_, req.create_request().watch_id(), SpecOf(req.create_request()));
        if (id >= 0 && req.create_request().fragment()) {
          std::lock_guard<std::mutex> lock(mu_);
          fragmented_.insert(id);
        }
        break;
      }
      case WatchRequest::kCancelRequest:
        if (hub_->Cancel(*stream_, req.cancel_request().watch_id())) {
          std::lock_guard<std::mutex> lock(mu_);
          fragmented_.erase(req.cancel_request().watch_id());
        }
        break;
      case WatchRequest::kProgressRequest:
        hub_->RequestProgress(*stream_);
        break;
      case WatchRequest::REQUEST_UNION_NOT_SET:
        break;  // etcd ignores an empty request
    }
  }

  void WriteIfIdle() {
    std::lock_guard<std::mutex> lock(mu_);
    WriteNextLocked();
  }

  void WriteNextLocked() {
    if (writing_ || finished_ || write_failed_ || stopping_) return;
    if (!fragments_.empty()) {
      WriteMessageLocked(fragments_.front());
      fragments_.pop_front();
      return;
    }
    std::optional<watch::WatchUpdate> update = hub_->Take(*stream_);
    if (!update) return;
    response_.Clear();
    ctx_->FillHeader(response_.mutable_header(), update->revision);
    // etcd 3.4 answers a compaction cancel with header revision 0 (FillHeader would put the
    // current revision there).
    response_.mutable_header()->set_revision(update->revision);
    response_.set_watch_id(update->watch_id);
    response_.set_created(update->created);
    response_.set_canceled(update->canceled);
    response_.set_compact_revision(update->compact_revision);
    response_.set_cancel_reason(update->cancel_reason);
    if (update->has_events() && fragmented_.count(update->watch_id) > 0) {
      for (const auto& e : update->Events()) *response_.add_events() = e;
      Fragment();
      WriteMessageLocked(fragments_.front());
      fragments_.pop_front();
      return;
    }
    // Header fields, then the shared events: field order does not matter to a parser, and
    // repeated field 11 entries concatenate. A small response (the common case: a few merged
    // batches) is copied into one slice — one allocation instead of one per batch; a large
    // one references the batches' bytes.
    std::string head = response_.SerializeAsString();
    size_t total = head.size() + update->event_bytes();
    if (total <= kCopyResponseBytes) {
      grpc::Slice one(total);
      char* at = reinterpret_cast<char*>(const_cast<uint8_t*>(one.begin()));
      at = std::copy(head.begin(), head.end(), at);
      for (const auto& batch : update->batches) {
        at = std::copy(batch->wire.begin(), batch->wire.end(), at);
      }
      out_ = grpc::ByteBuffer(&one, 1);
    } else {
      std::vector<grpc::Slice> slices;
      slices.reserve(1 + update->batches.size());
      AppendCopy(head, &slices);
      for (const auto& batch : update->batches) AppendShared(batch, &slices);
      out_ = grpc::ByteBuffer(slices.data(), slices.size());
    }
    writing_ = true;
    // No gRPC buffer hint here even when more is queued: a buffered write may not complete
    // until something flushes it, and with one write in flight the next never starts (seen
    // as a 10 s stall of a compaction cancel queued right behind a "created").
    StartWrite(&out_);
  }

  void WriteMessageLocked(const WatchResponse& message) {
    std::vector<grpc::Slice> slices;
    AppendCopy(message.SerializeAsString(), &slices);
    out_ = grpc::ByteBuffer(slices.data(), slices.size());
    writing_ = true;
    StartWrite(&out_);
  }

  // etcd's sendFragments (v3rpc/watch.go): a response of at least --max-request-bytes plus
  // gRPC's 512 KiB allowance (etcd's watch server limit) with two or more events becomes
  // several, each under the limit unless one event alone passes it, all marked fragment
  // except the last. Leaves them (or response_ unchanged) in fragments_.
  void Fragment() {
    const size_t limit = ctx_->config->max_request_bytes + 512 * 1024;
    if (response_.ByteSizeLong() < limit || response_.events_size() < 2) {
      fragments_.push_back(std::move(response_));
      return;
    }
    WatchResponse base = response_;
    base.clear_events();
    base.set_fragment(true);
    const size_t base_bytes = base.ByteSizeLong();
    auto event_bytes = [](const mvccpb::Event& e) {  // as a repeated field 11 element
      size_t n = e.ByteSizeLong();
      return 1 + google::protobuf::io::CodedOutputStream::VarintSize64(n) + n;
    };
    WatchResponse cur = base;
    size_t cur_bytes = base_bytes;
    for (auto& e : *response_.mutable_events()) {
      size_t n = event_bytes(e);
      if (cur.events_size() > 0 && cur_bytes + n >= limit) {
        fragments_.push_back(std::move(cur));
        cur = base;
        cur_bytes = base_bytes;
      }
      *cur.add_events() = std::move(e);
      cur_bytes += n;
    }
    cur.set_fragment(false);
    fragments_.push_back(std::move(cur));
  }

  void FinishIfDoneLocked() {
    if (finished_ || writing_ || !(reads_done_ || write_failed_ || stopping_)) return;
    finished_ = true;
    // A stopping server answers like a lost connection (Unavailable), so clients reconnect
    // elsewhere or later, as they do when an etcd member goes away.
    Finish(stopping_ && !reads_done_ ? ToGrpc(ErrStopped()) : grpc::Status::OK);
  }

  WatchService* service_;
  const ServiceContext* ctx_;
  watch::WatchHub* hub_;
  std::shared_ptr<watch::WatchHub::Stream> stream_;
  grpc::ByteBuffer request_;  // owned by the one read in flight

  std::mutex mu_;
  WatchResponse response_;  // guarded by mu_; scratch for the next write
  grpc::ByteBuffer out_;    // guarded by mu_; owned by the one write in flight
  // Guarded by mu_: watches created with fragment, and the rest of a fragmented response.
  std::set<int64_t> fragmented_;
  std::deque<WatchResponse> fragments_;
  bool writing_ = false;
  bool reads_done_ = false;
  bool write_failed_ = false;
  bool stopping_ = false;
  bool finished_ = false;
};

BidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* WatchService::Watch(grpc::ServerContext* context) {
  // etcdctl and clientv3 send "hasleader: true" on watches; etcd then refuses to serve a
  // watch that could silently stall while the member has no leader.
  const auto& metadata = context->client_metadata();
  auto has_leader = metadata.find("hasleader");
  if (has_leader != metadata.end() && has_leader->second == "true" && ctx_->raft->leader() == 0) {
    return new RefusedWatch(ToGrpc(ErrNoLeader()));
  }
  auto* reactor = new Reactor(this);
  std::lock_guard<std::mutex> lock(mu_);
  reactors_.insert(reactor);
  return reactor;
}

void WatchService::FinishAll() {
  std::lock_guard<std::mutex> lock(mu_);
  for (Reactor* r : reactors_) r->Stop();  // OnDone (which erases) waits for mu_
}

}  // namespace keel::server
