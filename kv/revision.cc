#include "kv/revision.h"

namespace keel::kv {

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
