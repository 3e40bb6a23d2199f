// A store revision and its on-disk key encoding.
//
// Every write transaction gets one main revision (the cluster-wide counter etcd clients see);
// the individual writes inside it are ordered by sub-revision 0, 1, 2, ... The `kv` column
// family is keyed by the revision encoded as 16 bytes, main then sub, each big-endian, so
// RocksDB's bytewise order is revision order and a scan from the start replays history.
#pragma once

#include "base/big_endian.h"

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace keel::kv {

struct Revision {
  int64_t main = 0;
  int64_t sub = 0;

  friend auto operator<=>(const Revision&, const Revision&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const Revision& r) {
    return H::combine(std::move(h), r.main, r.sub);
  }
};

inline constexpr size_t kRevisionKeyBytes = 16;

// 16 bytes: main and sub, each 8 bytes big-endian. Both are >= 0, so unsigned byte order
// equals numeric order.
std::string EncodeRevisionKey(Revision rev);
void EncodeRevisionKey(Revision rev, char out[kRevisionKeyBytes]);

// Inverse of EncodeRevisionKey; false if `bytes` is not 16 bytes long.
bool DecodeRevisionKey(std::string_view bytes, Revision* rev);

// 8-byte big-endian helpers, also used for kv_meta values.
using ::keel::GetBigEndian64;
using ::keel::PutBigEndian64;

}  // namespace keel::kv
