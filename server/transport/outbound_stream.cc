#include "server/transport/outbound_stream.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "server/transport/frame_codec.h"

namespace keel::transport::internal {

size_t QueuedSizeBytes(const raft::Message& message) {
  // Entries dominate; the constant stands for the fixed fields and the queue node.
  return raft::TotalSizeBytes(message.entries) + message.context.size() + 64;
}

OutboundStream::OutboundStream(asio::io_context& io, ConnectionHost* host, raft::NodeId peer,
                               std::string address)
    : io_(io), host_(host), peer_(peer), address_(std::move(address)), resolver_(io), timer_(io) {}

void OutboundStream::Start() {
  asio::post(io_, [self = shared_from_this()] { self->Dial(); });
}

void OutboundStream::Close() {
  size_t dropped = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    state_ = State::kClosed;
    dropped = queue_.size();
    queue_.clear();
    queued_bytes_ = 0;
  }
  Counters::Add(host_->counters().messages_dropped, dropped);
  asio::post(io_, [self = shared_from_this()] { self->Shutdown(); });
}

void OutboundStream::CloseAfterFlush(std::chrono::milliseconds limit) {
  bool connected = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ == State::kClosed) return;
    connected = state_ == State::kConnected;
    if (connected) draining_ = true;
  }
  if (!connected) return Close();  // nothing can be written before it would dial
  asio::post(io_, [self = shared_from_this(), limit] { self->Drain(limit); });
}

void OutboundStream::Drain(std::chrono::milliseconds limit) {
  timer_.expires_after(limit);
  timer_.async_wait([self = shared_from_this(), generation = generation_](
                        const asio::error_code& error) {
    if (!error && self->Current(generation)) self->Shutdown();  // a peer that does not read
  });
  Flush();  // shuts down once nothing is queued or being written
}

void OutboundStream::Redial(std::string address) {
  asio::post(io_, [self = shared_from_this(), address = std::move(address)]() mutable {
    self->address_ = std::move(address);
    self->consecutive_failures_ = 0;
    self->Dial();
  });
}

void OutboundStream::PeerIsUp() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ != State::kBackoff) return;
  }
  Dial();  // a new generation: the backoff timer's handler stands down
}

size_t OutboundStream::Enqueue(std::vector<raft::Message> messages) {
  size_t accepted = 0;
  bool post_flush = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ == State::kBackoff || state_ == State::kClosed || draining_) {
      return messages.size();
    }
    const PeerTransportOptions& options = host_->options();
    for (raft::Message& m : messages) {
      size_t size = QueuedSizeBytes(m);
      // Refuse the rest once one does not fit, so what is sent stays a prefix of what was
      // given, in order.
      if (queue_.size() >= options.max_queued_messages ||
          queued_bytes_ + size > options.max_queued_bytes) {
        break;
      }
      queued_bytes_ += size;
      queue_.push_back(std::move(m));
      ++accepted;
    }
    if (accepted > 0 && state_ == State::kConnected && !flush_posted_) {
      flush_posted_ = true;
      post_flush = true;
    }
  }
  // dispatch: on the transport thread (the raft loop's Ready) the write starts now, so a leader's
  // appends leave before it fsyncs them; from elsewhere it is posted there.
  if (post_flush) asio::dispatch(io_, [self = shared_from_this()] { self->Flush(); });
  return messages.size() - accepted;
}

bool OutboundStream::connected() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_ == State::kConnected;
}

