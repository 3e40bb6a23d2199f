// The peer transport's wire format, as a pure codec: bytes in, frames out, no I/O.
//
// A connection is a sequence of frames:
//
//   frame   = length:uint32 big-endian, payload[length]
//   payload = kind:uint8, body
//
//   kind                 body
//   1 kHello             keel.peerpb.Hello           first frame of every connection
//   2 kMessages          keel.raftpb.MessageBatch    message streams
//   3 kSnapshotHeader    keel.peerpb.SnapshotHeader  snapshot streams: header,
//   4 kSnapshotChunk     raw snapshot bytes            chunks in order,
//   5 kSnapshotEnd       keel.peerpb.SnapshotEnd       end with the data's CRC32C,
//   6 kSnapshotAck       keel.peerpb.SnapshotAck       and the receiver's answer
//
// The length counts the kind byte, so it is never 0, and it is bounded by the decoder's
// max_frame_bytes: a reader allocates nothing a peer did not first prove it may send. Chunks
// carry raw bytes rather than a protobuf so a 1 MiB chunk is not parsed or copied again.
// Everything a peer sends is untrusted: decoding returns absl::Status errors, never crashes,
// and refuses messages a peer may not send (raft's local message types, MSG_SNAP outside a
// snapshot header).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "raft/types.h"

namespace keel::transport {

// Bumped on any incompatible change of this format; a Hello with another version is refused.
inline constexpr uint32_t kProtocolVersion = 1;
inline constexpr size_t kFrameLengthBytes = 4;
inline constexpr size_t kFrameHeaderBytes = kFrameLengthBytes + 1;  // length + kind

enum class FrameKind : uint8_t {
  kHello = 1,
  kMessages = 2,
  kSnapshotHeader = 3,
  kSnapshotChunk = 4,
  kSnapshotEnd = 5,
  kSnapshotAck = 6,
};

enum class StreamKind : uint8_t { kMessages = 0, kSnapshot = 1 };

struct Hello {
  uint32_t protocol_version = kProtocolVersion;
  uint64_t cluster_id = 0;
  raft::NodeId from = raft::kNone;
  raft::NodeId to = raft::kNone;
  StreamKind stream = StreamKind::kMessages;
  friend bool operator==(const Hello&, const Hello&) = default;
};

struct MessageBatch {
  std::vector<raft::Message> messages;
  friend bool operator==(const MessageBatch&, const MessageBatch&) = default;
};

// Invariant (checked when decoding): message.type == kSnap, message.snapshot is set and its
// data is empty; the data arrives in chunks.
struct SnapshotHeader {
  raft::Message message;
  uint64_t total_bytes = 0;
  friend bool operator==(const SnapshotHeader&, const SnapshotHeader&) = default;
};

struct SnapshotChunk {
  std::string data;
  friend bool operator==(const SnapshotChunk&, const SnapshotChunk&) = default;
};

struct SnapshotEnd {
  uint32_t crc32c = 0;  // of all the chunks' bytes
  friend bool operator==(const SnapshotEnd&, const SnapshotEnd&) = default;
};

struct SnapshotAck {
  bool ok = false;
  std::string error;
  friend bool operator==(const SnapshotAck&, const SnapshotAck&) = default;
};

using Frame =
    std::variant<Hello, MessageBatch, SnapshotHeader, SnapshotChunk, SnapshotEnd, SnapshotAck>;

// Encoders append one complete frame (length prefix included) to `out`.
void AppendHelloFrame(const Hello& hello, std::string* out);
// `header.message.snapshot` data is ignored (sent as chunks); the metadata is kept.
void AppendSnapshotHeaderFrame(const SnapshotHeader& header, std::string* out);
void AppendSnapshotChunkFrame(std::string_view data, std::string* out);
void AppendSnapshotEndFrame(const SnapshotEnd& end, std::string* out);
void AppendSnapshotAckFrame(const SnapshotAck& ack, std::string* out);
// One kMessages frame holding all of `messages` (which may be empty).
void AppendMessagesFrame(absl::Span<const raft::Message> messages, std::string* out);

// Encodes `messages` in order as kMessages frames of at most max_frame_bytes each (length
// prefix included), packing as many messages per frame as fit. A message that cannot fit in a
// frame on its own is left out. Returns how many messages were left out.
size_t AppendMessagesFrames(absl::Span<const raft::Message> messages, size_t max_frame_bytes,
                            std::string* out);

// Decodes one payload (kind byte + body, without the length prefix).
absl::StatusOr<Frame> DecodeFramePayload(std::string_view payload);

// FrameDecoder: reassembles frames from a byte stream read in arbitrary pieces.
//
//   decoder.Append(bytes_just_read);
//   while (true) {
//     auto frame = decoder.Next();
//     if (!frame.ok()) { close the connection; break; }
//     if (!frame->has_value()) break;  // wait for more bytes
//     Handle(**frame);
//   }
//
// A frame whose length exceeds max_frame_bytes is an error as soon as its 4 length bytes are
// in, before any of it is buffered. After an error the decoder stays failed (every Next()
// returns the same error): a byte stream cannot be resynchronized once a frame is bad.
class FrameDecoder {
 public:
  explicit FrameDecoder(size_t max_frame_bytes);

  void Append(std::string_view bytes);
  // The next complete frame, std::nullopt when more bytes are needed, or an error.
  absl::StatusOr<std::optional<Frame>> Next();

  // Bytes received but not yet returned as frames.
  size_t buffered_bytes() const { return buffer_.size() - read_pos_; }
  size_t max_frame_bytes() const { return max_frame_bytes_; }

 private:
  const size_t max_frame_bytes_;
  std::string buffer_;
  // Invariant: read_pos_ <= buffer_.size(); bytes before it are consumed.
  size_t read_pos_ = 0;
  absl::Status error_;
};

}  // namespace keel::transport
