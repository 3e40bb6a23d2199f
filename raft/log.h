// RaftLog: the log as raft sees it — what the LogStore holds, followed by the unstable tail —
// with the commit and applied indexes (Raft paper §5.3).
//
// Invariants: applied <= committed <= LastIndex(); FirstIndex() - 1 <= applied (once a
// snapshot is applied); the unstable tail starts right after the store or replaces a suffix.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "raft/log_unstable.h"
#include "raft/storage/log_store.h"

namespace keel::raft {

class RaftLog {
 public:
  RaftLog(const LogStore* store, uint64_t max_committed_bytes_per_ready);

  uint64_t FirstIndex() const;
  uint64_t LastIndex() const;
  uint64_t LastTerm() const;
  // ErrCompacted / ErrUnavailable outside [FirstIndex() - 1, LastIndex()].
  absl::StatusOr<uint64_t> Term(uint64_t index) const;
  // Term(index), or 0 when it is not available (compacted or beyond the end).
  uint64_t ZeroTermOnError(uint64_t index) const;
  bool MatchTerm(uint64_t index, uint64_t term) const;

  // Follower side of AppendEntries (§5.3): if the entry at `index` has `log_term`, appends
  // `entries` (truncating a conflicting suffix), advances commit to min(committed, last new
  // index) and returns the last new index.
  std::optional<uint64_t> MaybeAppend(uint64_t index, uint64_t log_term, uint64_t committed,
                                      std::vector<Entry> entries);
  // Appends after the current last index (or replacing a suffix). Returns the new last index.
  uint64_t Append(std::vector<Entry> entries);
  // Index of the first entry of `entries` that conflicts with the log (same index, other
  // term) or is new; 0 when all are already present.
  uint64_t FindConflict(const std::vector<Entry>& entries) const;
  // For fast back-off: the largest index <= `index` whose term is <= `term`, and its term.
  std::pair<uint64_t, uint64_t> FindConflictByTerm(uint64_t index, uint64_t term) const;

  // §5.4.1: whether a log ending at (last_index, term) is at least as up to date as ours.
  bool IsUpToDate(uint64_t last_index, uint64_t term) const;

  // Entries from `index` on, at most max_size_bytes (at least one).
  absl::StatusOr<std::vector<Entry>> EntriesFrom(uint64_t index, uint64_t max_size_bytes) const;
  // Entries in [lo, hi), at most max_size_bytes (at least one).
  absl::StatusOr<std::vector<Entry>> Slice(uint64_t lo, uint64_t hi, uint64_t max_size_bytes) const;
  // Every entry from the first index; for tests.
  std::vector<Entry> AllEntries() const;

  const std::vector<Entry>& UnstableEntries() const { return unstable_.entries(); }
  const std::optional<Snapshot>& UnstableSnapshot() const { return unstable_.snapshot(); }
  // The current snapshot (unstable, else the store's).
  absl::StatusOr<Snapshot> GetSnapshot() const;

  bool HasNextCommittedEntries() const;
  // Committed, unapplied entries, bounded by max_committed_bytes_per_ready.
  std::vector<Entry> NextCommittedEntries() const;

  void CommitTo(uint64_t to_commit);
  // Commits up to max_index if that entry belongs to `term` (§5.4.2: only current-term
  // entries are committed by counting replicas). `ignore_term` is the planted bug.
  bool MaybeCommit(uint64_t max_index, uint64_t term, bool ignore_term);
  void AppliedTo(uint64_t index);
  void StableTo(uint64_t index, uint64_t term) { unstable_.StableTo(index, term); }
  void StableSnapTo(uint64_t index) { unstable_.StableSnapTo(index); }
  // Replaces the log by a snapshot (the follower was too far behind).
  void Restore(const Snapshot& snapshot);

  uint64_t committed() const { return committed_; }
  uint64_t applied() const { return applied_; }
  void set_committed(uint64_t committed) { committed_ = committed; }
  void set_applied(uint64_t applied) { applied_ = applied; }
  std::string ToString() const;

 private:
  // Store reads that cannot fail unless storage is broken: a failure is fatal.
  void MustCheckOutOfBounds(uint64_t lo, uint64_t hi) const;

  const LogStore* store_;
  UnstableLog unstable_;
  uint64_t committed_ = 0;
  uint64_t applied_ = 0;
  uint64_t max_committed_bytes_per_ready_;
};

}  // namespace keel::raft
