#include "raft/codec.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace keel::raft {
namespace {

template <typename P>
absl::StatusOr<P> Parse(std::string_view bytes, const char* what) {
  P p;
  if (!p.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(absl::StrCat("raft codec: cannot decode ", what));
  }
  return p;
}

std::vector<NodeId> SortedIds(const google::protobuf::RepeatedField<uint64_t>& ids) {
  std::vector<NodeId> out(ids.begin(), ids.end());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

void ToProto(const Entry& in, raftpb::Entry* out) {
  out->set_term(in.term);
  out->set_index(in.index);
  out->set_type(static_cast<raftpb::EntryType>(in.type));
  out->set_data(in.data.str());
}

void ToProto(const HardState& in, raftpb::HardState* out) {
  out->set_term(in.term);
  out->set_vote(in.vote);
  out->set_commit(in.commit);
}

void ToProto(const ConfState& in, raftpb::ConfState* out) {
  out->mutable_voters()->Assign(in.voters.begin(), in.voters.end());
  out->mutable_learners()->Assign(in.learners.begin(), in.learners.end());
}

void ToProto(const SnapshotMetadata& in, raftpb::SnapshotMetadata* out) {
  ToProto(in.conf_state, out->mutable_conf_state());
  out->set_index(in.index);
  out->set_term(in.term);
}

void ToProto(const Snapshot& in, raftpb::Snapshot* out) {
  out->set_data(in.data.str());
  ToProto(in.metadata, out->mutable_metadata());
}

void ToProto(const ConfChange& in, raftpb::ConfChange* out) {
  out->set_type(static_cast<raftpb::ConfChangeType>(in.type));
  out->set_node_id(in.node_id);
  out->set_context(in.context.str());
  out->set_id(in.id);
}

void ToProto(const Message& in, raftpb::Message* out) {
  out->set_type(static_cast<raftpb::MessageType>(in.type));
  out->set_to(in.to);
  out->set_from(in.from);
  out->set_term(in.term);
  out->set_log_term(in.log_term);
  out->set_index(in.index);
  out->mutable_entries()->Reserve(static_cast<int>(in.entries.size()));
  for (const Entry& e : in.entries) ToProto(e, out->add_entries());
  out->set_commit(in.commit);
  if (in.snapshot) ToProto(*in.snapshot, out->mutable_snapshot());
  out->set_reject(in.reject);
  out->set_reject_hint(in.reject_hint);
  out->set_context(in.context.str());
}

Entry FromProto(const raftpb::Entry& in) {
  Entry e;
  e.term = in.term();
  e.index = in.index();
  e.type = in.type() == raftpb::ENTRY_CONF_CHANGE ? EntryType::kConfChange : EntryType::kNormal;
  e.data = Bytes(in.data());
  return e;
}

HardState FromProto(const raftpb::HardState& in) {
  return HardState{in.term(), in.vote(), in.commit()};
}

ConfState FromProto(const raftpb::ConfState& in) {
  return ConfState{SortedIds(in.voters()), SortedIds(in.learners())};
}

SnapshotMetadata FromProto(const raftpb::SnapshotMetadata& in) {
  return SnapshotMetadata{FromProto(in.conf_state()), in.index(), in.term()};
}

Snapshot FromProto(const raftpb::Snapshot& in) {
  return Snapshot{Bytes(in.data()), FromProto(in.metadata())};
}

ConfChange FromProto(const raftpb::ConfChange& in) {
  ConfChange cc;
  cc.type = static_cast<ConfChangeType>(in.type());
  cc.node_id = in.node_id();
  cc.context = Bytes(in.context());
  cc.id = in.id();
  return cc;
}

absl::StatusOr<Message> FromProto(const raftpb::Message& in) {
  if (!raftpb::MessageType_IsValid(in.type()) || in.type() > raftpb::MSG_PRE_VOTE_RESP) {
    return absl::InvalidArgumentError(absl::StrCat("raft codec: unknown message type ", in.type()));
  }
  Message m;
  m.type = static_cast<MessageType>(in.type());
  m.to = in.to();
  m.from = in.from();
  m.term = in.term();
  m.log_term = in.log_term();
  m.index = in.index();
  m.entries.reserve(in.entries_size());
  for (const raftpb::Entry& e : in.entries()) {
    if (e.type() != raftpb::ENTRY_NORMAL && e.type() != raftpb::ENTRY_CONF_CHANGE) {
      return absl::InvalidArgumentError("raft codec: unknown entry type");
    }
    m.entries.push_back(FromProto(e));
  }
  m.commit = in.commit();
  if (in.has_snapshot()) m.snapshot = FromProto(in.snapshot());
  m.reject = in.reject();
  m.reject_hint = in.reject_hint();
  m.context = Bytes(in.context());
  return m;
}

namespace {

char* PutVarint(uint64_t value, char* out) {
  while (value >= 0x80) {
    *out++ = static_cast<char>(value | 0x80);
    value >>= 7;
  }
  *out++ = static_cast<char>(value);
  return out;
}

}  // namespace

size_t EncodeEntryHeader(const Entry& entry, char* out) {
  // Field numbers and wire types of keel.raftpb.Entry (proto/keel/raft.proto).
  constexpr char kTermTag = (1 << 3) | 0;
  constexpr char kIndexTag = (2 << 3) | 0;
  constexpr char kTypeTag = (3 << 3) | 0;
  constexpr char kDataTag = (4 << 3) | 2;
  char* p = out;
  if (entry.term != 0) {
    *p++ = kTermTag;
    p = PutVarint(entry.term, p);
  }
  if (entry.index != 0) {
    *p++ = kIndexTag;
    p = PutVarint(entry.index, p);
  }
  if (entry.type != EntryType::kNormal) {
    *p++ = kTypeTag;
    p = PutVarint(static_cast<uint64_t>(entry.type), p);
  }
  if (!entry.data.empty()) {
    *p++ = kDataTag;
    p = PutVarint(entry.data.size(), p);
  }
  return static_cast<size_t>(p - out);
}

std::string EncodeEntry(const Entry& entry) {
  char header[kMaxEntryHeaderBytes];
  const size_t header_bytes = EncodeEntryHeader(entry, header);
  std::string out;
  out.reserve(header_bytes + entry.data.size());
  out.append(header, header_bytes);
  out.append(entry.data.view());
  return out;
}

absl::StatusOr<Entry> DecodeEntry(std::string_view bytes) {
  auto p = Parse<raftpb::Entry>(bytes, "entry");
  if (!p.ok()) return p.status();
  return FromProto(*p);
}

std::string EncodeHardState(const HardState& hs) {
  raftpb::HardState p;
  ToProto(hs, &p);
  return p.SerializeAsString();
}

absl::StatusOr<HardState> DecodeHardState(std::string_view bytes) {
  auto p = Parse<raftpb::HardState>(bytes, "hard state");
  if (!p.ok()) return p.status();
  return FromProto(*p);
}

std::string EncodeConfState(const ConfState& cs) {
  raftpb::ConfState p;
  ToProto(cs, &p);
  return p.SerializeAsString();
}

absl::StatusOr<ConfState> DecodeConfState(std::string_view bytes) {
  auto p = Parse<raftpb::ConfState>(bytes, "conf state");
  if (!p.ok()) return p.status();
  return FromProto(*p);
}

std::string EncodeSnapshot(const Snapshot& snapshot) {
  raftpb::Snapshot p;
  ToProto(snapshot, &p);
  return p.SerializeAsString();
}

absl::StatusOr<Snapshot> DecodeSnapshot(std::string_view bytes) {
  auto p = Parse<raftpb::Snapshot>(bytes, "snapshot");
  if (!p.ok()) return p.status();
  return FromProto(*p);
}

Bytes EncodeConfChange(const ConfChange& cc) {
  raftpb::ConfChange p;
  ToProto(cc, &p);
  return Bytes(p.SerializeAsString());
}

absl::StatusOr<ConfChange> DecodeConfChange(std::string_view bytes) {
  auto p = Parse<raftpb::ConfChange>(bytes, "conf change");
  if (!p.ok()) return p.status();
  if (!raftpb::ConfChangeType_IsValid(p->type())) {
    return absl::InvalidArgumentError("raft codec: unknown conf change type");
  }
  return FromProto(*p);
}

}  // namespace keel::raft
