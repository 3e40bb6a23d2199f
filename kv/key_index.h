// The in-memory key index: user key -> the revisions at which it was written.
//
// It plays the part of etcd's treeIndex. For each key it keeps the ascending list of
// revisions still present in the `kv` column family, each marked put or tombstone; a key's
// "generations" are the runs of puts closed by a tombstone. The key is visible at revision R
// when the newest entry with main <= R exists and is a put; that entry is the revision to
// read. It also keeps, for the newest generation, the create revision and version of the
// newest put, so a write can compute the next KeyValue without reading the store.
//
// Thread safety: none inside. MvccStore guards it with a reader/writer lock; the single
// writer may read it without the lock because only the writer mutates it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/functional/function_ref.h"
#include "absl/hash/hash.h"
#include "kv/key_range.h"
#include "kv/revision.h"

namespace keel::kv {

struct IndexEntry {
  int64_t main = 0;
  int32_t sub = 0;
  bool tombstone = false;

  Revision revision() const { return Revision{main, sub}; }
};

// A key's cached newest value: one pointer in every history, a heap string only for the
// keys that are cached (most are not once the cache budget is spent).
class CachedValue {
 public:
  bool empty() const { return value_ == nullptr; }
  size_t size() const { return value_ ? value_->size() : 0; }
  // Requires !empty().
  const std::string& str() const { return *value_; }
  // Returns the value (empty if none) and leaves this empty.
  std::string Take() {
    if (!value_) return std::string();
    std::string v = std::move(*value_);
    value_.reset();
    return v;
  }
  // An empty `v` clears.
  void Set(std::string v) {
    if (v.empty()) {
      value_.reset();
    } else {
      value_ = std::make_unique<std::string>(std::move(v));
    }
  }

 private:
  std::unique_ptr<std::string> value_;
};

struct KeyHistory {
  std::string key;  // owned here so the maps below can key on a stable string_view
  // Invariant: ascending by (main, sub); never empty while the key is in the index.
  absl::InlinedVector<IndexEntry, 1> entries;
  // Of the newest put when the newest entry is a put; both 0 when it is a tombstone.
  int64_t create_revision = 0;
  int64_t version = 0;
  // The serialized mvccpb::KeyValue of the newest put if the store cached it (within
  // MvccStoreOptions::value_cache_bytes), else empty. Reads at the newest revision of a
  // cached key are served from memory; the others read RocksDB.
  CachedValue latest;

  bool live() const { return !entries.empty() && !entries.back().tombstone; }
  // The entry visible at `at_rev`, or nullptr if the key does not exist at that revision.
  const IndexEntry* VisibleAt(int64_t at_rev) const;
};

// What compacting at some revision removes from the index; computed without mutating, so the
// writer can plan outside the exclusive lock and apply inside it briefly.
struct CompactionPlan {
  int64_t revision = 0;
  struct KeyCut {
    std::string key;
    size_t drop_entries = 0;  // a prefix of KeyHistory::entries
    bool drop_key = false;    // every entry goes
  };
  std::vector<KeyCut> cuts;
  std::vector<Revision> removed;  // revisions to delete from the kv column family
};

// Two sets over the same heap-allocated histories: an ordered one for ranges and a hash one
// for single keys, the commonest read. (A btree of std::string -> KeyHistory fits ~2 slots in
// a node and compared through a cache miss per step; profiling showed lookups dominating
// single-key reads.) Both hold only pointers (and the hash set each key's hash), keyed on the
// histories' own `key`: with a million keys the index is about 125 bytes a key, most of it
// the histories themselves (bench/RESULTS.md).
class KeyIndex {
 public:
  const KeyHistory* Find(std::string_view key) const;

  // Calls `visit(key, history, entry)` for each key in `range` visible at `at_rev`, in key
  // order, until it returns false. `entry` is the visible one.
  // (FunctionRef: no allocation on the read path.)
  using Visitor =
      absl::FunctionRef<bool(const std::string&, const KeyHistory&, const IndexEntry&)>;
  void VisitRange(const KeyRange& range, int64_t at_rev, Visitor visit) const;

