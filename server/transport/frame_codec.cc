#include "server/transport/frame_codec.h"

#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "keel/peer.pb.h"
#include "keel/raft.pb.h"
#include "raft/codec.h"

namespace keel::transport {
namespace {

void PutBigEndian32(uint32_t value, char* out) {
  out[0] = static_cast<char>(value >> 24);
  out[1] = static_cast<char>(value >> 16);
  out[2] = static_cast<char>(value >> 8);
  out[3] = static_cast<char>(value);
}

uint32_t GetBigEndian32(const char* in) {
  const auto* p = reinterpret_cast<const unsigned char*>(in);
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | static_cast<uint32_t>(p[3]);
}

// Appends the length placeholder and the kind byte; returns where the frame starts so
// FinishFrame can fill in the length once the body is written.
size_t StartFrame(FrameKind kind, std::string* out) {
  size_t start = out->size();
  out->append(kFrameLengthBytes, '\0');
  out->push_back(static_cast<char>(kind));
  return start;
}

void FinishFrame(size_t start, std::string* out) {
  size_t payload = out->size() - start - kFrameLengthBytes;
  KEEL_CHECK_LE(payload, std::numeric_limits<uint32_t>::max()) << "frame too large to encode";
  PutBigEndian32(static_cast<uint32_t>(payload), out->data() + start);
}

void AppendProtoFrame(FrameKind kind, const google::protobuf::MessageLite& body, std::string* out) {
  size_t start = StartFrame(kind, out);
  KEEL_CHECK(body.AppendToString(out)) << "protobuf serialization failed";
  FinishFrame(start, out);
}

size_t VarintBytes(uint64_t value) {
  size_t n = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++n;
  }
  return n;
}

void AppendVarint(uint64_t value, std::string* out) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

// keel.raftpb.MessageBatch field 1 (messages), wire type 2 (length-delimited).
constexpr char kBatchMessageTag = (1 << 3) | 2;

// Appends one element of MessageBatch.messages: the batch's wire form is exactly the
// concatenation of these, so messages are serialized straight into the frame without building
// a MessageBatch (which would copy every entry payload once more).
void AppendBatchElement(raftpb::Message& message, size_t size, std::string* out) {
  out->push_back(kBatchMessageTag);
  AppendVarint(size, out);
  size_t at = out->size();
  out->resize(at + size);
  message.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(out->data() + at));
}

absl::Status Corrupt(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("peer frame: ", what));
}

template <typename Proto>
absl::StatusOr<Proto> ParseBody(std::string_view body, absl::string_view what) {
  Proto proto;
  if (!proto.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return Corrupt(absl::StrCat("cannot parse ", what));
  }
  return proto;
}

absl::StatusOr<Frame> DecodeHello(std::string_view body) {
  auto proto = ParseBody<peerpb::Hello>(body, "hello");
  if (!proto.ok()) return proto.status();
  if (proto->stream() != peerpb::STREAM_MESSAGES && proto->stream() != peerpb::STREAM_SNAPSHOT) {
    return Corrupt(absl::StrCat("unknown stream kind ", proto->stream()));
  }
  Hello hello;
  hello.protocol_version = proto->protocol_version();
  hello.cluster_id = proto->cluster_id();
  hello.from = proto->from();
  hello.to = proto->to();
  hello.stream =
      proto->stream() == peerpb::STREAM_SNAPSHOT ? StreamKind::kSnapshot : StreamKind::kMessages;
  return hello;
}

absl::StatusOr<Frame> DecodeMessages(std::string_view body) {
  auto proto = ParseBody<raftpb::MessageBatch>(body, "message batch");
  if (!proto.ok()) return proto.status();
  MessageBatch batch;
  batch.messages.reserve(proto->messages_size());
  for (const raftpb::Message& pm : proto->messages()) {
    absl::StatusOr<raft::Message> m = raft::FromProto(pm);
    if (!m.ok()) return Corrupt(m.status().message());
    // A peer may not inject what only the local node creates (kHup would start an election),
    // and snapshots travel on their own stream where their size is accounted for.
    if (raft::IsLocalMessage(m->type) || m->type == raft::MessageType::kSnap) {
      return Corrupt(absl::StrCat("message type ", raft::MessageTypeName(m->type),
                                  " may not be sent in a batch"));
    }
    batch.messages.push_back(*std::move(m));
  }
  return batch;
}

