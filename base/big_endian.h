// 8-byte big-endian integers: storage keys whose byte order must equal numeric order
// (raft log indexes, kv revisions), fixed-width meta values, and ReadIndex contexts.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace keel {

inline void PutBigEndian64(uint64_t value, char out[8]) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
}

// Reads the first 8 bytes of `in` (the caller checks the length).
inline uint64_t GetBigEndian64(const char* in) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = (value << 8) | static_cast<unsigned char>(in[i]);
  return value;
}

inline void AppendBigEndian64(uint64_t value, std::string* out) {
  char buf[8];
  PutBigEndian64(value, buf);
  out->append(buf, 8);
}

inline std::string BigEndian64(uint64_t value) {
  std::string out;
  AppendBigEndian64(value, &out);
  return out;
}

}  // namespace keel
