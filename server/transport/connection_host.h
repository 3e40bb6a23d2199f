// What the transport's connection classes (outbound streams, inbound connections, snapshot
// senders) need from the transport that owns them. Internal to server/transport/.
//
// Every method is called on the transport thread only.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
#include "raft/types.h"
#include "server/transport/frame_codec.h"
#include "server/transport/peer_transport.h"

namespace keel::transport::internal {

// The live form of PeerTransportStats. Relaxed atomics: Send() counts drops on caller threads.
struct Counters {
  std::atomic<uint64_t> messages_sent{0};
  std::atomic<uint64_t> messages_received{0};
  std::atomic<uint64_t> messages_dropped{0};
  std::atomic<uint64_t> bytes_sent{0};
  std::atomic<uint64_t> bytes_received{0};
  std::atomic<uint64_t> snapshots_sent{0};
  std::atomic<uint64_t> snapshot_send_failures{0};
  std::atomic<uint64_t> snapshots_received{0};
  std::atomic<uint64_t> snapshot_receive_failures{0};
  std::atomic<uint64_t> dials{0};
  std::atomic<uint64_t> dial_failures{0};
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<uint64_t> connections_rejected{0};

  static void Add(std::atomic<uint64_t>& counter, uint64_t n) {
    counter.fetch_add(n, std::memory_order_relaxed);
  }
  PeerTransportStats Snapshot() const;
};

class ConnectionHost {
 public:
  virtual ~ConnectionHost() = default;

  virtual const PeerTransportOptions& options() const = 0;
  virtual Counters& counters() = 0;

  // Whether an inbound connection introducing itself with `hello` may proceed.
  // May adopt the peer's cluster id (see PeerTransportOptions::cluster_id).
  virtual absl::Status CheckHello(const Hello& hello) = 0;
  // Whether a message that arrived is to be dropped (from a removed member, or by the test
  // fault hooks).
  virtual bool RefuseInbound(const raft::Message& message) const = 0;

  // Callbacks to the application; no-ops once the transport is stopping.
  virtual void Deliver(raft::Message message) = 0;
  virtual void ReportUnreachable(raft::NodeId peer) = 0;
  virtual void ReportSnapshotStatus(raft::NodeId peer, bool ok) = 0;
  virtual void Log(std::string_view event) = 0;

  // The jittered delay before redialing after `failures` consecutive failures (>= 1).
  virtual std::chrono::milliseconds BackoffDelay(int failures) = 0;

  // An inbound connection introduced itself as `peer`'s stream of `kind`. A peer keeps one
  // stream of each kind to us, so an older one is closed: after a crash or a partition it
  // may linger half-open, and without this such leftovers would pile up.
  virtual void ClaimStream(raft::NodeId peer, StreamKind kind, uint64_t connection_id) = 0;

  // Completion notices, so the transport can forget the connection.
  virtual void InboundClosed(uint64_t connection_id) = 0;
  virtual void SnapshotSenderDone(uint64_t sender_id) = 0;
};

// Checks the Hello a peer answered ours with: same protocol and cluster, the member we dialed,
// addressed to us, on the kind of stream we opened.
absl::Status CheckHelloReply(const Hello& reply, const PeerTransportOptions& options,
                             raft::NodeId peer, StreamKind stream);

// "host:port" (host may be a bracketed IPv6 literal) -> host and port.
absl::Status SplitHostPort(std::string_view address, std::string* host, std::string* port);

}  // namespace keel::transport::internal
