// The vocabulary of the consensus core: entries, messages, persistent state, membership.
//
// These are plain C++ values, not protobuf messages: the core copies entries between its log,
// outgoing messages and Ready batches many times per proposal, so payloads are immutable and
// shared (copying an Entry never copies its bytes). proto/keel/raft.proto is the wire and disk
// form of the same structs; raft/codec.h converts between the two.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keel::raft {

using NodeId = uint64_t;
// No node: "no leader", "no vote".
inline constexpr NodeId kNone = 0;

// An immutable byte string shared by all copies. Equality compares contents.
class Bytes {
 public:
  Bytes() = default;
  explicit Bytes(std::string s)
      : data_(s.empty() ? nullptr : std::make_shared<const std::string>(std::move(s))) {}
  explicit Bytes(std::string_view s) : Bytes(std::string(s)) {}

  const std::string& str() const;
  std::string_view view() const { return str(); }
  size_t size() const { return data_ ? data_->size() : 0; }
  bool empty() const { return size() == 0; }
  friend bool operator==(const Bytes& a, const Bytes& b) { return a.view() == b.view(); }

 private:
  std::shared_ptr<const std::string> data_;
};

enum class EntryType : uint8_t { kNormal = 0, kConfChange = 1 };

struct Entry {
  uint64_t term = 0;
  uint64_t index = 0;
  EntryType type = EntryType::kNormal;
  Bytes data;

  // What the entry counts for in size limits (max_size_per_msg_bytes and friends).
  uint64_t SizeBytes() const { return data.size() + 24; }
  friend bool operator==(const Entry&, const Entry&) = default;
};

// Raft paper Figure 2, "persistent state on all servers" (the log is stored separately).
struct HardState {
  uint64_t term = 0;
  NodeId vote = kNone;
  uint64_t commit = 0;

  bool IsEmpty() const { return term == 0 && vote == kNone && commit == 0; }
  friend bool operator==(const HardState&, const HardState&) = default;
};

// Membership: single-server changes (thesis §4.1), so a configuration is two disjoint sets.
// Invariant: both vectors are sorted and disjoint.
struct ConfState {
  std::vector<NodeId> voters;
  std::vector<NodeId> learners;
  friend bool operator==(const ConfState&, const ConfState&) = default;
};

enum class ConfChangeType : uint8_t { kAddNode = 0, kRemoveNode = 1, kAddLearnerNode = 2 };

// The payload of a kConfChange entry (encoded with raft/codec.h).
struct ConfChange {
  ConfChangeType type = ConfChangeType::kAddNode;
  NodeId node_id = kNone;
  Bytes context;
  uint64_t id = 0;
  friend bool operator==(const ConfChange&, const ConfChange&) = default;
};

struct SnapshotMetadata {
  ConfState conf_state;
  uint64_t index = 0;
  uint64_t term = 0;
  friend bool operator==(const SnapshotMetadata&, const SnapshotMetadata&) = default;
};

struct Snapshot {
  Bytes data;
  SnapshotMetadata metadata;
  bool IsEmpty() const { return metadata.index == 0; }
  friend bool operator==(const Snapshot&, const Snapshot&) = default;
};

enum class MessageType : uint8_t {
  kHup = 0,
  kBeat = 1,
  kProp = 2,
  kApp = 3,
  kAppResp = 4,
  kVote = 5,
  kVoteResp = 6,
  kSnap = 7,
  kHeartbeat = 8,
  kHeartbeatResp = 9,
  kUnreachable = 10,
  kSnapStatus = 11,
  kCheckQuorum = 12,
  kTransferLeader = 13,
  kTimeoutNow = 14,
  kReadIndex = 15,
  kReadIndexResp = 16,
  kPreVote = 17,
  kPreVoteResp = 18,
};
const char* MessageTypeName(MessageType type);

// Local messages never leave the node that created them.
bool IsLocalMessage(MessageType type);
// Responses: the sender's term may lag behind without the message being stale.
bool IsResponseMessage(MessageType type);

struct Message {
  MessageType type = MessageType::kHup;
  NodeId to = kNone;
  NodeId from = kNone;
  uint64_t term = 0;
  uint64_t log_term = 0;
  uint64_t index = 0;
  std::vector<Entry> entries;
  uint64_t commit = 0;
  // Set only on kSnap.
  std::optional<Snapshot> snapshot;
  bool reject = false;
  uint64_t reject_hint = 0;
  Bytes context;
  friend bool operator==(const Message&, const Message&) = default;
};

enum class Role : uint8_t { kFollower, kCandidate, kLeader, kPreCandidate };
const char* RoleName(Role role);

// Volatile state the application may want to observe (who leads, what this node is).
struct SoftState {
  NodeId lead = kNone;
  Role role = Role::kFollower;
  friend bool operator==(const SoftState&, const SoftState&) = default;
};

// The answer to ReadIndex(ctx): once the application has applied `index`, a read issued
// before the ReadIndex call may be served from local state (thesis §6.4).
struct ReadState {
  uint64_t index = 0;
  Bytes request_ctx;
  friend bool operator==(const ReadState&, const ReadState&) = default;
};

// Debug forms used by golden interaction tests and failure messages.
std::string DescribeEntry(const Entry& entry);
std::string DescribeEntries(const std::vector<Entry>& entries);
std::string DescribeMessage(const Message& message);
std::string DescribeHardState(const HardState& hs);
std::string DescribeConfState(const ConfState& cs);

uint64_t TotalSizeBytes(const std::vector<Entry>& entries);

}  // namespace keel::raft
