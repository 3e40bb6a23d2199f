#include "server/transport/inbound_connection.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/crc32c.h"

namespace keel::transport::internal {
namespace {

constexpr size_t kReadBufferBytes = 64 << 10;
// Reserve at most this much up front for a snapshot: the header's size is the peer's word.
constexpr uint64_t kMaxSnapshotReserveBytes = 64 << 20;

absl::Status ProtocolError(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("protocol error: ", what));
}

}  // namespace

InboundConnection::InboundConnection(asio::ip::tcp::socket socket, ConnectionHost* host,
                                     uint64_t id)
    : socket_(std::move(socket)),
      host_(host),
      id_(id),
      timer_(socket_.get_executor()),
      decoder_(host->options().max_frame_bytes),
      read_buffer_(kReadBufferBytes) {}

void InboundConnection::Start() {
  asio::error_code ignored;
  socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
  ArmTimer(host_->options().hello_timeout);
  Read();
}

void InboundConnection::Close(bool quiet) {
  if (phase_ == Phase::kClosed) return;
  phase_ = Phase::kClosed;
  asio::error_code ignored;
  socket_.close(ignored);
  timer_.cancel();
  if (!quiet) host_->InboundClosed(id_);
}

void InboundConnection::ArmTimer(std::chrono::milliseconds limit) {
  timer_.expires_after(limit);
  timer_.async_wait([self = shared_from_this()](const asio::error_code& error) {
    if (error || self->phase_ == Phase::kClosed || self->phase_ == Phase::kMessages) return;
    self->Fail(absl::DeadlineExceededError(
        self->phase_ == Phase::kHello ? "no hello in time" : "snapshot stream stalled"));
  });
}

void InboundConnection::Read() {
  socket_.async_read_some(asio::buffer(read_buffer_),
                          [self = shared_from_this()](const asio::error_code& error, size_t bytes) {
                            self->OnRead(error, bytes);
                          });
}

void InboundConnection::OnRead(const asio::error_code& error, size_t bytes) {
  if (phase_ == Phase::kClosed) return;
  if (error) {
    // The peer closing a message stream is routine (it restarts, or drops us); closing a
    // snapshot stream half way is a failed snapshot.
    if (InSnapshot()) {
      Counters::Add(host_->counters().snapshot_receive_failures, 1);
      host_->Log(absl::StrCat("snapshot from peer ", peer_, " cut off: ", error.message()));
    }
    return Close();
  }
  Counters::Add(host_->counters().bytes_received, bytes);
  decoder_.Append(std::string_view(read_buffer_.data(), bytes));
  while (phase_ != Phase::kClosed && phase_ != Phase::kAcking) {
    absl::StatusOr<std::optional<Frame>> frame = decoder_.Next();
    if (!frame.ok()) return Fail(frame.status());
    if (!frame->has_value()) break;
    if (absl::Status s = Handle(**frame); !s.ok()) return Fail(s);
  }
  if (phase_ == Phase::kAcking) {
    // The sender writes nothing after the end frame.
    if (decoder_.buffered_bytes() > 0) Fail(ProtocolError("bytes after snapshot end"));
    return;
  }
  if (phase_ == Phase::kClosed) return;
  if (InSnapshot()) ArmTimer(host_->options().snapshot_idle_timeout);
  Read();
}

absl::Status InboundConnection::Handle(Frame& frame) {
  switch (phase_) {
    case Phase::kHello:
      if (auto* hello = std::get_if<Hello>(&frame)) return OnHello(*hello);
      return ProtocolError("first frame is not a hello");
    case Phase::kMessages:
      if (auto* batch = std::get_if<MessageBatch>(&frame)) return OnBatch(*batch);
      return ProtocolError("message stream carries only message batches");
    case Phase::kSnapshotHeader:
      if (auto* header = std::get_if<SnapshotHeader>(&frame)) return OnSnapshotHeader(*header);
      return ProtocolError("snapshot stream must start with a header");
    case Phase::kSnapshotData:
      if (auto* chunk = std::get_if<SnapshotChunk>(&frame)) return OnSnapshotChunk(*chunk);
      if (auto* end = std::get_if<SnapshotEnd>(&frame)) return OnSnapshotEnd(*end);
      return ProtocolError("snapshot stream expects chunks then an end");
    case Phase::kAcking:
    case Phase::kClosed:
      break;
  }
  return ProtocolError("frame after the stream ended");
}

absl::Status InboundConnection::OnHello(const Hello& hello) {
  if (absl::Status s = host_->CheckHello(hello); !s.ok()) return s;
  peer_ = hello.from;
  host_->ClaimStream(peer_, hello.stream, id_);
  // Answering tells the dialer it was accepted (until then it queues rather than writes) and
  // lets it check that it reached the member it meant.
  Hello reply;
  reply.cluster_id = host_->options().cluster_id;
  reply.from = host_->options().self_id;
  reply.to = peer_;
  reply.stream = hello.stream;
  std::string bytes;
  AppendHelloFrame(reply, &bytes);
  QueueWrite(bytes);
  if (hello.stream == StreamKind::kMessages) {
    phase_ = Phase::kMessages;
    timer_.cancel();
  } else {
    phase_ = Phase::kSnapshotHeader;
    ArmTimer(host_->options().snapshot_idle_timeout);
  }
  return absl::OkStatus();
}

