#include "kv/revision.h"

namespace keel::kv {

void PutBigEndian64(uint64_t value, char out[8]) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
}

uint64_t GetBigEndian64(const char in[8]) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = (value << 8) | static_cast<unsigned char>(in[i]);
  return value;
}

void EncodeRevisionKey(Revision rev, char out[kRevisionKeyBytes]) {
  PutBigEndian64(static_cast<uint64_t>(rev.main), out);
  PutBigEndian64(static_cast<uint64_t>(rev.sub), out + 8);
}

std::string EncodeRevisionKey(Revision rev) {
  std::string out(kRevisionKeyBytes, '\0');
  EncodeRevisionKey(rev, out.data());
  return out;
}

bool DecodeRevisionKey(std::string_view bytes, Revision* rev) {
  if (bytes.size() != kRevisionKeyBytes) return false;
  rev->main = static_cast<int64_t>(GetBigEndian64(bytes.data()));
  rev->sub = static_cast<int64_t>(GetBigEndian64(bytes.data() + 8));
  return true;
}

}  // namespace keel::kv
