#include "raft/log.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace keel::raft {

RaftLog::RaftLog(const LogStore* store, uint64_t max_committed_bytes_per_ready)
    : store_(store), max_committed_bytes_per_ready_(max_committed_bytes_per_ready) {
  KEEL_CHECK(store != nullptr);
  uint64_t first = store->FirstIndex();
  uint64_t last = store->LastIndex();
  unstable_.set_offset(last + 1);
  // Everything up to the store's first index - 1 was compacted after being applied.
  committed_ = first - 1;
  applied_ = first - 1;
}

uint64_t RaftLog::FirstIndex() const {
  if (auto i = unstable_.MaybeFirstIndex()) return *i;
  return store_->FirstIndex();
}

uint64_t RaftLog::LastIndex() const {
  if (auto i = unstable_.MaybeLastIndex()) return *i;
  return store_->LastIndex();
}

uint64_t RaftLog::LastTerm() const {
  auto t = Term(LastIndex());
  KEEL_CHECK(t.ok()) << "term of the last entry unavailable: " << t.status();
  return *t;
}

absl::StatusOr<uint64_t> RaftLog::Term(uint64_t index) const {
  // The valid range is [first - 1, last]; first - 1 is the snapshot point.
  uint64_t dummy = FirstIndex() - 1;
  if (index < dummy) return ErrCompacted();
  if (index > LastIndex()) return ErrUnavailable();
  if (auto t = unstable_.MaybeTerm(index)) return *t;
  auto t = store_->Term(index);
  if (t.ok()) return t;
  if (IsCompacted(t.status()) || IsErrUnavailable(t.status())) return t.status();
  KEEL_FATAL() << "log store failure: " << t.status();
  return t;
}

uint64_t RaftLog::ZeroTermOnError(uint64_t index) const {
  auto t = Term(index);
  return t.ok() ? *t : 0;
}

bool RaftLog::MatchTerm(uint64_t index, uint64_t term) const {
  auto t = Term(index);
  return t.ok() && *t == term;
}

std::optional<uint64_t> RaftLog::MaybeAppend(uint64_t index, uint64_t log_term, uint64_t committed,
                                             std::vector<Entry> entries) {
  if (!MatchTerm(index, log_term)) return std::nullopt;
  uint64_t last_new = index + entries.size();
  uint64_t conflict = FindConflict(entries);
  if (conflict != 0) {
    KEEL_CHECK(conflict > committed_)
        << "entry " << conflict << " conflicts with committed entry (committed " << committed_ << ")";
    uint64_t offset = index + 1;
    entries.erase(entries.begin(), entries.begin() + static_cast<ptrdiff_t>(conflict - offset));
    Append(std::move(entries));
  }
  CommitTo(std::min(committed, last_new));
  return last_new;
}

uint64_t RaftLog::Append(std::vector<Entry> entries) {
  if (entries.empty()) return LastIndex();
  uint64_t after = entries.front().index - 1;
  KEEL_CHECK(after >= committed_) << "appending after " << after << " would overwrite committed "
                                  << committed_;
  unstable_.TruncateAndAppend(std::move(entries));
  return LastIndex();
}

uint64_t RaftLog::FindConflict(const std::vector<Entry>& entries) const {
  for (const Entry& e : entries) {
    if (!MatchTerm(e.index, e.term)) return e.index;
  }
  return 0;
}

std::pair<uint64_t, uint64_t> RaftLog::FindConflictByTerm(uint64_t index, uint64_t term) const {
  for (; index > 0; --index) {
    auto t = Term(index);
    if (!t.ok()) return {index, 0};  // compacted or beyond: the caller probes from here
    if (*t <= term) return {index, *t};
  }
  return {0, 0};
}

bool RaftLog::IsUpToDate(uint64_t last_index, uint64_t term) const {
  uint64_t our_term = LastTerm();
  return term > our_term || (term == our_term && last_index >= LastIndex());
}

void RaftLog::MustCheckOutOfBounds(uint64_t lo, uint64_t hi) const {
  KEEL_CHECK_LE(lo, hi);
  uint64_t first = FirstIndex();
  KEEL_CHECK(lo >= first) << "slice [" << lo << "," << hi << ") starts before first index " << first;
  KEEL_CHECK(hi <= LastIndex() + 1) << "slice [" << lo << "," << hi << ") past last index "
                                    << LastIndex();
}

