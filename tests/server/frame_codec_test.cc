// The peer transport's pure frame codec: every frame kind round-trips, a stream decodes the
// same however it is cut into reads, and hostile bytes give errors, never crashes.
#include "server/transport/frame_codec.h"

#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "keel/peer.pb.h"
#include "keel/raft.pb.h"
#include "raft/codec.h"

namespace keel::transport {
namespace {

using raft::Bytes;
using raft::Message;
using raft::MessageType;

Message AppendMessage(uint64_t index) {
  Message m;
  m.type = MessageType::kApp;
  m.from = 1;
  m.to = 2;
  m.term = 3;
  m.log_term = 3;
  m.index = index;
  m.commit = index / 2;
  for (uint64_t i = 0; i < index % 4; ++i) {
    raft::Entry e;
    e.term = 3;
    e.index = index + i + 1;
    e.type = i == 2 ? raft::EntryType::kConfChange : raft::EntryType::kNormal;
    e.data = Bytes(std::string("payload\0with nul ", 18) + std::to_string(index + i));
    m.entries.push_back(e);
  }
  return m;
}

std::vector<Message> SomeMessages() {
  std::vector<Message> out;
  for (uint64_t i = 1; i <= 6; ++i) out.push_back(AppendMessage(i));
  Message resp;
  resp.type = MessageType::kAppResp;
  resp.from = 2;
  resp.to = 1;
  resp.term = 3;
  resp.index = 9;
  resp.reject = true;
  resp.reject_hint = 4;
  out.push_back(resp);
  Message hb;
  hb.type = MessageType::kHeartbeat;
  hb.from = 1;
  hb.to = 2;
  hb.term = 3;
  hb.context = Bytes(std::string("\xff\x00\x01", 3));
  out.push_back(hb);
  return out;
}

Message SnapMessage() {
  Message m;
  m.type = MessageType::kSnap;
  m.from = 1;
  m.to = 3;
  m.term = 5;
  raft::Snapshot s;
  s.metadata.index = 100;
  s.metadata.term = 4;
  s.metadata.conf_state.voters = {1, 2, 3};
  s.metadata.conf_state.learners = {9};
  m.snapshot = s;
  return m;
}

// Every kind of frame, encoded one after the other, and what decoding must give back.
struct Stream {
  std::string bytes;
  std::vector<Frame> frames;
};

Stream AllKinds() {
  Stream s;
  Hello hello{kProtocolVersion, 77, 1, 2, StreamKind::kSnapshot};
  AppendHelloFrame(hello, &s.bytes);
  s.frames.push_back(hello);

  MessageBatch batch{SomeMessages()};
  AppendMessagesFrame(batch.messages, &s.bytes);
  s.frames.push_back(batch);

  AppendMessagesFrame({}, &s.bytes);
  s.frames.push_back(MessageBatch{});

  Message snap = SnapMessage();
  snap.snapshot->data = Bytes(std::string("not sent in the header"));
  AppendSnapshotHeaderFrame(SnapshotHeader{snap, 12345}, &s.bytes);
  snap.snapshot->data = Bytes();
  s.frames.push_back(SnapshotHeader{snap, 12345});

  std::string binary("\0\x01\xff\x7f chunk", 9);
  AppendSnapshotChunkFrame(binary, &s.bytes);
  s.frames.push_back(SnapshotChunk{binary});

  AppendSnapshotChunkFrame("", &s.bytes);
  s.frames.push_back(SnapshotChunk{""});

  AppendSnapshotEndFrame(SnapshotEnd{0xE3069283}, &s.bytes);
  s.frames.push_back(SnapshotEnd{0xE3069283});

  AppendSnapshotAckFrame(SnapshotAck{false, "checksum mismatch"}, &s.bytes);
  s.frames.push_back(SnapshotAck{false, "checksum mismatch"});
  AppendSnapshotAckFrame(SnapshotAck{true, ""}, &s.bytes);
  s.frames.push_back(SnapshotAck{true, ""});
  return s;
}

// Feeds `pieces` in order and collects every frame; fails the test on a decode error.
std::vector<Frame> DecodeAll(FrameDecoder& decoder, const std::vector<std::string_view>& pieces) {
  std::vector<Frame> out;
  for (std::string_view piece : pieces) {
    decoder.Append(piece);
    while (true) {
      auto frame = decoder.Next();
      EXPECT_TRUE(frame.ok()) << frame.status();
      if (!frame.ok() || !frame->has_value()) break;
      out.push_back(std::move(**frame));
    }
  }
  return out;
}

// The length prefix of a frame whose payload is `payload`.
std::string RawFrame(std::string_view payload) {
  std::string out(4, '\0');
  uint32_t n = static_cast<uint32_t>(payload.size());
  out[0] = static_cast<char>(n >> 24);
  out[1] = static_cast<char>(n >> 16);
  out[2] = static_cast<char>(n >> 8);
  out[3] = static_cast<char>(n);
  out.append(payload);
  return out;
}

absl::Status FirstError(std::string_view bytes, size_t max_frame_bytes = 1 << 20) {
  FrameDecoder decoder(max_frame_bytes);
  decoder.Append(bytes);
  while (true) {
    auto frame = decoder.Next();
    if (!frame.ok()) return frame.status();
    if (!frame->has_value()) return absl::OkStatus();
  }
}

TEST(FrameCodec, EveryKindRoundTrips) {
  Stream s = AllKinds();
  FrameDecoder decoder(1 << 20);
  EXPECT_EQ(DecodeAll(decoder, {s.bytes}), s.frames);
  EXPECT_EQ(decoder.buffered_bytes(), 0u);
}

TEST(FrameCodec, BatchIsAMessageBatchProto) {
  // The body of a kMessages frame is written by hand; it must parse as the proto it claims.
  std::vector<Message> messages = SomeMessages();
  std::string bytes;
  AppendMessagesFrame(messages, &bytes);
  raftpb::MessageBatch proto;
  ASSERT_TRUE(proto.ParseFromString(bytes.substr(kFrameHeaderBytes)));
  ASSERT_EQ(proto.messages_size(), static_cast<int>(messages.size()));
  for (size_t i = 0; i < messages.size(); ++i) {
    EXPECT_EQ(*raft::FromProto(proto.messages(static_cast<int>(i))), messages[i]);
  }
}

TEST(FrameCodec, DecodesTheSameWhereverTheStreamIsSplit) {
  Stream s = AllKinds();
  for (size_t split = 0; split <= s.bytes.size(); ++split) {
    std::string_view all(s.bytes);
    FrameDecoder decoder(1 << 20);
    ASSERT_EQ(DecodeAll(decoder, {all.substr(0, split), all.substr(split)}), s.frames)
        << "split at " << split;
  }
}

TEST(FrameCodec, DecodesByteByByte) {
  Stream s = AllKinds();
  std::vector<std::string_view> bytes;
  for (size_t i = 0; i < s.bytes.size(); ++i)
    bytes.push_back(std::string_view(s.bytes).substr(i, 1));
  FrameDecoder decoder(1 << 20);
  EXPECT_EQ(DecodeAll(decoder, bytes), s.frames);
}

TEST(FrameCodec, DecodesRandomlySizedReads) {
  Stream s = AllKinds();
  std::string many;
  std::vector<Frame> expected;
  for (int i = 0; i < 20; ++i) {
    many += s.bytes;
    expected.insert(expected.end(), s.frames.begin(), s.frames.end());
  }
  std::mt19937 rng(7);
  std::vector<std::string_view> pieces;
  for (size_t at = 0; at < many.size();) {
    size_t n = std::min<size_t>(many.size() - at, rng() % 700);
    pieces.push_back(std::string_view(many).substr(at, n));
    at += n;
  }
  FrameDecoder decoder(1 << 20);
  EXPECT_EQ(DecodeAll(decoder, pieces), expected);
}

TEST(FrameCodec, MessagesFramesRespectTheSizeLimitAndKeepOrder) {
  std::vector<Message> messages;
  for (uint64_t i = 1; i <= 200; ++i) messages.push_back(AppendMessage(i));
  std::string bytes;
  const size_t max_frame = 2000;
  EXPECT_EQ(AppendMessagesFrames(messages, max_frame, &bytes), 0u);
  FrameDecoder decoder(max_frame);
  std::vector<Frame> frames = DecodeAll(decoder, {bytes});
  EXPECT_GT(frames.size(), 5u);
  std::vector<Message> decoded;
  for (Frame& f : frames) {
    auto& batch = std::get<MessageBatch>(f);
    EXPECT_FALSE(batch.messages.empty());
    decoded.insert(decoded.end(), batch.messages.begin(), batch.messages.end());
  }
  EXPECT_EQ(decoded, messages);
}

TEST(FrameCodec, MessageTooLargeForAFrameIsLeftOut) {
  std::vector<Message> messages = {AppendMessage(1), AppendMessage(2), AppendMessage(5)};
  messages[1].entries.push_back(
      raft::Entry{3, 99, raft::EntryType::kNormal, Bytes(std::string(5000, 'x'))});
  std::string bytes;
  EXPECT_EQ(AppendMessagesFrames(messages, 1000, &bytes), 1u);
  FrameDecoder decoder(1000);
  std::vector<Frame> frames = DecodeAll(decoder, {bytes});
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(std::get<MessageBatch>(frames[0]).messages,
            (std::vector<Message>{messages[0], messages[2]}));
}

TEST(FrameCodec, NothingToSendWritesNoFrame) {
  std::string bytes;
  EXPECT_EQ(AppendMessagesFrames({}, 1000, &bytes), 0u);
  EXPECT_TRUE(bytes.empty());
}

TEST(FrameDecoder, RefusesAnOversizedFrameBeforeBufferingIt) {
  std::string bytes;
  AppendSnapshotChunkFrame(std::string(2000, 'x'), &bytes);
  FrameDecoder decoder(1000);
  decoder.Append(std::string_view(bytes).substr(0, 4));  // the length alone
  auto frame = decoder.Next();
  ASSERT_FALSE(frame.ok());
  EXPECT_EQ(frame.status().code(), absl::StatusCode::kResourceExhausted);
  // The error sticks: the stream cannot be resynchronized.
  decoder.Append(std::string_view(bytes).substr(4));
  EXPECT_EQ(decoder.Next().status(), frame.status());
}

TEST(FrameDecoder, AcceptsAFrameOfExactlyTheLimit) {
  std::string bytes;
  AppendSnapshotChunkFrame(std::string(1000 - kFrameHeaderBytes, 'x'), &bytes);
  ASSERT_EQ(bytes.size(), 1000u);
  EXPECT_TRUE(FirstError(bytes, 1000).ok());
  EXPECT_EQ(FirstError(bytes, 999).code(), absl::StatusCode::kResourceExhausted);
}

TEST(FrameDecoder, HugeLengthFromGarbageIsRefused) {
  // An HTTP request on the peer port: "GET " read as a length is about 1.2 GB.
  EXPECT_EQ(FirstError("GET / HTTP/1.1\r\nHost: x\r\n\r\n").code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(FirstError(std::string("\xff\xff\xff\xff", 4)).code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(FrameDecoder, RefusesMalformedPayloads) {
  EXPECT_EQ(FirstError(std::string(4, '\0')).code(), absl::StatusCode::kDataLoss);  // length 0
  EXPECT_EQ(FirstError(RawFrame("\x00")).code(), absl::StatusCode::kDataLoss);      // kind 0
  EXPECT_EQ(FirstError(RawFrame("\x07")).code(), absl::StatusCode::kDataLoss);      // kind 7
  EXPECT_EQ(FirstError(RawFrame("\x01\xff\xff\xff")).code(),                        // bad hello
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(FirstError(RawFrame("\x02\x0a\x05\x08")).code(),  // cut message
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(FirstError(RawFrame("\x05\x0d")).code(), absl::StatusCode::kDataLoss);  // bad end
  EXPECT_EQ(FirstError(RawFrame("\x06\x12\x50")).code(),                            // cut ack
            absl::StatusCode::kDataLoss);
}

TEST(FrameDecoder, RefusesMessagesAPeerMayNotSend) {
  for (MessageType type :
       {MessageType::kHup, MessageType::kBeat, MessageType::kUnreachable, MessageType::kSnapStatus,
        MessageType::kCheckQuorum, MessageType::kSnap}) {
    Message m = type == MessageType::kSnap ? SnapMessage() : Message{};
    m.type = type;
    std::string bytes;
    AppendMessagesFrame({m}, &bytes);
    EXPECT_EQ(FirstError(bytes).code(), absl::StatusCode::kDataLoss) << raft::MessageTypeName(type);
  }
  raftpb::MessageBatch proto;
  proto.add_messages()->set_type(static_cast<raftpb::MessageType>(99));
  EXPECT_EQ(FirstError(RawFrame("\x02" + proto.SerializeAsString())).code(),
            absl::StatusCode::kDataLoss);
}

TEST(FrameDecoder, RefusesASnapshotHeaderCarryingData) {
  peerpb::SnapshotHeader proto;
  raft::Message m = SnapMessage();
  m.snapshot->data = Bytes(std::string("inline"));
  raft::ToProto(m, proto.mutable_message());
  EXPECT_EQ(FirstError(RawFrame("\x03" + proto.SerializeAsString())).code(),
            absl::StatusCode::kDataLoss);
  m.type = MessageType::kApp;
  m.snapshot->data = Bytes();
  raft::ToProto(m, proto.mutable_message());
  EXPECT_EQ(FirstError(RawFrame("\x03" + proto.SerializeAsString())).code(),
            absl::StatusCode::kDataLoss);
}

TEST(FrameDecoder, TruncatedInputWaitsForMore) {
  Stream s = AllKinds();
  for (size_t cut : {size_t{1}, size_t{3}, size_t{4}, size_t{5}, s.bytes.size() - 1}) {
    FrameDecoder decoder(1 << 20);
    std::vector<Frame> frames = DecodeAll(decoder, {std::string_view(s.bytes).substr(0, cut)});
    EXPECT_LT(frames.size(), s.frames.size()) << cut;
    EXPECT_GT(decoder.buffered_bytes(), 0u) << cut;
  }
}

TEST(FrameDecoder, SurvivesRandomAndMutatedBytes) {
  std::mt19937_64 rng(1234);
  Stream s = AllKinds();
  int errors = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string bytes;
    if (round % 2 == 0) {
      // Valid stream with a few bytes flipped: exercises the protobuf and semantic checks.
      bytes = s.bytes;
      for (int i = 0; i < 1 + round % 5; ++i) bytes[rng() % bytes.size()] ^= 1 + rng() % 255;
    } else {
      // Plausible lengths followed by random bodies.
      for (int f = 0; f < 4; ++f) {
        std::string body(1 + rng() % 64, '\0');
        for (char& c : body) c = static_cast<char>(rng());
        body[0] = static_cast<char>(1 + rng() % 6);
        bytes += RawFrame(body);
      }
    }
    FrameDecoder decoder(4096);
    size_t at = 0;
    while (at < bytes.size()) {
      size_t n = std::min<size_t>(bytes.size() - at, 1 + rng() % 100);
      decoder.Append(std::string_view(bytes).substr(at, n));
      at += n;
      bool failed = false;
      while (true) {
        auto frame = decoder.Next();
        if (!frame.ok()) {
          failed = true;
          break;
        }
        if (!frame->has_value()) break;
      }
      if (failed) {
        ++errors;
        break;
      }
    }
  }
  EXPECT_GT(errors, 100);  // the point is that nothing crashed; most inputs must be refused
}

}  // namespace
}  // namespace keel::transport