absl::StatusOr<Frame> DecodeSnapshotHeader(std::string_view body) {
  auto proto = ParseBody<peerpb::SnapshotHeader>(body, "snapshot header");
  if (!proto.ok()) return proto.status();
  if (proto->message().type() != raftpb::MSG_SNAP || !proto->message().has_snapshot() ||
      !proto->message().snapshot().data().empty()) {
    return Corrupt("snapshot header without a data-less MSG_SNAP message");
  }
  absl::StatusOr<raft::Message> m = raft::FromProto(proto->message());
  if (!m.ok()) return Corrupt(m.status().message());
  SnapshotHeader header;
  header.message = *std::move(m);
  header.total_bytes = proto->total_bytes();
  return header;
}

absl::StatusOr<Frame> DecodeSnapshotAck(std::string_view body) {
  auto proto = ParseBody<peerpb::SnapshotAck>(body, "snapshot ack");
  if (!proto.ok()) return proto.status();
  return SnapshotAck{proto->ok(), proto->error()};
}

}  // namespace

void AppendHelloFrame(const Hello& hello, std::string* out) {
  peerpb::Hello proto;
  proto.set_protocol_version(hello.protocol_version);
  proto.set_cluster_id(hello.cluster_id);
  proto.set_from(hello.from);
  proto.set_to(hello.to);
  proto.set_stream(hello.stream == StreamKind::kSnapshot ? peerpb::STREAM_SNAPSHOT
                                                         : peerpb::STREAM_MESSAGES);
  AppendProtoFrame(FrameKind::kHello, proto, out);
}

void AppendSnapshotHeaderFrame(const SnapshotHeader& header, std::string* out) {
  KEEL_CHECK(header.message.type == raft::MessageType::kSnap && header.message.snapshot)
      << "snapshot header needs a kSnap message with a snapshot";
  // Encode the metadata only: copy the message without its data (Bytes are shared, so the
  // copy does not touch the snapshot's bytes).
  raft::Message without_data = header.message;
  without_data.snapshot->data = raft::Bytes();
  peerpb::SnapshotHeader proto;
  raft::ToProto(without_data, proto.mutable_message());
  proto.set_total_bytes(header.total_bytes);
  AppendProtoFrame(FrameKind::kSnapshotHeader, proto, out);
}

void AppendSnapshotChunkFrame(std::string_view data, std::string* out) {
  size_t start = StartFrame(FrameKind::kSnapshotChunk, out);
  out->append(data);
  FinishFrame(start, out);
}

void AppendSnapshotEndFrame(const SnapshotEnd& end, std::string* out) {
  peerpb::SnapshotEnd proto;
  proto.set_crc32c(end.crc32c);
  AppendProtoFrame(FrameKind::kSnapshotEnd, proto, out);
}

void AppendSnapshotAckFrame(const SnapshotAck& ack, std::string* out) {
  peerpb::SnapshotAck proto;
  proto.set_ok(ack.ok);
  proto.set_error(ack.error);
  AppendProtoFrame(FrameKind::kSnapshotAck, proto, out);
}

void AppendMessagesFrame(absl::Span<const raft::Message> messages, std::string* out) {
  size_t start = StartFrame(FrameKind::kMessages, out);
  for (const raft::Message& m : messages) {
    raftpb::Message proto;
    raft::ToProto(m, &proto);
    AppendBatchElement(proto, proto.ByteSizeLong(), out);
  }
  FinishFrame(start, out);
}

