#include "raft/storage/memory_log_store.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace keel::raft {

MemoryLogStore::MemoryLogStore() {
  current_.entries.push_back(Entry{});
  durable_ = current_;
}

absl::StatusOr<InitialState> MemoryLogStore::GetInitialState() const {
  return InitialState{current_.hard_state, current_.conf_state};
}

absl::StatusOr<std::vector<Entry>> MemoryLogStore::Entries(uint64_t lo, uint64_t hi,
                                                           uint64_t max_size_bytes) const {
  if (lo > hi) {
    return absl::InvalidArgumentError(absl::StrCat("raft storage: Entries(", lo, ", ", hi, ")"));
  }
  const uint64_t dummy = DummyIndex();
  if (lo <= dummy) return ErrCompacted();
  if (hi > LastIndex() + 1) return ErrUnavailable();
  std::vector<Entry> out;
  if (lo == hi) return out;
  // Copy only what the size limit lets through: a large range must not cost a large copy.
  uint64_t size_bytes = 0;
  for (uint64_t i = lo; i < hi; ++i) {
    const Entry& e = current_.entries[i - dummy];
    size_bytes += e.SizeBytes();
    if (!out.empty() && size_bytes > max_size_bytes) break;
    out.push_back(e);
  }
  return out;
}

absl::StatusOr<uint64_t> MemoryLogStore::Term(uint64_t index) const {
  const uint64_t dummy = DummyIndex();
  if (index < dummy) return ErrCompacted();
  if (index > LastIndex()) return ErrUnavailable();
  return current_.entries[index - dummy].term;
}

uint64_t MemoryLogStore::FirstIndex() const { return DummyIndex() + 1; }

uint64_t MemoryLogStore::LastIndex() const { return DummyIndex() + current_.entries.size() - 1; }

absl::StatusOr<Snapshot> MemoryLogStore::GetSnapshot() const {
  if (snapshot_unavailable_) return ErrSnapshotTemporarilyUnavailable();
  return current_.snapshot;
}

void MemoryLogStore::SetHardState(const HardState& hs) { Record(SetHardStateWrite{hs}); }

void MemoryLogStore::SetConfState(const ConfState& cs) { Record(SetConfStateWrite{cs}); }

void MemoryLogStore::Append(const std::vector<Entry>& entries) {
  if (entries.empty()) return;
  for (size_t i = 1; i < entries.size(); ++i) {
    KEEL_CHECK_EQ(entries[i].index, entries[i - 1].index + 1) << "appended entries not contiguous";
  }
  KEEL_CHECK_LE(entries.front().index, LastIndex() + 1) << "append leaves a gap in the log";
  // Nothing new if every entry is already compacted.
  if (entries.back().index < FirstIndex()) return;
  Record(AppendWrite{entries});
}

absl::Status MemoryLogStore::ApplySnapshot(const Snapshot& snapshot) {
  if (snapshot.metadata.index <= current_.snapshot.metadata.index) return ErrSnapOutOfDate();
  Record(ApplySnapshotWrite{snapshot});
  return absl::OkStatus();
}

absl::StatusOr<Snapshot> MemoryLogStore::CreateSnapshot(uint64_t index, const ConfState* cs,
                                                        Bytes data) {
  if (index <= current_.snapshot.metadata.index) return ErrSnapOutOfDate();
  absl::StatusOr<uint64_t> term = Term(index);
  if (!term.ok()) return term.status();
  Snapshot snapshot;
  snapshot.data = std::move(data);
  snapshot.metadata.index = index;
  snapshot.metadata.term = *term;
  snapshot.metadata.conf_state = cs != nullptr ? *cs : current_.conf_state;
  Record(CreateSnapshotWrite{snapshot});
  return snapshot;
}

absl::Status MemoryLogStore::Compact(uint64_t compact_index) {
  if (compact_index <= DummyIndex()) return ErrCompacted();
  if (compact_index > LastIndex()) return ErrUnavailable();
  Record(CompactWrite{compact_index});
  return absl::OkStatus();
}

void MemoryLogStore::Sync() {
  for (const Write& write : unsynced_) Apply(write, &durable_);
  unsynced_.clear();
}

void MemoryLogStore::Crash() {
  current_ = durable_;
  unsynced_.clear();
}

void MemoryLogStore::Record(Write write) {
  Apply(write, &current_);
  unsynced_.push_back(std::move(write));
}

void MemoryLogStore::Apply(const Write& write, State* state) {
  if (const auto* w = std::get_if<SetHardStateWrite>(&write)) {
    state->hard_state = w->hard_state;
  } else if (const auto* w = std::get_if<SetConfStateWrite>(&write)) {
    state->conf_state = w->conf_state;
  } else if (const auto* w = std::get_if<AppendWrite>(&write)) {
    AppendTo(w->entries, state);
  } else if (const auto* w = std::get_if<ApplySnapshotWrite>(&write)) {
    const SnapshotMetadata& meta = w->snapshot.metadata;
    state->snapshot = w->snapshot;
    state->conf_state = meta.conf_state;
    state->entries.clear();
    state->entries.push_back(Entry{.term = meta.term, .index = meta.index});
  } else if (const auto* w = std::get_if<CreateSnapshotWrite>(&write)) {
    state->snapshot = w->snapshot;
    state->conf_state = w->snapshot.metadata.conf_state;
  } else if (const auto* w = std::get_if<CompactWrite>(&write)) {
    const uint64_t dummy = state->entries.front().index;
    KEEL_CHECK(w->compact_index > dummy && w->compact_index - dummy < state->entries.size());
    state->entries.erase(state->entries.begin(),
                         state->entries.begin() + static_cast<ptrdiff_t>(w->compact_index - dummy));
    // The new dummy keeps only index and term: the payload is compacted away.
    state->entries.front().data = Bytes();
    state->entries.front().type = EntryType::kNormal;
  }
}

void MemoryLogStore::AppendTo(const std::vector<Entry>& entries, State* state) {
  const uint64_t dummy = state->entries.front().index;
  const uint64_t last = dummy + state->entries.size() - 1;
  // Skip the part that is already compacted.
  size_t skip = 0;
  if (entries.front().index <= dummy) skip = dummy + 1 - entries.front().index;
  if (skip >= entries.size()) return;
  const uint64_t first_new = entries[skip].index;
  KEEL_CHECK_LE(first_new, last + 1) << "append leaves a gap in the log";
  // Drop the conflicting suffix: raft sends from the first entry that may differ.
  state->entries.resize(first_new - dummy);
  state->entries.insert(state->entries.end(), entries.begin() + static_cast<ptrdiff_t>(skip),
                        entries.end());
}

}  // namespace keel::raft