void OutboundStream::Dial() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ == State::kClosed) return;
    state_ = State::kDialing;
  }
  // Abandon whatever the previous attempt had in flight (Redial comes here while connected).
  const uint64_t generation = ++generation_;
  asio::error_code ignored;
  if (connection_) connection_->socket.close(ignored);
  resolver_.cancel();
  handshake_done_ = false;
  writing_ = false;
  Counters::Add(host_->counters().dials, 1);

  std::string host;
  std::string port;
  if (absl::Status s = SplitHostPort(address_, &host, &port); !s.ok()) {
    return Fail(generation, std::string(s.message()));
  }
  auto connection = std::make_shared<Connection>(io_);
  connection_ = connection;
  auto self = shared_from_this();
  // Covers resolving, connecting and the Hello exchange.
  timer_.expires_after(host_->options().dial_timeout);
  timer_.async_wait([self, generation](const asio::error_code& error) {
    if (!error && self->Current(generation)) self->Fail(generation, "dial timed out");
  });
  resolver_.async_resolve(
      host, port,
      [self, generation, connection](const asio::error_code& error,
                                     asio::ip::tcp::resolver::results_type endpoints) {
        if (!self->Current(generation)) return;
        if (error) return self->Fail(generation, absl::StrCat("resolve: ", error.message()));
        asio::async_connect(connection->socket, endpoints,
                            [self, generation, connection](const asio::error_code& error,
                                                           const asio::ip::tcp::endpoint&) {
                              if (!self->Current(generation)) return;
                              if (error) {
                                return self->Fail(generation,
                                                  absl::StrCat("connect: ", error.message()));
                              }
                              self->OnConnected(generation);
                            });
      });
}

void OutboundStream::OnConnected(uint64_t generation) {
  asio::error_code ignored;
  connection_->socket.set_option(asio::ip::tcp::no_delay(true), ignored);
  Hello hello;
  hello.cluster_id = host_->options().cluster_id;
  hello.from = host_->options().self_id;
  hello.to = peer_;
  hello.stream = StreamKind::kMessages;
  auto buffer = std::make_shared<std::string>();
  AppendHelloFrame(hello, buffer.get());
  writing_ = true;
  asio::async_write(connection_->socket, asio::buffer(*buffer),
                    [self = shared_from_this(), generation, buffer, connection = connection_](
                        const asio::error_code& error, size_t bytes) {
                      self->OnWritten(generation, error, bytes, 0);
                    });
  Read(generation);
}

void OutboundStream::Read(uint64_t generation) {
  connection_->socket.async_read_some(
      asio::buffer(connection_->read_buffer),
      [self = shared_from_this(), generation, connection = connection_](
          const asio::error_code& error, size_t bytes) { self->OnRead(generation, error, bytes); });
}

void OutboundStream::OnRead(uint64_t generation, const asio::error_code& error, size_t bytes) {
  if (!Current(generation)) return;
  if (error) {
    return Fail(generation, handshake_done_
                                ? absl::StrCat("connection lost: ", error.message())
                                : absl::StrCat("peer refused our hello: ", error.message()));
  }
  Counters::Add(host_->counters().bytes_received, bytes);
  if (handshake_done_) return Fail(generation, "peer wrote on a message stream");
  FrameDecoder& decoder = connection_->decoder;
  decoder.Append(std::string_view(connection_->read_buffer.data(), bytes));
  absl::StatusOr<std::optional<Frame>> frame = decoder.Next();
  if (!frame.ok()) return Fail(generation, frame.status().ToString());
  if (!frame->has_value()) return Read(generation);
  const Hello* reply = std::get_if<Hello>(&**frame);
  if (reply == nullptr) return Fail(generation, "peer did not answer with a hello");
  absl::Status s = CheckHelloReply(*reply, host_->options(), peer_, StreamKind::kMessages);
  if (!s.ok()) return Fail(generation, s.ToString());
  if (decoder.buffered_bytes() > 0) return Fail(generation, "peer wrote on a message stream");

  timer_.cancel();
  handshake_done_ = true;
  connected_at_ = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ == State::kClosed) return;
    state_ = State::kConnected;
  }
  Read(generation);  // from now on, any completion means the connection is gone
  Flush();
}

