// Keys and values as etcd's benchmark tool makes them, so that runs against etcd and Keel
// (and against etcd's own tool) touch the same keys: a key is `prefix` followed by
// `key_size` bytes holding Go's binary.PutVarint(index) (zig-zag varint) padded with zero
// bytes. Indexes are drawn uniformly from [0, key_space_size) or, with sequential keys, are
// the request's sequence number modulo key_space_size.
//
// Keys are binary (they contain NUL bytes); never treat them as C strings.
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "absl/status/status.h"

namespace keel::bench {

// Appends Go's binary.PutVarint encoding of n (zig-zag, then base-128 little-endian) to out.
void AppendGoVarint(int64_t n, std::string* out);
// Bytes AppendGoVarint writes for n.
int GoVarintLength(int64_t n);

class KeyGenerator {
 public:
  KeyGenerator(std::string prefix, int key_size, uint64_t key_space_size, bool sequential);

  // The largest index needs more than key_size bytes (etcd's tool would panic), or the key
  // space is empty.
  absl::Status Validate() const;

  // The index of the key for the request with sequence number `seq`: seq % key_space_size
  // when sequential, else a uniform draw from `rng`.
  uint64_t IndexFor(uint64_t seq, std::mt19937_64& rng) const;

  // Writes the key with this index into *key (reusing its capacity).
  void KeyAt(uint64_t index, std::string* key) const;
  std::string KeyAt(uint64_t index) const;

  // The range [prefix, end) that holds every generated key when the prefix is non-empty.
  std::string PrefixRangeEnd() const;

  const std::string& prefix() const { return prefix_; }
  uint64_t key_space_size() const { return key_space_size_; }

 private:
  std::string prefix_;
  int key_size_;
  uint64_t key_space_size_;
  bool sequential_;
};

// The end of the range holding every key that starts with `prefix` (etcd's GetPrefixRangeEnd):
// the prefix with its last byte below 0xff incremented and what follows dropped; "\0" (every
// key) when the prefix is empty or all 0xff.
std::string PrefixEnd(const std::string& prefix);

// `size` bytes from a seeded generator (etcd's tool uses crypto/rand; the bytes' values do not
// matter to the server, reproducibility does to us).
std::string RandomBytes(size_t size, uint64_t seed);

}  // namespace keel::bench
