// OutboundStream: this member's message connection to one peer. Internal to server/transport/.
//
// States:
//   kDialing   resolving, connecting and the Hello exchange, all within dial_timeout; messages
//              queue meanwhile.
//   kConnected the peer answered our Hello with its own (so it accepted us, and it is the
//              member and cluster we meant); queued messages are written, everything queued
//              while a write was in flight going out in the next one (coalescing).
//   kBackoff   the last attempt failed; messages are dropped (and reported) rather than queued,
//              since by the time the peer is back raft will have sent newer ones.
//   kClosed    removed or stopped; never dials again. A removed peer is first drained:
//              what was queued for it is written (CloseAfterFlush).
// Any failure (dial error or timeout, a refused Hello, write error, the peer closing) drops
// what was queued, reports the peer unreachable and redials after a backoff. After its Hello
// the peer never writes on this connection; a pending read notices at once when it goes away.
//
// Enqueue/Start/Close/Redial may be called from any thread; the rest runs on the transport
// thread. Handlers hold a shared_ptr to the stream and carry the attempt's generation, so a
// completion from an abandoned attempt is ignored.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "asio.hpp"
#include "raft/types.h"
#include "server/transport/connection_host.h"
#include "server/transport/frame_codec.h"

namespace keel::transport::internal {

class OutboundStream : public std::enable_shared_from_this<OutboundStream> {
 public:
  OutboundStream(asio::io_context& io, ConnectionHost* host, raft::NodeId peer,
                 std::string address);

  // Any thread.
  void Start();
  void Close();
  // For a peer removed from the cluster: writes what is already queued, then closes, within
  // `limit`. The last messages to a removed member carry the commit index of its removal;
  // dropped, the member would never learn it was removed and would run on alone.
  void CloseAfterFlush(std::chrono::milliseconds limit);
  // Switches to a new address and dials it at once (queued messages are kept).
  void Redial(std::string address);
  // Transport thread. The peer has just dialed us, so it is up: a stream waiting out a backoff
  // dials now. Otherwise, after a restart, a member would hear nothing from us (no heartbeats,
  // its ReadIndex answers dropped) for up to backoff_max.
  void PeerIsUp();
  // Queues messages (all addressed to this peer); returns how many were dropped instead.
  size_t Enqueue(std::vector<raft::Message> messages);
  // True once the peer has accepted our Hello, until the connection fails.
  bool connected() const;

 private:
  enum class State { kDialing, kConnected, kBackoff, kClosed };

  // One dial attempt's socket and read state, shared with its handlers so that a stale
  // handler never touches the next attempt's buffers.
  struct Connection {
    explicit Connection(asio::io_context& io) : socket(io) {}
    asio::ip::tcp::socket socket;
    FrameDecoder decoder{64 << 10};  // only the peer's Hello ever arrives
    std::array<char, 512> read_buffer{};
  };

  // Transport thread.
  void Dial();
  void OnConnected(uint64_t generation);
  void Read(uint64_t generation);
  void OnRead(uint64_t generation, const asio::error_code& error, size_t bytes);
  void Flush();
  void OnWritten(uint64_t generation, const asio::error_code& error, size_t bytes, size_t messages);
  void Fail(uint64_t generation, const std::string& why);
  void Shutdown();
  void Drain(std::chrono::milliseconds limit);
  bool Current(uint64_t generation) const { return generation == generation_; }

  asio::io_context& io_;
  ConnectionHost* const host_;
  const raft::NodeId peer_;

  // Transport thread only.
  std::string address_;
  asio::ip::tcp::resolver resolver_;
  asio::steady_timer timer_;  // dial timeout, then backoff
  std::shared_ptr<Connection> connection_;
  // Bumped by every dial, failure and shutdown; handlers of older attempts stand down.
  uint64_t generation_ = 0;
  int consecutive_failures_ = 0;
  std::chrono::steady_clock::time_point connected_at_;
  bool handshake_done_ = false;
  bool writing_ = false;

  mutable std::mutex mu_;
  State state_ = State::kDialing;    // guarded by mu_
  std::deque<raft::Message> queue_;  // guarded by mu_
  size_t queued_bytes_ = 0;          // guarded by mu_; Invariant: sum over queue_
  bool flush_posted_ = false;        // guarded by mu_
  bool draining_ = false;            // guarded by mu_; CloseAfterFlush was called
};

// What a queued message counts for against max_queued_bytes.
size_t QueuedSizeBytes(const raft::Message& message);

}  // namespace keel::transport::internal
