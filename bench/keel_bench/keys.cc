#include "bench/keel_bench/keys.h"

#include "absl/strings/str_cat.h"

namespace keel::bench {

void AppendGoVarint(int64_t n, std::string* out) {
  // Zig-zag: 0, -1, 1, -2, ... -> 0, 1, 2, 3, ...
  uint64_t u = (static_cast<uint64_t>(n) << 1) ^ static_cast<uint64_t>(n >> 63);
  while (u >= 0x80) {
    out->push_back(static_cast<char>(static_cast<uint8_t>(u) | 0x80));
    u >>= 7;
  }
  out->push_back(static_cast<char>(u));
}

int GoVarintLength(int64_t n) {
  std::string s;
  AppendGoVarint(n, &s);
  return static_cast<int>(s.size());
}

KeyGenerator::KeyGenerator(std::string prefix, int key_size, uint64_t key_space_size,
                           bool sequential)
    : prefix_(std::move(prefix)),
      key_size_(key_size),
      key_space_size_(key_space_size),
      sequential_(sequential) {}

absl::Status KeyGenerator::Validate() const {
  if (key_space_size_ == 0) return absl::InvalidArgumentError("--key-space-size must be positive");
  if (key_space_size_ > static_cast<uint64_t>(INT64_MAX)) {
    return absl::InvalidArgumentError("--key-space-size is too large");
  }
  const int needed = GoVarintLength(static_cast<int64_t>(key_space_size_ - 1));
  if (key_size_ < needed) {
    return absl::InvalidArgumentError(
        absl::StrCat("--key-size ", key_size_, " is too small for --key-space-size ",
                     key_space_size_, ": keys need ", needed, " bytes"));
  }
  return absl::OkStatus();
}

uint64_t KeyGenerator::IndexFor(uint64_t seq, std::mt19937_64& rng) const {
  if (sequential_) return seq % key_space_size_;
  return std::uniform_int_distribution<uint64_t>(0, key_space_size_ - 1)(rng);
}

void KeyGenerator::KeyAt(uint64_t index, std::string* key) const {
  key->assign(prefix_);
  AppendGoVarint(static_cast<int64_t>(index), key);
  key->resize(prefix_.size() + static_cast<size_t>(key_size_), '\0');
}

std::string KeyGenerator::KeyAt(uint64_t index) const {
  std::string key;
  KeyAt(index, &key);
  return key;
}

std::string KeyGenerator::PrefixRangeEnd() const { return PrefixEnd(prefix_); }

std::string PrefixEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    // Compare as unsigned bytes: `char` is signed here.
    const auto last = static_cast<uint8_t>(end.back());
    if (last < 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

std::string RandomBytes(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(size, '\0');
  for (auto& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

}  // namespace keel::bench
