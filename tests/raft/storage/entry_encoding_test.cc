// The log store writes entries with the hand-rolled EncodeEntryHeader (raft/codec.h); these
// tests pin it to protobuf's own serialization of keel.raftpb.Entry, byte for byte, so stored
// logs stay readable by DecodeEntry and by any protobuf reader.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "keel/raft.pb.h"
#include "raft/codec.h"

namespace keel::raft {
namespace {

std::string ProtobufBytes(const Entry& e) {
  raftpb::Entry p;
  ToProto(e, &p);
  return p.SerializeAsString();
}

Entry MakeEntry(uint64_t term, uint64_t index, EntryType type, std::string data) {
  Entry e;
  e.term = term;
  e.index = index;
  e.type = type;
  e.data = Bytes(std::move(data));
  return e;
}

TEST(EntryEncoding, HandEncodingEqualsProtobufAtEdges) {
  const uint64_t numbers[] = {0, 1, 127, 128, 16383, 16384, (uint64_t{1} << 35) - 1,
                              uint64_t{1} << 63, UINT64_MAX};
  const size_t sizes[] = {0, 1, 127, 128, 143, 16384, 70000};
  for (uint64_t term : numbers) {
    for (uint64_t index : numbers) {
      for (EntryType type : {EntryType::kNormal, EntryType::kConfChange}) {
        for (size_t size : sizes) {
          const Entry e = MakeEntry(term, index, type, std::string(size, 'x'));
          const std::string bytes = EncodeEntry(e);
          ASSERT_EQ(bytes, ProtobufBytes(e))
              << "term " << term << " index " << index << " size " << size;
          absl::StatusOr<Entry> back = DecodeEntry(bytes);
          ASSERT_TRUE(back.ok()) << back.status();
          EXPECT_EQ(*back, e);
        }
      }
    }
  }
}

TEST(EntryEncoding, HeaderIsEncodingWithoutPayload) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string data(rng() % 300, '\0');
    for (char& c : data) c = static_cast<char>(rng());
    const Entry e = MakeEntry(rng() >> (rng() % 64), rng() >> (rng() % 64),
                              rng() % 2 == 0 ? EntryType::kNormal : EntryType::kConfChange,
                              data);
    char header[kMaxEntryHeaderBytes];
    const size_t n = EncodeEntryHeader(e, header);
    ASSERT_LE(n, kMaxEntryHeaderBytes);
    EXPECT_EQ(std::string(header, n) + data, ProtobufBytes(e)) << "seed step " << i;
  }
}

}  // namespace
}  // namespace keel::raft
