#include "server/transport/snapshot_sender.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/crc32c.h"

namespace keel::transport::internal {
namespace {

// An ack is a few bytes; anything bigger is not an ack.
constexpr size_t kMaxAckFrameBytes = 64 << 10;

}  // namespace

SnapshotSender::SnapshotSender(asio::io_context& io, ConnectionHost* host, uint64_t id,
                               std::string address, raft::Message message, bool corrupt_for_test)
    : host_(host),
      id_(id),
      address_(std::move(address)),
      message_(std::move(message)),
      corrupt_for_test_(corrupt_for_test),
      resolver_(io),
      socket_(io),
      timer_(io),
      ack_decoder_(kMaxAckFrameBytes) {
  KEEL_CHECK(message_.type == raft::MessageType::kSnap && message_.snapshot)
      << "SnapshotSender needs a kSnap message with a snapshot";
}

void SnapshotSender::Start() {
  Counters::Add(host_->counters().dials, 1);
  std::string host;
  std::string port;
  if (absl::Status s = SplitHostPort(address_, &host, &port); !s.ok()) {
    return Finish(false, true, std::string(s.message()));
  }
  ArmTimer();
  resolver_.async_resolve(
      host, port,
      [self = shared_from_this()](const asio::error_code& error,
                                  asio::ip::tcp::resolver::results_type endpoints) {
        if (self->finished_) return;
        if (error) return self->Finish(false, true, absl::StrCat("resolve: ", error.message()));
        asio::async_connect(self->socket_, endpoints,
                            [self](const asio::error_code& error, const asio::ip::tcp::endpoint&) {
                              if (self->finished_) return;
                              if (error) {
                                Counters::Add(self->host_->counters().dial_failures, 1);
                                return self->Finish(false, true,
                                                    absl::StrCat("connect: ", error.message()));
                              }
                              self->OnConnected();
                            });
      });
}

void SnapshotSender::Abort() {
  if (finished_) return;
  finished_ = true;
  asio::error_code ignored;
  socket_.close(ignored);
  resolver_.cancel();
  timer_.cancel();
}

void SnapshotSender::ArmTimer() {
  timer_.expires_after(host_->options().snapshot_idle_timeout);
  timer_.async_wait([self = shared_from_this()](const asio::error_code& error) {
    if (!error && !self->finished_) self->Finish(false, true, "snapshot stream stalled");
  });
}

void SnapshotSender::OnConnected() {
  asio::error_code ignored;
  socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
  Hello hello;
  hello.cluster_id = host_->options().cluster_id;
  hello.from = host_->options().self_id;
  hello.to = message_.to;
  hello.stream = StreamKind::kSnapshot;
  auto buffer = std::make_shared<std::string>();
  AppendHelloFrame(hello, buffer.get());
  asio::async_write(
      socket_, asio::buffer(*buffer),
      [self = shared_from_this(), buffer](const asio::error_code& error, size_t bytes) {
        if (self->finished_) return;
        if (error) {
          return self->Finish(false, true, absl::StrCat("write: ", error.message()));
        }
        Counters::Add(self->host_->counters().bytes_sent, bytes);
        self->hello_written_ = true;
        if (self->accepted_) self->WriteNext();
      });
  // Nothing more is written until the receiver has accepted us: a refused stream costs one
  // round trip, not the snapshot.
  ReadReply();
}

void SnapshotSender::WriteNext() {
  const PeerTransportOptions& options = host_->options();
  const std::string_view data = message_.snapshot->data.view();
  auto buffer = std::make_shared<std::string>();
  if (!header_sent_) {
    AppendSnapshotHeaderFrame(SnapshotHeader{message_, data.size()}, buffer.get());
    header_sent_ = true;
  } else if (offset_ < data.size()) {
    std::string_view chunk = data.substr(offset_, options.snapshot_chunk_bytes);
    crc_ = Crc32cExtend(crc_, chunk);
    AppendSnapshotChunkFrame(chunk, buffer.get());
    if (corrupt_for_test_ && offset_ == 0) buffer->back() ^= 0x01;
    offset_ += chunk.size();
  } else if (!end_sent_) {
    AppendSnapshotEndFrame(SnapshotEnd{crc_}, buffer.get());
    end_sent_ = true;
  } else {
    return ReadReply();
  }
  asio::async_write(
      socket_, asio::buffer(*buffer),
      [self = shared_from_this(), buffer](const asio::error_code& error, size_t bytes) {
        if (self->finished_) return;
        if (error) {
          return self->Finish(false, true, absl::StrCat("write: ", error.message()));
        }
        Counters::Add(self->host_->counters().bytes_sent, bytes);
        self->ArmTimer();
        self->WriteNext();
      });
}

void SnapshotSender::ReadReply() {
  // A frame may already be buffered (the Hello and the ack never arrive together, but a
  // hostile or buggy receiver could send anything).
  absl::StatusOr<std::optional<Frame>> frame = ack_decoder_.Next();
  if (!frame.ok()) return Finish(false, false, frame.status().ToString());
  if (frame->has_value()) return OnReply(**frame);
  socket_.async_read_some(asio::buffer(read_buffer_), [self = shared_from_this()](
                                                          const asio::error_code& error,
                                                          size_t bytes) {
    if (self->finished_) return;
    if (error) {
      return self->Finish(
          false, true, absl::StrCat(self->accepted_ ? "no ack: " : "refused: ", error.message()));
    }
    Counters::Add(self->host_->counters().bytes_received, bytes);
    self->ack_decoder_.Append(std::string_view(self->read_buffer_.data(), bytes));
    self->ArmTimer();
    self->ReadReply();
  });
}

void SnapshotSender::OnReply(const Frame& frame) {
  if (!accepted_) {
    const auto* hello = std::get_if<Hello>(&frame);
    if (hello == nullptr) return Finish(false, false, "receiver did not answer with a hello");
    absl::Status s = CheckHelloReply(*hello, host_->options(), message_.to, StreamKind::kSnapshot);
    if (!s.ok()) return Finish(false, true, s.ToString());
    accepted_ = true;
    // One write at a time: if our Hello's completion has not run yet, it starts the stream.
    if (hello_written_) WriteNext();
    return;
  }
  const auto* ack = std::get_if<SnapshotAck>(&frame);
  if (ack == nullptr) return Finish(false, false, "expected a snapshot ack");
  if (!end_sent_) return Finish(false, false, "ack before the snapshot was sent");
  Finish(ack->ok, false, ack->error);
}

void SnapshotSender::Finish(bool ok, bool unreachable, const std::string& why) {
  if (finished_) return;
  finished_ = true;
  asio::error_code ignored;
  socket_.close(ignored);
  resolver_.cancel();
  timer_.cancel();
  const raft::NodeId peer = message_.to;
  Counters& counters = host_->counters();
  if (ok) {
    Counters::Add(counters.snapshots_sent, 1);
    Counters::Add(counters.messages_sent, 1);
  } else {
    Counters::Add(counters.snapshot_send_failures, 1);
    Counters::Add(counters.messages_dropped, 1);
    host_->Log(absl::StrCat("snapshot to peer ", peer, " failed: ", why));
  }
  host_->ReportSnapshotStatus(peer, ok);
  if (unreachable) host_->ReportUnreachable(peer);
  host_->SnapshotSenderDone(id_);
}

}  // namespace keel::transport::internal
