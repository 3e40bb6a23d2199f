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
  return it == by_key_.end() ? nullptr : it->second;
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
  // The map keys on the history's own copy of the key.
  const bool inserted = by_key_.emplace(HashedKey(raw->key), raw).second;
  KEEL_CHECK(inserted) << "key added twice to the index";
  ordered_.emplace(std::string_view(raw->key), std::move(history));
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
    if (range.IsPastEnd(it->first)) break;
    const KeyHistory& h = *it->second;
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
  std::swap(h.latest, cached_kv);
  ++entry_count_;
  return cached_kv;  // now the superseded value
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
  return std::exchange(h.latest, std::string());
}

void KeyIndex::Restore(std::string_view key, Revision rev, bool tombstone,
                       int64_t create_revision, int64_t version, std::string_view cached_kv) {
  KeyHistory& h = FindOrAdd(key);
  KEEL_CHECK(h.entries.empty() || h.entries.back().revision() < rev)
      << "kv family not in revision order";
  h.entries.push_back(IndexEntry{rev.main, static_cast<int32_t>(rev.sub), tombstone});
  h.create_revision = tombstone ? 0 : create_revision;
  h.version = tombstone ? 0 : version;
  if (tombstone) {
    std::string().swap(h.latest);
  } else {
    h.latest.assign(cached_kv.data(), cached_kv.size());
  }
  ++entry_count_;
}

CompactionPlan KeyIndex::PlanCompaction(int64_t compact_rev) const {
  CompactionPlan plan;
  plan.revision = compact_rev;
  for (const auto& [key, owned] : ordered_) {
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
    KeyHistory& h = *it->second;
    KEEL_CHECK_LE(cut.drop_entries, h.entries.size());
    entry_count_ -= cut.drop_entries;
    if (cut.drop_key) {
      KEEL_CHECK_EQ(cut.drop_entries, h.entries.size());
      by_key_.erase(it);
      ordered_.erase(std::string_view(cut.key));  // frees h; cut.key is a separate copy
    } else {
      h.entries.erase(h.entries.begin(), h.entries.begin() + cut.drop_entries);
    }
  }
}

void KeyIndex::CheckInvariants() const {
  size_t total = 0;
  KEEL_CHECK_EQ(ordered_.size(), by_key_.size());
  for (const auto& [key, owned] : ordered_) {
    const KeyHistory& h = *owned;
    KEEL_CHECK(key == std::string_view(h.key)) << "index keyed on a foreign string";
    KEEL_CHECK(Find(key) == &h) << "hash and ordered maps disagree";
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
  }
  KEEL_CHECK_EQ(total, entry_count_);
}

}  // namespace keel::kv
