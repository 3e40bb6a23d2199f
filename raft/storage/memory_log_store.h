// MemoryLogStore: a LogStore in memory, for tests and the simulator, that models a disk.
//
// Writes (Append, SetHardState, ApplySnapshot, CreateSnapshot, Compact, SetConfState) change
// what readers see at once, like a page cache, but become durable only at Sync(). Crash()
// throws away every change since the last Sync(), as a power loss would; a node restarted on
// the store then sees exactly what was synced.
//
// Layout (as in etcd's MemoryStorage): entries[0] is a dummy entry holding the index and term
// of the last compacted entry (the snapshot point); real entries follow.
// Invariant: entries is never empty and its indexes are contiguous.
//
// Thread-compatible: one thread at a time (the simulator is single-threaded).
#pragma once

#include <cstdint>
#include <deque>
#include <variant>
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
  // it (the conflicting suffix). Entries below FirstIndex() are ignored. The entries must be
  // contiguous and the first must not leave a gap after LastIndex(): either is a bug in the
  // caller and a fatal check.
  void Append(const std::vector<Entry>& entries);
  // Replaces the whole log by the snapshot (even entries after its index: the snapshot comes
  // from a leader whose log may disagree). ErrSnapOutOfDate unless it is newer than the current
  // snapshot.
  absl::Status ApplySnapshot(const Snapshot& snapshot);
  // Records a snapshot of the applied state at `index`, with membership *cs, or the current
  // membership when cs is null. The log is left alone (Compact() is separate, so a tail can be
  // kept for slow followers). ErrSnapOutOfDate unless index is newer than the current snapshot;
  // ErrCompacted if index's term is gone; ErrUnavailable if index > LastIndex().
  absl::StatusOr<Snapshot> CreateSnapshot(uint64_t index, const ConfState* cs, Bytes data);
  // Discards entries up to and including `compact_index`, keeping its index and term as the new
  // dummy entry (so FirstIndex() becomes compact_index + 1). ErrCompacted if compact_index is
  // not above the current dummy; ErrUnavailable if it is above LastIndex().
  absl::Status Compact(uint64_t compact_index);

  // Makes every write so far durable. Costs what was written since the last Sync(), not the
  // size of the log: the simulator syncs after every Ready.
  void Sync();
  // Loses every write since the last Sync(). Costs a copy of the durable state (crashes are
  // rare next to syncs).
  void Crash();
  // True when a Crash() now would lose something.
  bool HasUnsyncedWrites() const { return !unsynced_.empty(); }

  // Snapshot data the next GetSnapshot() returns as ErrSnapshotTemporarilyUnavailable: tests.
  void SetSnapshotTemporarilyUnavailable(bool unavailable) { snapshot_unavailable_ = unavailable; }

 private:
  // Everything a write can change. `current_` is what readers see; `durable_` is what survives
  // a crash.
  struct State {
    HardState hard_state;
    // Membership as of the latest snapshot or SetConfState, whichever came last.
    ConfState conf_state;
    Snapshot snapshot;
    // entries[0] is the dummy. A deque so that Compact (dropping a prefix) and truncating a
    // suffix both cost what they remove.
    std::deque<Entry> entries;
  };

  // One write, recorded so that Sync() can replay it onto durable_. Each is validated against
  // current_ before it is recorded, and replaying it onto durable_ (a prefix of the same
  // history) reaches the same state, so replay never fails.
  struct SetHardStateWrite { HardState hard_state; };
  struct SetConfStateWrite { ConfState conf_state; };
  struct AppendWrite { std::vector<Entry> entries; };
  struct ApplySnapshotWrite { Snapshot snapshot; };
  struct CreateSnapshotWrite { Snapshot snapshot; };
  struct CompactWrite { uint64_t compact_index; };
  using Write = std::variant<SetHardStateWrite, SetConfStateWrite, AppendWrite, ApplySnapshotWrite,
                             CreateSnapshotWrite, CompactWrite>;

  static void Apply(const Write& write, State* state);
  static void AppendTo(const std::vector<Entry>& entries, State* state);
  void Record(Write write);

  uint64_t DummyIndex() const { return current_.entries.front().index; }

  State current_;
  State durable_;
  // Writes since the last Sync(), oldest first.
  std::vector<Write> unsynced_;
  bool snapshot_unavailable_ = false;
};

}  // namespace keel::raft
