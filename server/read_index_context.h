// The context a member attaches to a raft ReadIndex request: its own member id, then the
// round's sequence number (8 bytes big-endian each).
//
// The leader keys pending ReadIndex rounds by context and ignores a request whose context is
// already pending (as etcd's raft does), so contexts must be unique across the cluster. Every
// member numbers its rounds from 1; without the member id two members' rounds with the same
// number would collide, and the second one would go unanswered until its 500 ms retry, with
// every read of that member waiting behind it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/big_endian.h"
#include "raft/types.h"

namespace keel::server {

inline raft::Bytes EncodeReadIndexContext(uint64_t member_id, uint64_t seq) {
  std::string ctx;
  ctx.reserve(16);
  AppendBigEndian64(member_id, &ctx);
  AppendBigEndian64(seq, &ctx);
  return raft::Bytes(std::move(ctx));
}

// The sequence number of a context this member encoded; nullopt for any other shape.
inline std::optional<uint64_t> DecodeReadIndexSeq(uint64_t member_id, const raft::Bytes& ctx) {
  const std::string& s = ctx.str();
  if (s.size() != 16 || GetBigEndian64(s.data()) != member_id) return std::nullopt;
  return GetBigEndian64(s.data() + 8);
}

}  // namespace keel::server