absl::Status InboundConnection::OnBatch(MessageBatch& batch) {
  const raft::NodeId self = host_->options().self_id;
  for (const raft::Message& m : batch.messages) {
    // The sender dialed us for exactly this pair; anything else is a bug or a forgery.
    if (m.from != peer_ || m.to != self) {
      return ProtocolError(
          absl::StrCat("message ", m.from, "->", m.to, " on the stream ", peer_, "->", self));
    }
  }
  Counters& counters = host_->counters();
  for (raft::Message& m : batch.messages) {
    if (host_->RefuseInbound(m)) {
      Counters::Add(counters.messages_dropped, 1);
    } else {
      Counters::Add(counters.messages_received, 1);
      host_->Deliver(std::move(m));
    }
  }
  return absl::OkStatus();
}

absl::Status InboundConnection::OnSnapshotHeader(SnapshotHeader& header) {
  const raft::Message& m = header.message;
  if (m.from != peer_ || m.to != host_->options().self_id) {
    return ProtocolError(absl::StrCat("snapshot ", m.from, "->", m.to, " on the stream ", peer_,
                                      "->", host_->options().self_id));
  }
  if (header.total_bytes > host_->options().max_snapshot_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat("snapshot of ", header.total_bytes,
                                                     " bytes exceeds the limit of ",
                                                     host_->options().max_snapshot_bytes));
  }
  snapshot_message_ = std::move(header.message);
  snapshot_total_bytes_ = header.total_bytes;
  snapshot_data_.clear();
  snapshot_data_.reserve(std::min(snapshot_total_bytes_, kMaxSnapshotReserveBytes));
  snapshot_crc_ = 0;
  phase_ = Phase::kSnapshotData;
  return absl::OkStatus();
}

absl::Status InboundConnection::OnSnapshotChunk(const SnapshotChunk& chunk) {
  if (snapshot_data_.size() + chunk.data.size() > snapshot_total_bytes_) {
    return ProtocolError(
        absl::StrCat("snapshot chunks exceed the announced ", snapshot_total_bytes_, " bytes"));
  }
  snapshot_crc_ = Crc32cExtend(snapshot_crc_, chunk.data);
  snapshot_data_.append(chunk.data);
  return absl::OkStatus();
}

absl::Status InboundConnection::OnSnapshotEnd(const SnapshotEnd& end) {
  Counters& counters = host_->counters();
  std::string error;
  if (snapshot_data_.size() != snapshot_total_bytes_) {
    error = absl::StrCat("snapshot ended after ", snapshot_data_.size(), " of ",
                         snapshot_total_bytes_, " bytes");
  } else if (snapshot_crc_ != end.crc32c) {
    error = absl::StrCat("snapshot checksum mismatch: received data has crc32c ", snapshot_crc_,
                         ", sender computed ", end.crc32c);
  }
  if (!error.empty()) {
    Counters::Add(counters.snapshot_receive_failures, 1);
    host_->Log(absl::StrCat("snapshot from peer ", peer_, " rejected: ", error));
    SendAck(SnapshotAck{false, std::move(error)});
    return absl::OkStatus();
  }
  if (host_->RefuseInbound(*snapshot_message_)) {
    // Removed, or cut off by a test hook: as if it never arrived; the sender sees no ack.
    Counters::Add(counters.messages_dropped, 1);
    Close();
    return absl::OkStatus();
  }
  raft::Message message = std::move(*snapshot_message_);
  snapshot_message_.reset();
  message.snapshot->data = raft::Bytes(std::move(snapshot_data_));
  snapshot_data_ = std::string();
  Counters::Add(counters.snapshots_received, 1);
  Counters::Add(counters.messages_received, 1);
  host_->Deliver(std::move(message));
  SendAck(SnapshotAck{true, ""});
  return absl::OkStatus();
}

void InboundConnection::SendAck(SnapshotAck ack) {
  phase_ = Phase::kAcking;
  ArmTimer(host_->options().snapshot_idle_timeout);
  std::string bytes;
  AppendSnapshotAckFrame(ack, &bytes);
  close_after_write_ = true;
  QueueWrite(bytes);
}

void InboundConnection::QueueWrite(std::string_view bytes) {
  write_pending_.append(bytes);
  StartWrite();
}

void InboundConnection::StartWrite() {
  if (writing_ || phase_ == Phase::kClosed) return;
  if (write_pending_.empty()) {
    if (close_after_write_) Close();
    return;
  }
  writing_ = true;
  auto buffer = std::make_shared<std::string>(std::move(write_pending_));
  write_pending_.clear();
  asio::async_write(
      socket_, asio::buffer(*buffer),
      [self = shared_from_this(), buffer](const asio::error_code& error, size_t bytes) {
        self->writing_ = false;
        if (self->phase_ == Phase::kClosed) return;
        if (error) return self->Close();
        Counters::Add(self->host_->counters().bytes_sent, bytes);
        self->StartWrite();
      });
}

void InboundConnection::Fail(const absl::Status& status) {
  if (phase_ == Phase::kClosed) return;
  Counters& counters = host_->counters();
  Counters::Add(counters.connections_rejected, 1);
  if (InSnapshot()) Counters::Add(counters.snapshot_receive_failures, 1);
  host_->Log(absl::StrCat("closing inbound connection",
                          peer_ != raft::kNone ? absl::StrCat(" from peer ", peer_) : "", ": ",
                          status.ToString()));
  Close();
}

}  // namespace keel::transport::internal
