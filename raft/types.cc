#include "raft/types.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace keel::raft {

const std::string& Bytes::str() const {
  static const std::string* const kEmpty = new std::string();
  return data_ ? *data_ : *kEmpty;
}

const char* MessageTypeName(MessageType type) {
  switch (type) {
    case MessageType::kHup: return "MsgHup";
    case MessageType::kBeat: return "MsgBeat";
    case MessageType::kProp: return "MsgProp";
    case MessageType::kApp: return "MsgApp";
    case MessageType::kAppResp: return "MsgAppResp";
    case MessageType::kVote: return "MsgVote";
    case MessageType::kVoteResp: return "MsgVoteResp";
    case MessageType::kSnap: return "MsgSnap";
    case MessageType::kHeartbeat: return "MsgHeartbeat";
    case MessageType::kHeartbeatResp: return "MsgHeartbeatResp";
    case MessageType::kUnreachable: return "MsgUnreachable";
    case MessageType::kSnapStatus: return "MsgSnapStatus";
    case MessageType::kCheckQuorum: return "MsgCheckQuorum";
    case MessageType::kTransferLeader: return "MsgTransferLeader";
    case MessageType::kTimeoutNow: return "MsgTimeoutNow";
    case MessageType::kReadIndex: return "MsgReadIndex";
    case MessageType::kReadIndexResp: return "MsgReadIndexResp";
    case MessageType::kPreVote: return "MsgPreVote";
    case MessageType::kPreVoteResp: return "MsgPreVoteResp";
  }
  return "MsgUnknown";
}

bool IsLocalMessage(MessageType type) {
  return type == MessageType::kHup || type == MessageType::kBeat ||
         type == MessageType::kUnreachable || type == MessageType::kSnapStatus ||
         type == MessageType::kCheckQuorum;
}

bool IsResponseMessage(MessageType type) {
  return type == MessageType::kAppResp || type == MessageType::kVoteResp ||
         type == MessageType::kHeartbeatResp || type == MessageType::kUnreachable ||
         type == MessageType::kPreVoteResp;
}

const char* RoleName(Role role) {
  switch (role) {
    case Role::kFollower: return "StateFollower";
    case Role::kCandidate: return "StateCandidate";
    case Role::kLeader: return "StateLeader";
    case Role::kPreCandidate: return "StatePreCandidate";
  }
  return "StateUnknown";
}

std::string DescribeEntry(const Entry& e) {
  std::string out = absl::StrCat(e.term, "/", e.index);
  if (e.type == EntryType::kConfChange) {
    absl::StrAppend(&out, " EntryConfChange");
  } else {
    absl::StrAppend(&out, " EntryNormal");
  }
  if (!e.data.empty()) absl::StrAppend(&out, " \"", absl::CHexEscape(e.data.str()), "\"");
  return out;
}

std::string DescribeEntries(const std::vector<Entry>& entries) {
  std::vector<std::string> parts;
  parts.reserve(entries.size());
  for (const Entry& e : entries) parts.push_back(DescribeEntry(e));
  return absl::StrCat("[", absl::StrJoin(parts, ", "), "]");
}

std::string DescribeMessage(const Message& m) {
  std::string out = absl::StrCat(m.from, "->", m.to, " ", MessageTypeName(m.type), " Term:", m.term,
                                 " Log:", m.log_term, "/", m.index);
  if (m.reject) absl::StrAppend(&out, " Rejected (Hint: ", m.reject_hint, ")");
  if (m.commit != 0) absl::StrAppend(&out, " Commit:", m.commit);
  if (!m.entries.empty()) absl::StrAppend(&out, " Entries:", DescribeEntries(m.entries));
  if (m.snapshot) {
    absl::StrAppend(&out, " Snapshot: Index:", m.snapshot->metadata.index,
                    " Term:", m.snapshot->metadata.term, " ",
                    DescribeConfState(m.snapshot->metadata.conf_state));
  }
  if (!m.context.empty()) absl::StrAppend(&out, " Context:\"", absl::CHexEscape(m.context.str()), "\"");
  return out;
}

std::string DescribeHardState(const HardState& hs) {
  return absl::StrCat("Term:", hs.term, " Vote:", hs.vote, " Commit:", hs.commit);
}

std::string DescribeConfState(const ConfState& cs) {
  std::string out = absl::StrCat("Voters:[", absl::StrJoin(cs.voters, " "), "]");
  if (!cs.learners.empty()) absl::StrAppend(&out, " Learners:[", absl::StrJoin(cs.learners, " "), "]");
  return out;
}

uint64_t TotalSizeBytes(const std::vector<Entry>& entries) {
  uint64_t total = 0;
  for (const Entry& e : entries) total += e.SizeBytes();
  return total;
}

}  // namespace keel::raft
