// The context a member attaches to a raft ReadIndex request: its own member id, then the
// round's sequence number (8 bytes big-endian each).
//
// The leader keys pending ReadIndex rounds by context and ignores a request whose context is
// already pending (as etcd's raft does), so contexts must be unique across the cluster. Members
// number their rounds independently; without the member id two members' rounds with the same
// number would collide, and the second one would go unanswered until its 500 ms retry, with
// every read of that member waiting behind it.
//
// A member also starts numbering at a random point: a round of its previous run (before a
// restart) may still be pending at the leader, and its answer, carrying the read index of
// back then, must not be taken for the answer to a new round.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
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

inline uint64_t RandomReadIndexSeqStart() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

// The sequence number of a context this member encoded; nullopt for any other shape.
inline std::optional<uint64_t> DecodeReadIndexSeq(uint64_t member_id, const raft::Bytes& ctx) {
  const std::string& s = ctx.str();
  if (s.size() != 16 || GetBigEndian64(s.data()) != member_id) return std::nullopt;
  return GetBigEndian64(s.data() + 8);
}

}  // namespace keel::server