void OutboundStream::Flush() {
  std::vector<raft::Message> batch;
  bool draining = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    flush_posted_ = false;
    if (state_ != State::kConnected || writing_) return;
    batch.reserve(queue_.size());
    for (raft::Message& m : queue_) batch.push_back(std::move(m));
    queue_.clear();
    queued_bytes_ = 0;
    draining = draining_;
  }
  if (batch.empty()) {
    if (draining) Shutdown();
    return;
  }
  // Encoding happens here, on the transport thread, rather than in Send(): the raft loop only
  // pays for moving shared-payload structs into the queue.
  auto buffer = std::make_shared<std::string>();
  size_t skipped = AppendMessagesFrames(batch, host_->options().max_frame_bytes, buffer.get());
  if (skipped > 0) {
    Counters::Add(host_->counters().messages_dropped, skipped);
    host_->Log(absl::StrCat("peer ", peer_, ": dropped ", skipped,
                            " message(s) larger than max_frame_bytes"));
  }
  if (buffer->empty()) {
    if (draining) Shutdown();
    return;
  }
  writing_ = true;
  const uint64_t generation = generation_;
  const size_t messages = batch.size() - skipped;
  asio::async_write(connection_->socket, asio::buffer(*buffer),
                    [self = shared_from_this(), generation, buffer, messages,
                     connection = connection_](const asio::error_code& error, size_t bytes) {
                      self->OnWritten(generation, error, bytes, messages);
                    });
}

void OutboundStream::OnWritten(uint64_t generation, const asio::error_code& error, size_t bytes,
                               size_t messages) {
  if (!Current(generation)) return;
  writing_ = false;
  if (error) return Fail(generation, absl::StrCat("write: ", error.message()));
  Counters::Add(host_->counters().bytes_sent, bytes);
  Counters::Add(host_->counters().messages_sent, messages);
  Flush();
}

void OutboundStream::Fail(uint64_t generation, const std::string& why) {
  if (!Current(generation)) return;
  bool draining = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    draining = draining_;
  }
  if (draining) return Shutdown();  // a removed peer is not redialed
  ++generation_;
  asio::error_code ignored;
  if (connection_) connection_->socket.close(ignored);
  timer_.cancel();
  resolver_.cancel();
  writing_ = false;
  handshake_done_ = false;
  bool was_dialing = false;
  size_t dropped = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ == State::kClosed) return;
    was_dialing = state_ == State::kDialing;
    state_ = State::kBackoff;
    dropped = queue_.size();
    queue_.clear();
    queued_bytes_ = 0;
  }
  Counters& counters = host_->counters();
  if (was_dialing) Counters::Add(counters.dial_failures, 1);
  Counters::Add(counters.messages_dropped, dropped);
  // A connection that stayed up for a while starts a fresh streak; failed dials (refused
  // Hellos included) and connections that die at once keep backing off.
  const PeerTransportOptions& options = host_->options();
  if (!was_dialing && std::chrono::steady_clock::now() - connected_at_ >= options.backoff_max) {
    consecutive_failures_ = 0;
  }
  ++consecutive_failures_;
  if (consecutive_failures_ == 1) host_->Log(absl::StrCat("peer ", peer_, ": ", why));
  host_->ReportUnreachable(peer_);

  const uint64_t backoff_generation = generation_;
  timer_.expires_after(host_->BackoffDelay(consecutive_failures_));
  timer_.async_wait([self = shared_from_this(), backoff_generation](const asio::error_code& error) {
    if (!error && self->Current(backoff_generation)) self->Dial();
  });
}

void OutboundStream::Shutdown() {
  ++generation_;
  asio::error_code ignored;
  if (connection_) connection_->socket.close(ignored);
  timer_.cancel();
  resolver_.cancel();
  size_t dropped = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    state_ = State::kClosed;
    dropped = queue_.size();
    queue_.clear();
    queued_bytes_ = 0;
  }
  Counters::Add(host_->counters().messages_dropped, dropped);
}

}  // namespace keel::transport::internal
