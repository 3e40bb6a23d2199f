#include "kv/key_range.h"

namespace keel::kv {

KeyRange KeyRange::Single(std::string_view key) {
  KeyRange r;
  r.begin_ = std::string(key);
  return r;
}

KeyRange KeyRange::FromRequest(std::string_view key, std::string_view range_end) {
  KeyRange r;
  r.begin_ = std::string(key);
  if (range_end.empty()) return r;
  r.single_ = false;
  if (range_end == std::string_view("\0", 1)) {
    r.unbounded_ = true;
  } else {
    r.end_ = std::string(range_end);
  }
  return r;
}

bool KeyRange::Contains(std::string_view key) const {
  if (single_) return key == begin_;
  if (key < std::string_view(begin_)) return false;
  return unbounded_ || key < std::string_view(end_);
}

bool KeyRange::IsPastEnd(std::string_view key) const {
  if (single_) return key > std::string_view(begin_);
  return !unbounded_ && key >= std::string_view(end_);
}

std::string PrefixRangeEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    unsigned char last = static_cast<unsigned char>(end.back());
    if (last != 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

}  // namespace keel::kv
