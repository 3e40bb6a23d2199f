#include "kv/key_index.h"

#include <algorithm>
#include <utility>

#include "base/check.h"

namespace keel::kv {

const IndexEntry* KeyHistory::VisibleAt(int64_t at_rev) const {
  if (entries.empty()) return nullptr;
  const IndexEntry* found = nullptr;
  if (entries.back().main <= at_rev) {
    found = &entries.back();  // the common case: reading the latest state
  } else {
    auto it = std::upper_bound(entries.begin(), entries.end(), at_rev,
                               [](int64_t rev, const IndexEntry& e) { return rev < e.main; });
    if (it == entries.begin()) return nullptr;
    found = &*(it - 1);
  }
  return found->tombstone ? nullptr : found;
}

const KeyHistory* KeyIndex::Find(std::string_view key) const {
  auto it = by_key_.find(HashedKey(key));
  return it == by_key_.end() ? nullptr : it->history;
}

KeyHistory& KeyIndex::FindOrAdd(std::string_view key) {
  return Resolve(Find(key), key);
}

KeyHistory& KeyIndex::Resolve(const KeyHistory* found, std::string_view key) {
  if (found == nullptr) return Add(key);
  KEEL_CHECK(found->key == key) << "lookup hint for another key";
  // The index owns every history; the const only kept readers from changing it.
  return const_cast<KeyHistory&>(*found);
}

KeyHistory& KeyIndex::Add(std::string_view key) {
  auto history = std::make_unique<KeyHistory>();
  history->key = std::string(key);
  KeyHistory* raw = history.get();
  const bool inserted = by_key_.insert(HashedHistory{raw, HashedKey(raw->key).hash}).second;
  KEEL_CHECK(inserted) << "key added twice to the index";
  ordered_.insert(std::move(history));
  return *raw;
}

void KeyIndex::VisitRange(const KeyRange& range, int64_t at_rev, Visitor visit) const {
  if (range.is_single()) {
    const KeyHistory* h = Find(range.begin());
    if (h == nullptr) return;
    if (const IndexEntry* e = h->VisibleAt(at_rev)) visit(h->key, *h, *e);
    return;
  }
  for (auto it = ordered_.lower_bound(std::string_view(range.begin())); it != ordered_.end();
       ++it) {
    const KeyHistory& h = **it;
    if (range.IsPastEnd(h.key)) break;
    const IndexEntry* e = h.VisibleAt(at_rev);
    if (e != nullptr && !visit(h.key, h, *e)) break;
  }
}

std::string KeyIndex::RecordPut(std::string_view key, Revision rev, int64_t create_revision,
                                int64_t version, std::string cached_kv) {
  return RecordPut(Find(key), key, rev, create_revision, version, std::move(cached_kv));
}

std::string KeyIndex::RecordTombstone(std::string_view key, Revision rev) {
  return RecordTombstone(Find(key), key, rev);
}

std::string KeyIndex::RecordPut(const KeyHistory* found, std::string_view key, Revision rev,
                                int64_t create_revision, int64_t version,
                                std::string cached_kv) {
  KEEL_CHECK(rev.sub >= 0 && rev.sub <= INT32_MAX) << "sub-revision " << rev.sub;
  KeyHistory& h = Resolve(found, key);
  if (!h.entries.empty()) {
    KEEL_CHECK(h.entries.back().revision() < rev) << "put out of order for a key";
  }
  h.entries.push_back(IndexEntry{rev.main, static_cast<int32_t>(rev.sub), false});
  h.create_revision = create_revision;
  h.version = version;
  cached_bytes_ += cached_kv.size();
  cached_bytes_ -= h.latest.size();
  std::string superseded = h.latest.Take();
  h.latest.Set(std::move(cached_kv));
  ++entry_count_;
  return superseded;
}

std::string KeyIndex::RecordTombstone(const KeyHistory* found, std::string_view key,
                                      Revision rev) {
  KEEL_CHECK(found != nullptr && found->live()) << "tombstone for a key that is not live";
  KeyHistory& h = Resolve(found, key);
  KEEL_CHECK(h.entries.back().revision() < rev) << "tombstone out of order for a key";
  h.entries.push_back(IndexEntry{rev.main, static_cast<int32_t>(rev.sub), true});
  h.create_revision = 0;
  h.version = 0;
  ++entry_count_;
  cached_bytes_ -= h.latest.size();
  return h.latest.Take();
}

void KeyIndex::Restore(std::string_view key, Revision rev, bool tombstone,
                       int64_t create_revision, int64_t version, std::string_view kv,
                       size_t cache_budget) {
  KeyHistory& h = FindOrAdd(key);
  KEEL_CHECK(h.entries.empty() || h.entries.back().revision() < rev)
      << "kv family not in revision order";
  h.entries.push_back(IndexEntry{rev.main, static_cast<int32_t>(rev.sub), tombstone});
  h.create_revision = tombstone ? 0 : create_revision;
  h.version = tombstone ? 0 : version;
  cached_bytes_ -= h.latest.size();
  if (!tombstone && cached_bytes_ + kv.size() <= cache_budget) {
    h.latest.Set(std::string(kv));
    cached_bytes_ += kv.size();
  } else {
    h.latest.Set(std::string());
  }
  ++entry_count_;
}

CompactionPlan KeyIndex::PlanCompaction(int64_t compact_rev) const {
  CompactionPlan plan;
  plan.revision = compact_rev;
  for (const auto& owned : ordered_) {
    const KeyHistory& h = *owned;
    // Index of the newest entry with main <= compact_rev.
    auto it = std::upper_bound(h.entries.begin(), h.entries.end(), compact_rev,
                               [](int64_t rev, const IndexEntry& e) { return rev < e.main; });
    if (it == h.entries.begin()) continue;  // everything is newer than the compaction
    size_t keep_from = static_cast<size_t>(it - h.entries.begin()) - 1;
    if (h.entries[keep_from].tombstone) ++keep_from;  // a tombstone <= C goes too
    if (keep_from == 0) continue;
    for (size_t i = 0; i < keep_from; ++i) plan.removed.push_back(h.entries[i].revision());
    plan.cuts.push_back({h.key, keep_from, keep_from == h.entries.size()});
  }
  return plan;
}

void KeyIndex::ApplyCompaction(const CompactionPlan& plan) {
  for (const CompactionPlan::KeyCut& cut : plan.cuts) {
    auto it = by_key_.find(HashedKey(cut.key));
    KEEL_CHECK(it != by_key_.end()) << "compaction plan names a missing key";
    KeyHistory& h = *it->history;
    KEEL_CHECK_LE(cut.drop_entries, h.entries.size());
    entry_count_ -= cut.drop_entries;
    if (cut.drop_key) {
      KEEL_CHECK_EQ(cut.drop_entries, h.entries.size());
      by_key_.erase(it);
      auto owner = ordered_.find(std::string_view(cut.key));
      KEEL_CHECK(owner != ordered_.end()) << "hash and ordered sets disagree";
      ordered_.erase(owner);  // frees h; cut.key is a separate copy
    } else {
      h.entries.erase(h.entries.begin(), h.entries.begin() + cut.drop_entries);
    }
  }
}

void KeyIndex::CheckInvariants() const {
  size_t total = 0;
  size_t cached = 0;
  KEEL_CHECK_EQ(ordered_.size(), by_key_.size());
  std::string_view previous;
  for (const auto& owned : ordered_) {
    const KeyHistory& h = *owned;
    const std::string_view key = h.key;
    KEEL_CHECK(previous.empty() || previous < key) << "ordered set out of order";
    previous = key;
    KEEL_CHECK(Find(key) == &h) << "hash and ordered sets disagree";
    KEEL_CHECK(!key.empty()) << "empty key in index";
    KEEL_CHECK(!h.entries.empty()) << "key without entries in index";
    for (size_t i = 1; i < h.entries.size(); ++i) {
      KEEL_CHECK(h.entries[i - 1].revision() < h.entries[i].revision()) << "entries unordered";
    }
    if (h.live()) {
      KEEL_CHECK(h.version >= 1 && h.create_revision >= 1) << "live key without summary";
      KEEL_CHECK_LE(h.create_revision, h.entries.back().main);
    } else {
      KEEL_CHECK(h.version == 0 && h.create_revision == 0) << "dead key with summary";
      KEEL_CHECK(h.latest.empty()) << "dead key with a cached value";
    }
    total += h.entries.size();
    cached += h.latest.size();
  }
  KEEL_CHECK_EQ(total, entry_count_);
  KEEL_CHECK_EQ(cached, cached_bytes_);
}

}  // namespace keel::kv