size_t AppendMessagesFrames(absl::Span<const raft::Message> messages, size_t max_frame_bytes,
                            std::string* out) {
  size_t skipped = 0;
  size_t start = std::string::npos;  // of the open frame, if any
  for (const raft::Message& m : messages) {
    raftpb::Message proto;
    raft::ToProto(m, &proto);
    size_t size = proto.ByteSizeLong();
    size_t element = 1 + VarintBytes(size) + size;
    if (kFrameHeaderBytes + element > max_frame_bytes) {
      ++skipped;
      continue;
    }
    if (start != std::string::npos && out->size() - start + element > max_frame_bytes) {
      FinishFrame(start, out);
      start = std::string::npos;
    }
    if (start == std::string::npos) start = StartFrame(FrameKind::kMessages, out);
    AppendBatchElement(proto, size, out);
  }
  if (start != std::string::npos) FinishFrame(start, out);
  return skipped;
}

absl::StatusOr<Frame> DecodeFramePayload(std::string_view payload) {
  if (payload.empty()) return Corrupt("empty payload");
  std::string_view body = payload.substr(1);
  switch (static_cast<FrameKind>(static_cast<uint8_t>(payload[0]))) {
    case FrameKind::kHello:
      return DecodeHello(body);
    case FrameKind::kMessages:
      return DecodeMessages(body);
    case FrameKind::kSnapshotHeader:
      return DecodeSnapshotHeader(body);
    case FrameKind::kSnapshotChunk:
      return SnapshotChunk{std::string(body)};
    case FrameKind::kSnapshotEnd: {
      auto proto = ParseBody<peerpb::SnapshotEnd>(body, "snapshot end");
      if (!proto.ok()) return proto.status();
      return SnapshotEnd{proto->crc32c()};
    }
    case FrameKind::kSnapshotAck:
      return DecodeSnapshotAck(body);
  }
  return Corrupt(
      absl::StrCat("unknown frame kind ", static_cast<int>(static_cast<uint8_t>(payload[0]))));
}

FrameDecoder::FrameDecoder(size_t max_frame_bytes) : max_frame_bytes_(max_frame_bytes) {
  KEEL_CHECK_GE(max_frame_bytes, kFrameHeaderBytes);
}

void FrameDecoder::Append(std::string_view bytes) {
  // Drop consumed bytes before growing: frames handed out by Next() are copies, so nothing
  // points into the buffer, and this keeps it near one frame plus one read.
  if (read_pos_ == buffer_.size()) {
    buffer_.clear();
    read_pos_ = 0;
  } else if (read_pos_ > 0 && read_pos_ >= buffer_.size() / 2) {
    buffer_.erase(0, read_pos_);
    read_pos_ = 0;
  }
  buffer_.append(bytes);
}

absl::StatusOr<std::optional<Frame>> FrameDecoder::Next() {
  if (!error_.ok()) return error_;
  size_t available = buffer_.size() - read_pos_;
  if (available < kFrameLengthBytes) return std::nullopt;
  uint64_t length = GetBigEndian32(buffer_.data() + read_pos_);
  if (length == 0) {
    error_ = Corrupt("zero-length frame");
    return error_;
  }
  if (length + kFrameLengthBytes > max_frame_bytes_) {
    error_ =
        absl::ResourceExhaustedError(absl::StrCat("peer frame: ", length + kFrameLengthBytes,
                                                  " bytes exceed the limit of ", max_frame_bytes_));
    return error_;
  }
  if (available < kFrameLengthBytes + length) return std::nullopt;
  std::string_view payload(buffer_.data() + read_pos_ + kFrameLengthBytes, length);
  read_pos_ += kFrameLengthBytes + length;
  absl::StatusOr<Frame> frame = DecodeFramePayload(payload);
  if (!frame.ok()) {
    error_ = frame.status();
    return error_;
  }
  return std::optional<Frame>(*std::move(frame));
}

}  // namespace keel::transport
