// Conversions between the core's structs (raft/types.h) and their wire/disk form
// (proto/keel/raft.proto). Pure functions; the transport and the log stores use them.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "keel/raft.pb.h"
#include "raft/types.h"

namespace keel::raft {

void ToProto(const Entry& in, raftpb::Entry* out);
void ToProto(const HardState& in, raftpb::HardState* out);
void ToProto(const ConfState& in, raftpb::ConfState* out);
void ToProto(const SnapshotMetadata& in, raftpb::SnapshotMetadata* out);
void ToProto(const Snapshot& in, raftpb::Snapshot* out);
void ToProto(const ConfChange& in, raftpb::ConfChange* out);
void ToProto(const Message& in, raftpb::Message* out);

Entry FromProto(const raftpb::Entry& in);
HardState FromProto(const raftpb::HardState& in);
ConfState FromProto(const raftpb::ConfState& in);
SnapshotMetadata FromProto(const raftpb::SnapshotMetadata& in);
Snapshot FromProto(const raftpb::Snapshot& in);
ConfChange FromProto(const raftpb::ConfChange& in);
// Messages come from the network: unknown enum values are an error, not a crash.
absl::StatusOr<Message> FromProto(const raftpb::Message& in);

// Byte-string forms, for entry payloads and storage values.
std::string EncodeEntry(const Entry& entry);
// EncodeEntry(e) is exactly EncodeEntryHeader's bytes followed by e.data: the keel.raftpb.Entry
// wire form (fields 1-3 as varints, zero values left out, then field 4's tag and length),
// written by hand so a log store can hand RocksDB the header and the payload as two pieces
// instead of building a message and a string per entry. Returns the header's length.
inline constexpr size_t kMaxEntryHeaderBytes = 4 * 1 + 4 * 10;  // 4 tags, 4 varints
size_t EncodeEntryHeader(const Entry& entry, char* out);
absl::StatusOr<Entry> DecodeEntry(std::string_view bytes);
std::string EncodeHardState(const HardState& hs);
absl::StatusOr<HardState> DecodeHardState(std::string_view bytes);
std::string EncodeConfState(const ConfState& cs);
absl::StatusOr<ConfState> DecodeConfState(std::string_view bytes);
std::string EncodeSnapshot(const Snapshot& snapshot);
absl::StatusOr<Snapshot> DecodeSnapshot(std::string_view bytes);
Bytes EncodeConfChange(const ConfChange& cc);
absl::StatusOr<ConfChange> DecodeConfChange(std::string_view bytes);

}  // namespace keel::raft
