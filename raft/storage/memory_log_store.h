// MemoryLogStore: a LogStore in memory, for tests and the simulator, that models a disk.
//
// Writes (Append, SetHardState, ApplySnapshot, CreateSnapshot, Compact, SetConfState) change
// what readers see at once, like a page cache, but become durable only at Sync(). Crash()
// throws away every change since the last Sync(), as a power loss would; a node restarted on
// the store then sees exactly what was synced.
//
// Layout (as in etcd's MemoryStorage): entries_[0] is a dummy entry holding the index and term
// of the last compacted entry (the snapshot point); real entries follow.
// Invariant: entries_ is never empty and its indexes are contiguous.
#pragma once

#include <cstdint>
#include <vector>

#include "raft/storage/log_store.h"

namespace keel::raft {

class MemoryLogStore : public LogStore {
 public:
  MemoryLogStore();

  // LogStore.
  absl::StatusOr<InitialState> GetInitialState() const override;
  absl::StatusOr<std::vector<Entry>> Entries(uint64_t lo, uint64_t hi,
                                             uint64_t max_size_bytes) const override;
  absl::StatusOr<uint64_t> Term(uint64_t index) const override;
  uint64_t FirstIndex() const override;
  uint64_t LastIndex() const override;
  absl::StatusOr<Snapshot> GetSnapshot() const override;

  // Writes (not durable until Sync()).
  void SetHardState(const HardState& hs);
  // Sets the bootstrap membership (also set by ApplySnapshot / CreateSnapshot).
  void SetConfState(const ConfState& cs);
  // Appends entries; an entry whose index is already present replaces it and everything after
  // it (the conflicting suffix). Entries below FirstIndex() are ignored. The first entry must
  // not leave a gap after LastIndex().
  void Append(const std::vector<Entry>& entries);
  // Replaces the whole log by the snapshot. ErrSnapOutOfDate if older than the current one.
  absl::Status ApplySnapshot(const Snapshot& snapshot);
  // Records a snapshot of the applied state at index i (<= LastIndex()). ErrSnapOutOfDate if
  // i is not newer than the current snapshot.
  absl::StatusOr<Snapshot> CreateSnapshot(uint64_t index, const ConfState* cs, Bytes data);
  // Discards entries before `compact_index` (keeping it as the new dummy entry).
  // ErrCompacted if already compacted; compact_index must be <= LastIndex().
  absl::Status Compact(uint64_t compact_index);

  // Makes every write so far durable.
  void Sync();
  // Loses every write since the last Sync().
  void Crash();

  // Snapshot data the next GetSnapshot() returns as ErrSnapshotTemporarilyUnavailable: tests.
  void SetSnapshotTemporarilyUnavailable(bool unavailable) { snapshot_unavailable_ = unavailable; }

 private:
  struct State {
    HardState hard_state;
    Snapshot snapshot;
    std::vector<Entry> entries;  // entries[0] is the dummy
  };
  static void AppendTo(State* state, const std::vector<Entry>& entries);

  State current_;
  State durable_;
  // Writes since the last Sync(), replayed onto durable_ by Sync() (so a sync costs what was
  // written, not the size of the log).
  std::vector<std::vector<Entry>> unsynced_appends_;
  bool other_unsynced_writes_ = false;
  bool snapshot_unavailable_ = false;
};

}  // namespace keel::raft
