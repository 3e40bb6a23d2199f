// LogStore: the consensus core's read-only view of durable raft state.
//
// Contract
// - raft only reads through this interface; the driver (the server's raft loop, or the
//   simulator) writes, after taking a Ready and before calling Advance(). Durability is the
//   writer's business: an implementation says in its own header which calls are synced.
// - The log is a contiguous run of entries [FirstIndex(), LastIndex()]. Entries up to and
//   including the snapshot index are compacted; the snapshot index and its term stay
//   answerable by Term() so that the consistency check of the entry after it works.
// - An empty store has FirstIndex() == 1, LastIndex() == 0 and Term(0) == 0.
//
// Errors
// - Term(i) / Entries(lo, hi) for i < FirstIndex() - 1 (lo < FirstIndex()): ErrCompacted.
// - Term(i) for i > LastIndex(), Entries with hi > LastIndex() + 1: ErrUnavailable.
// - Snapshot() may answer ErrSnapshotTemporarilyUnavailable while one is being made.
// Any other error is a storage failure the core treats as fatal.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "raft/types.h"

namespace keel::raft {

struct InitialState {
  HardState hard_state;
  ConfState conf_state;
};

class LogStore {
 public:
  virtual ~LogStore() = default;

  // The hard state and membership saved last (membership as of the latest snapshot, or the
  // bootstrap configuration; conf changes in the log are replayed on top by the application).
  virtual absl::StatusOr<InitialState> GetInitialState() const = 0;

  // Entries in [lo, hi). At least one entry is returned when lo < hi, even if it alone exceeds
  // max_size_bytes; after that, entries are added while the total stays within the limit.
  virtual absl::StatusOr<std::vector<Entry>> Entries(uint64_t lo, uint64_t hi,
                                                     uint64_t max_size_bytes) const = 0;

  // Term of entry i, for i in [FirstIndex() - 1, LastIndex()].
  virtual absl::StatusOr<uint64_t> Term(uint64_t index) const = 0;

  virtual uint64_t FirstIndex() const = 0;
  virtual uint64_t LastIndex() const = 0;

  // The most recent snapshot; raft sends it to a follower whose next index was compacted.
  virtual absl::StatusOr<Snapshot> GetSnapshot() const = 0;
};

// Canonical errors. Callers test with the Is* helpers, never by message.
absl::Status ErrCompacted();
absl::Status ErrUnavailable();
absl::Status ErrSnapshotTemporarilyUnavailable();
absl::Status ErrSnapOutOfDate();
bool IsCompacted(const absl::Status& status);
bool IsErrUnavailable(const absl::Status& status);
bool IsSnapshotTemporarilyUnavailable(const absl::Status& status);
bool IsSnapOutOfDate(const absl::Status& status);

// Keeps the prefix of `entries` whose total size fits max_size_bytes (always at least one).
void LimitSize(std::vector<Entry>* entries, uint64_t max_size_bytes);

}  // namespace keel::raft
