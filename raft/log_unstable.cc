#include "raft/log_unstable.h"

#include "base/check.h"

namespace keel::raft {

std::optional<uint64_t> UnstableLog::MaybeFirstIndex() const {
  if (snapshot_) return snapshot_->metadata.index + 1;
  return std::nullopt;
}

std::optional<uint64_t> UnstableLog::MaybeLastIndex() const {
  if (!entries_.empty()) return offset_ + entries_.size() - 1;
  if (snapshot_) return snapshot_->metadata.index;
  return std::nullopt;
}

std::optional<uint64_t> UnstableLog::MaybeTerm(uint64_t index) const {
  if (index < offset_) {
    if (snapshot_ && snapshot_->metadata.index == index) return snapshot_->metadata.term;
    return std::nullopt;
  }
  auto last = MaybeLastIndex();
  if (!last || index > *last) return std::nullopt;
  return entries_[index - offset_].term;
}

void UnstableLog::StableTo(uint64_t index, uint64_t term) {
  auto t = MaybeTerm(index);
  if (!t || *t != term || index < offset_) return;
  entries_.erase(entries_.begin(), entries_.begin() + static_cast<ptrdiff_t>(index + 1 - offset_));
  offset_ = index + 1;
}

void UnstableLog::StableSnapTo(uint64_t index) {
  if (snapshot_ && snapshot_->metadata.index == index) snapshot_.reset();
}

void UnstableLog::Restore(const Snapshot& snapshot) {
  offset_ = snapshot.metadata.index + 1;
  entries_.clear();
  snapshot_ = snapshot;
}

void UnstableLog::TruncateAndAppend(std::vector<Entry> entries) {
  if (entries.empty()) return;
  uint64_t after = entries.front().index;
  if (after == offset_ + entries_.size()) {
    // The common case: a direct continuation.
  } else if (after <= offset_) {
    // Replaces everything unstable; the new entries start the unstable run.
    offset_ = after;
    entries_.clear();
  } else {
    // Keeps [offset_, after), then the new entries.
    entries_.resize(after - offset_);
  }
  if (entries_.empty()) {
    entries_ = std::move(entries);
  } else {
    entries_.insert(entries_.end(), std::make_move_iterator(entries.begin()),
                    std::make_move_iterator(entries.end()));
  }
}

std::vector<Entry> UnstableLog::Slice(uint64_t lo, uint64_t hi) const {
  KEEL_CHECK_LE(lo, hi);
  KEEL_CHECK(lo >= offset_ && hi <= offset_ + entries_.size())
      << "unstable slice [" << lo << "," << hi << ") out of [" << offset_ << ","
      << offset_ + entries_.size() << ")";
  return std::vector<Entry>(entries_.begin() + static_cast<ptrdiff_t>(lo - offset_),
                            entries_.begin() + static_cast<ptrdiff_t>(hi - offset_));
}

}  // namespace keel::raft