  // Writer side. `rev` must be newer than every revision already recorded for the key.
  // `cached_kv` is the serialized KeyValue to keep as KeyHistory::latest (empty: none); it is
  // moved in, so the writer's one encoding of a put serves the batch and the cache. Both
  // return the cached value of the put they supersede (empty if none): the writer keeps it
  // when that put is still in its open batch, where nothing else could read it back.
  std::string RecordPut(std::string_view key, Revision rev, int64_t create_revision,
                        int64_t version, std::string cached_kv);
  std::string RecordTombstone(std::string_view key, Revision rev);
  // The same, for a writer that has just looked the key up: `found` is what Find(key)
  // returned (nullptr: the key is new), which spares a second lookup per write (each a
  // cache miss in a large index).
  std::string RecordPut(const KeyHistory* found, std::string_view key, Revision rev,
                        int64_t create_revision, int64_t version, std::string cached_kv);
  std::string RecordTombstone(const KeyHistory* found, std::string_view key, Revision rev);

  // Start-up: entries arrive in ascending revision order straight from the kv family. A put's
  // serialized `kv` is cached as the key's latest value while CachedValueBytes() stays
  // within `cache_budget`.
  void Restore(std::string_view key, Revision rev, bool tombstone, int64_t create_revision,
               int64_t version, std::string_view kv, size_t cache_budget);

  // Compaction at C keeps, per key, the newest entry with main <= C unless it is a tombstone,
  // and every entry newer than C.
  CompactionPlan PlanCompaction(int64_t compact_rev) const;
  void ApplyCompaction(const CompactionPlan& plan);

  // Start-up hint: about how many keys Restore will see (avoids rehashing).
  void Reserve(size_t keys) { by_key_.reserve(keys); }

  size_t KeyCount() const { return ordered_.size(); }
  size_t EntryCount() const { return entry_count_; }
  // Sum of the sizes of every KeyHistory::latest.
  size_t CachedValueBytes() const { return cached_bytes_; }

  // Aborts if an invariant is broken (ordering, summaries, counts).
  void CheckInvariants() const;

 private:
  KeyHistory& FindOrAdd(std::string_view key);
  // `found` is Find(key): the history to change, or nullptr to add the key.
  KeyHistory& Resolve(const KeyHistory* found, std::string_view key);
  KeyHistory& Add(std::string_view key);

  // A key with its hash, computed once per lookup and kept in the hash map's slots, so a
  // rehash (the map grows with the key count) never reads the key bytes, which live in the
  // histories spread over the heap: a cache miss per key. Profiling kv_bench's puts of new
  // keys showed rehashing through the keys at ~13% of the apply time.
  struct HashedKey {
    explicit HashedKey(std::string_view k)
        : key(k), hash(absl::Hash<std::string_view>()(k)) {}
    std::string_view key;
    size_t hash;
  };
  // A slot of the hash set: 16 bytes.
  struct HashedHistory {
    KeyHistory* history;
    size_t hash;
  };
  struct HashedKeyHash {
    using is_transparent = void;
    size_t operator()(const HashedKey& k) const { return k.hash; }
    size_t operator()(const HashedHistory& h) const { return h.hash; }
  };
  struct HashedKeyEq {
    using is_transparent = void;
    bool operator()(const HashedHistory& a, const HashedHistory& b) const {
      return a.history == b.history;
    }
    bool operator()(const HashedHistory& a, const HashedKey& b) const {
      return a.hash == b.hash && a.history->key == b.key;
    }
    bool operator()(const HashedKey& a, const HashedHistory& b) const { return (*this)(b, a); }
  };
  struct ByKey {
    using is_transparent = void;
    static std::string_view View(const std::unique_ptr<KeyHistory>& h) { return h->key; }
    static std::string_view View(std::string_view k) { return k; }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return View(a) < View(b);
    }
  };

  // Invariant: both hold exactly the same histories; ordered_ owns them.
  absl::btree_set<std::unique_ptr<KeyHistory>, ByKey> ordered_;
  absl::flat_hash_set<HashedHistory, HashedKeyHash, HashedKeyEq> by_key_;
  size_t entry_count_ = 0;  // Invariant: sum of entries.size() over all keys.
  size_t cached_bytes_ = 0;  // Invariant: sum of latest.size() over all keys.
};

}  // namespace keel::kv
