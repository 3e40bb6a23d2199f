// UnstableLog: entries (and at most one snapshot) that raft has accepted but the application
// has not yet confirmed persisted. Entry i lives at entries_[i - offset_].
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "raft/types.h"

namespace keel::raft {

class UnstableLog {
 public:
  // The first index of the log, if an unstable snapshot determines it.
  std::optional<uint64_t> MaybeFirstIndex() const;
  // The last index, if there are unstable entries or a snapshot.
  std::optional<uint64_t> MaybeLastIndex() const;
  // The term of entry i, if the unstable part knows it.
  std::optional<uint64_t> MaybeTerm(uint64_t index) const;

  // Entries up to (index, term) are persisted: drop them. Ignored when the term does not match
  // (the entry was replaced in the meantime) or the index is not unstable.
  void StableTo(uint64_t index, uint64_t term);
  void StableSnapTo(uint64_t index);
  void Restore(const Snapshot& snapshot);
  // Appends, replacing any unstable entries at or after the first new index.
  void TruncateAndAppend(std::vector<Entry> entries);
  // Copies of entries [lo, hi). Invariant: offset_ <= lo <= hi <= offset_ + size.
  std::vector<Entry> Slice(uint64_t lo, uint64_t hi) const;

  const std::optional<Snapshot>& snapshot() const { return snapshot_; }
  const std::vector<Entry>& entries() const { return entries_; }
  uint64_t offset() const { return offset_; }
  void set_offset(uint64_t offset) { offset_ = offset; }

 private:
  std::optional<Snapshot> snapshot_;
  std::vector<Entry> entries_;
  uint64_t offset_ = 0;
};

}  // namespace keel::raft
