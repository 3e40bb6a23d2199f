// InboundConnection: a connection a peer dialed to us. Internal to server/transport/.
//
// It only reads, decodes with the pure frame codec and hands off (STYLE.md 12):
//   Hello (within hello_timeout, checked by the host, answered with our own Hello) then either
//   - a message stream: batches, each message handed to the host's Deliver; or
//   - a snapshot stream: header, chunks, end; the data's size and CRC32C are checked, the
//     complete kSnap message is delivered, and a SnapshotAck answers the sender.
// Anything malformed closes the connection; the peer redials. Runs on the transport thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "asio.hpp"
#include "server/transport/connection_host.h"
#include "server/transport/frame_codec.h"

namespace keel::transport::internal {

class InboundConnection : public std::enable_shared_from_this<InboundConnection> {
 public:
  InboundConnection(asio::ip::tcp::socket socket, ConnectionHost* host, uint64_t id);

  void Start();
  // Idempotent; tells the host through InboundClosed unless `quiet` (the host is dropping all
  // of its connections at once).
  void Close(bool quiet = false);

 private:
  enum class Phase { kHello, kMessages, kSnapshotHeader, kSnapshotData, kAcking, kClosed };

  void Read();
  void OnRead(const asio::error_code& error, size_t bytes);
  // Time limit for the current phase: the Hello, or progress on a snapshot stream.
  void ArmTimer(std::chrono::milliseconds limit);
  absl::Status Handle(Frame& frame);
  absl::Status OnHello(const Hello& hello);
  absl::Status OnBatch(MessageBatch& batch);
  absl::Status OnSnapshotHeader(SnapshotHeader& header);
  absl::Status OnSnapshotChunk(const SnapshotChunk& chunk);
  absl::Status OnSnapshotEnd(const SnapshotEnd& end);
  void SendAck(SnapshotAck ack);
  // Writes `bytes` after whatever is being written (one write in flight at a time).
  void QueueWrite(std::string_view bytes);
  void StartWrite();
  void Fail(const absl::Status& status);
  bool InSnapshot() const {
    return phase_ == Phase::kSnapshotHeader || phase_ == Phase::kSnapshotData;
  }

  asio::ip::tcp::socket socket_;
  ConnectionHost* const host_;
  const uint64_t id_;
  asio::steady_timer timer_;
  FrameDecoder decoder_;
  std::vector<char> read_buffer_;
  Phase phase_ = Phase::kHello;
  raft::NodeId peer_ = raft::kNone;  // from the Hello
  std::string write_pending_;
  bool writing_ = false;
  bool close_after_write_ = false;  // the ack is the last thing written

  // The snapshot being received. Invariant: snapshot_data_.size() <= snapshot_total_bytes_
  // and snapshot_crc_ is the CRC32C of snapshot_data_.
  std::optional<raft::Message> snapshot_message_;
  uint64_t snapshot_total_bytes_ = 0;
  std::string snapshot_data_;
  uint32_t snapshot_crc_ = 0;
};

}  // namespace keel::transport::internal
