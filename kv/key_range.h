// etcd's key-range convention, decoded once.
//
// A request names keys with (key, range_end):
//   range_end empty            -> the single key `key`
//   range_end == "\0"          -> every key >= key  (so key "\0", range_end "\0" = all keys)
//   otherwise                  -> [key, range_end); empty when range_end <= key
// "Prefix p" is range_end = PrefixRangeEnd(p). Keys are arbitrary bytes compared as unsigned
// bytes (std::string's ordering does exactly that).
#pragma once

#include <string>
#include <string_view>

namespace keel::kv {

class KeyRange {
 public:
  static KeyRange FromRequest(std::string_view key, std::string_view range_end);
  static KeyRange Single(std::string_view key);

  bool is_single() const { return single_; }
  const std::string& begin() const { return begin_; }
  // Meaningful only when !is_single() && !unbounded(): the exclusive upper bound.
  const std::string& end() const { return end_; }
  bool unbounded() const { return unbounded_; }

  bool Contains(std::string_view key) const;
  // True once `key` (visited in ascending order) is past the range.
  bool IsPastEnd(std::string_view key) const;

 private:
  std::string begin_;
  std::string end_;
  bool single_ = true;
  bool unbounded_ = false;
};

// The smallest key greater than every key with prefix `prefix`: the prefix with its last
// byte that is not 0xff incremented and the rest dropped ("a\xff" -> "b"). A prefix made
// only of 0xff bytes (or empty) has no such key: the answer is "\0", meaning "no end".
std::string PrefixRangeEnd(std::string_view prefix);

}  // namespace keel::kv
