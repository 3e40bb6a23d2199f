// SnapshotSender: streams one kSnap message to a peer on a connection of its own, so a large
// snapshot never queues behind (or holds up) heartbeats and appends on the message stream.
// Internal to server/transport/.
//
//   dial -> Hello(stream=snapshot) -> read the receiver's Hello (it accepted us) ->
//   SnapshotHeader -> chunks of snapshot_chunk_bytes -> SnapshotEnd(crc32c) ->
//   read the receiver's SnapshotAck -> report
//
// One chunk is in flight at a time, so memory stays at one chunk whatever the snapshot size,
// and the CRC is computed chunk by chunk as the data goes out. Every step must make progress
// within snapshot_idle_timeout. The outcome goes to ReportSnapshotStatus exactly once (plus
// ReportUnreachable when the connection, rather than the receiver, failed); Abort() ends it
// silently. Runs on the transport thread.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "asio.hpp"
#include "raft/types.h"
#include "server/transport/connection_host.h"
#include "server/transport/frame_codec.h"

namespace keel::transport::internal {

class SnapshotSender : public std::enable_shared_from_this<SnapshotSender> {
 public:
  // `message` is a kSnap message with its snapshot set. `corrupt_for_test` flips one byte of
  // the data after it entered the checksum.
  SnapshotSender(asio::io_context& io, ConnectionHost* host, uint64_t id, std::string address,
                 raft::Message message, bool corrupt_for_test);

  void Start();
  void Abort();

 private:
  void OnConnected();
  void WriteNext();
  // Reads the receiver's next frame: its Hello first, then its ack.
  void ReadReply();
  void OnReply(const Frame& frame);
  void ArmTimer();
  void Finish(bool ok, bool unreachable, const std::string& why);

  ConnectionHost* const host_;
  const uint64_t id_;
  const std::string address_;
  const raft::Message message_;
  const bool corrupt_for_test_;
  asio::ip::tcp::resolver resolver_;
  asio::ip::tcp::socket socket_;
  asio::steady_timer timer_;
  FrameDecoder ack_decoder_;
  std::array<char, 4096> read_buffer_{};

  bool hello_written_ = false;
  bool accepted_ = false;  // the receiver answered our Hello
  bool header_sent_ = false;
  bool end_sent_ = false;
  // Invariant: crc_ is the CRC32C of the data before offset_, as sent.
  size_t offset_ = 0;
  uint32_t crc_ = 0;
  bool finished_ = false;
};

}  // namespace keel::transport::internal