absl::StatusOr<std::vector<Entry>> RaftLog::EntriesFrom(uint64_t index, uint64_t max_size_bytes) const {
  if (index > LastIndex()) return std::vector<Entry>();
  return Slice(index, LastIndex() + 1, max_size_bytes);
}

absl::StatusOr<std::vector<Entry>> RaftLog::Slice(uint64_t lo, uint64_t hi,
                                                  uint64_t max_size_bytes) const {
  if (lo == hi) return std::vector<Entry>();
  if (lo < FirstIndex()) return ErrCompacted();
  MustCheckOutOfBounds(lo, hi);
  std::vector<Entry> out;
  uint64_t offset = unstable_.offset();
  if (lo < offset) {
    auto stored = store_->Entries(lo, std::min(hi, offset), max_size_bytes);
    if (!stored.ok()) {
      if (IsCompacted(stored.status())) return stored.status();
      KEEL_FATAL() << "log store failure reading [" << lo << "," << std::min(hi, offset)
                   << "): " << stored.status();
    }
    out = std::move(*stored);
    // The store stopped early because of the size limit: do not add unstable entries.
    if (out.size() < std::min(hi, offset) - lo) return out;
  }
  if (hi > offset) {
    uint64_t size = TotalSizeBytes(out);
    for (uint64_t i = std::max(lo, offset); i < hi; ++i) {
      const Entry& e = unstable_.entries()[i - offset];
      size += e.SizeBytes();
      if (!out.empty() && size > max_size_bytes) break;
      out.push_back(e);
    }
  }
  return out;
}

std::vector<Entry> RaftLog::AllEntries() const {
  auto all = EntriesFrom(FirstIndex(), std::numeric_limits<uint64_t>::max());
  KEEL_CHECK(all.ok()) << all.status();
  return *all;
}

absl::StatusOr<Snapshot> RaftLog::GetSnapshot() const {
  if (unstable_.snapshot()) return *unstable_.snapshot();
  return store_->GetSnapshot();
}

bool RaftLog::HasNextCommittedEntries() const {
  uint64_t lo = std::max(applied_ + 1, FirstIndex());
  // An unstable snapshot is applied before any entry: entries wait until it is persisted.
  return !unstable_.snapshot() && committed_ + 1 > lo;
}

std::vector<Entry> RaftLog::NextCommittedEntries() const {
  if (!HasNextCommittedEntries()) return {};
  uint64_t lo = std::max(applied_ + 1, FirstIndex());
  auto entries = Slice(lo, committed_ + 1, max_committed_bytes_per_ready_);
  KEEL_CHECK(entries.ok()) << "unexpected error reading committed entries: " << entries.status();
  return std::move(*entries);
}

void RaftLog::CommitTo(uint64_t to_commit) {
  if (committed_ >= to_commit) return;  // never decrease commit
  KEEL_CHECK(LastIndex() >= to_commit) << "commit " << to_commit << " is out of range [last index "
                                       << LastIndex() << "]; was the log corrupted or lost?";
  committed_ = to_commit;
}

bool RaftLog::MaybeCommit(uint64_t max_index, uint64_t term, bool ignore_term) {
  if (max_index > committed_ && (ignore_term || ZeroTermOnError(max_index) == term)) {
    CommitTo(max_index);
    return true;
  }
  return false;
}

void RaftLog::AppliedTo(uint64_t index) {
  if (index == 0) return;
  KEEL_CHECK(committed_ >= index && index >= applied_)
      << "applied " << index << " out of range [prev applied " << applied_ << ", committed "
      << committed_ << "]";
  applied_ = index;
}

void RaftLog::Restore(const Snapshot& snapshot) {
  committed_ = snapshot.metadata.index;
  unstable_.Restore(snapshot);
}

std::string RaftLog::ToString() const {
  return absl::StrCat("committed=", committed_, " applied=", applied_, " unstable.offset=",
                      unstable_.offset(), " len(unstable)=", unstable_.entries().size());
}

}  // namespace keel::raft
