// PeerTransport: moves raft messages between the members of a cluster over TCP.
//
// Contract:
// - Send() never blocks and never fails: raft tolerates lost messages, so a message that cannot
//   go out now (peer unknown, connection down, queue full, partitioned by the test hook) is
//   dropped, counted, and, when the peer is the problem, reported through on_unreachable so
//   raft probes instead of streaming into the void.
// - Messages to one peer leave in the order Send() saw them, on one TCP connection per peer
//   (this member dials it), coalesced: whatever is queued when a write finishes goes out in
//   the next write. The peer's messages to us arrive on the connection it dials.
// - A kSnap message goes on a connection of its own, its data streamed in chunks with a
//   CRC32C; the receiver hands raft the whole message only when it arrived intact, and
//   on_snapshot_status tells the sender how it went (raft's ReportSnapshot).
// - Every callback runs on the transport's own thread and must be cheap (enqueue and return);
//   it must not call Stop() or destroy the transport. No callback runs after Stop() returns.
// - Inbound connections say who they are in a Hello; a connection from another cluster, from a
//   member this transport does not know, or meant for another member is closed.
//
// The raft loop owns raft; this class holds no consensus state (docs/transport.md).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "raft/types.h"

namespace asio {
class io_context;
}

namespace keel::transport {

struct PeerTransportOptions {
  raft::NodeId self_id = raft::kNone;
  // 0: not known yet (a member joining an existing cluster). The first Hello from a known peer
  // then sets it; until then this member's own dials are refused by its peers.
  uint64_t cluster_id = 0;
  // Where to listen; port 0 picks a free port (see PeerTransport::port()).
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 0;

  // Largest frame accepted or sent, length prefix included; coalesced writes are cut into
  // frames of at most this size. A raft message that does not fit alone in a frame is dropped
  // (raft's max_size_per_msg_bytes keeps them far smaller).
  size_t max_frame_bytes = 64 << 20;
  // Per-peer outgoing queue bounds; past either one, new messages are dropped and reported.
  size_t max_queued_messages = 4096;
  size_t max_queued_bytes = 64 << 20;

  size_t snapshot_chunk_bytes = 1 << 20;
  // Largest snapshot a peer may stream to us.
  uint64_t max_snapshot_bytes = uint64_t{8} << 30;
  // A snapshot stream (either side) that makes no progress for this long fails.
  std::chrono::milliseconds snapshot_idle_timeout{10'000};

  // Reconnection: the delay after the n-th consecutive failure is
  // min(backoff_max, backoff_initial * 2^(n-1)), jittered down to a random point in its
  // upper half so members restarted together do not dial in lockstep.
  std::chrono::milliseconds backoff_initial{50};
  std::chrono::milliseconds backoff_max{1000};
  std::chrono::milliseconds dial_timeout{1000};
  // An inbound connection must send its Hello within this time.
  std::chrono::milliseconds hello_timeout{5000};
  size_t max_inbound_connections = 256;
  // Seeds the backoff jitter (0: derived from self_id).
  uint64_t random_seed = 0;
};

struct PeerTransportCallbacks {
  // A message from a peer, addressed to this member. Required.
  std::function<void(raft::Message)> on_message;
  // Result of streaming a snapshot to `peer` (raft's ReportSnapshot). Optional.
  std::function<void(raft::NodeId peer, bool ok)> on_snapshot_status;
  // A send to `peer` failed or its connection dropped (raft's ReportUnreachable). Optional.
  std::function<void(raft::NodeId peer)> on_unreachable;
  // Connection-level events worth a log line (rejected peers, protocol errors). Optional.
  std::function<void(std::string_view event)> on_log;
};

// Totals since Start(); read at any time.
struct PeerTransportStats {
  uint64_t messages_sent = 0;      // written to a peer's socket (kSnap counted when acked)
  uint64_t messages_received = 0;  // handed to on_message
  uint64_t messages_dropped = 0;   // either direction: queue full, no connection, partition, ...
  uint64_t bytes_sent = 0;         // on every connection, framing included
  uint64_t bytes_received = 0;
  uint64_t snapshots_sent = 0;  // acknowledged intact by the receiver
  uint64_t snapshot_send_failures = 0;
  uint64_t snapshots_received = 0;  // delivered to on_message
  uint64_t snapshot_receive_failures = 0;
  uint64_t dials = 0;
  uint64_t dial_failures = 0;
  uint64_t connections_accepted = 0;
  uint64_t connections_rejected = 0;  // bad Hello, protocol error, over the connection limit
};

class PeerTransport {
 public:
  PeerTransport(PeerTransportOptions options, PeerTransportCallbacks callbacks);
  // Stops if still running.
  ~PeerTransport();
  PeerTransport(const PeerTransport&) = delete;
  PeerTransport& operator=(const PeerTransport&) = delete;

  // Binds the listener and starts the transport thread. Once only.
  absl::Status Start();
  // Closes every connection and joins the thread; queued messages are dropped and no callback
  // runs afterwards. Idempotent; not from a callback.
  void Stop();

  // The bound listening port (valid after Start()).
  uint16_t port() const;

  // The event loop the transport thread runs, for work that belongs on that thread: the raft
  // loop runs there (server/raft_loop.h), so a message that arrives is stepped, and raft's
  // answer written, without a hand-off between threads. Whoever puts handlers or timers on it
  // must stop them before Stop() and destroy its timers before the transport.
  asio::io_context& io_context();

  // Peers: `address` is "host:port". Adding starts dialing at once; updating redials at the
  // new address; removing writes what was already queued for the peer (within a second),
  // then closes the connection for good, and later messages from it are dropped.
  // Thread-safe.
  absl::Status AddPeer(raft::NodeId id, std::string address);
  absl::Status UpdatePeer(raft::NodeId id, std::string address);
  void RemovePeer(raft::NodeId id);

  // Queues messages for their peers (message.to) and returns at once. Thread-safe. The
  // messages must not be local ones (raft::IsLocalMessage), which is checked. Called on the
  // transport thread, it starts the write at once (before the caller goes on to, say, fsync);
  // from any other thread the write is posted to the transport thread.
  void Send(std::vector<raft::Message> messages);

  PeerTransportStats stats() const;

  // True while this member has a live outgoing message connection to `peer` (tests wait on it).
  bool IsConnected(raft::NodeId peer) const;

  // Test hooks (fault injection). Connections stay up, so healing is immediate.
  //
  // Messages to and from the given peers are dropped, both ways, as are snapshots (reported
  // as failed). Replaces the previous set; an empty set heals.
  void SetPartitioned(std::set<raft::NodeId> peers);
  // Finer faults (one direction, some message types): `drop` is asked about every message
  // this member sends (kOutbound, on the caller's thread) or receives (kInbound, on the
  // transport thread) and drops it when it returns true. Must be thread-safe and cheap.
  // nullptr removes it. Applies in addition to SetPartitioned.
  enum class Direction { kOutbound, kInbound };
  using DropFilter = std::function<bool(const raft::Message& message, Direction direction)>;
  void SetDropFilter(DropFilter drop);
  // Flips one byte of every snapshot streamed from now on, after its CRC was computed, so the
  // receiver must reject it.
  void SetCorruptSnapshotsForTest(bool corrupt);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace keel::transport
