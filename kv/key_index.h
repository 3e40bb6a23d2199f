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

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
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

struct KeyHistory {
  std::string key;  // owned here so the maps below can key on a stable string_view
  // Invariant: ascending by (main, sub); never empty while the key is in the index.
  absl::InlinedVector<IndexEntry, 1> entries;
  // Of the newest put when the newest entry is a put; both 0 when it is a tombstone.
  int64_t create_revision = 0;
  int64_t version = 0;
  // The serialized mvccpb::KeyValue of the newest put when the store caches latest values
  // (MvccStoreOptions::cache_latest_values), else empty. Reads at the newest revision are
  // then served from memory; only historical reads touch RocksDB.
  std::string latest;

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

// Two maps over the same heap-allocated histories: an ordered one for ranges and a hash one
// for single keys, the commonest read. (A btree of std::string -> KeyHistory fits ~2 slots in
// a node and compared through a cache miss per step; profiling showed lookups dominating
// single-key reads.)
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

  // Start-up: entries arrive in ascending revision order straight from the kv family.
  void Restore(std::string_view key, Revision rev, bool tombstone, int64_t create_revision,
               int64_t version, std::string_view cached_kv);

  // Compaction at C keeps, per key, the newest entry with main <= C unless it is a tombstone,
  // and every entry newer than C.
  CompactionPlan PlanCompaction(int64_t compact_rev) const;
  void ApplyCompaction(const CompactionPlan& plan);

  // Start-up hint: about how many keys Restore will see (avoids rehashing).
  void Reserve(size_t keys) { by_key_.reserve(keys); }

  size_t KeyCount() const { return ordered_.size(); }
  size_t EntryCount() const { return entry_count_; }

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
  struct HashedKeyHash {
    size_t operator()(const HashedKey& k) const { return k.hash; }
  };
  struct HashedKeyEq {
    bool operator()(const HashedKey& a, const HashedKey& b) const {
      return a.hash == b.hash && a.key == b.key;
    }
  };

  // Invariant: both hold exactly the same histories; keys are the histories' own `key`.
  absl::btree_map<std::string_view, std::unique_ptr<KeyHistory>> ordered_;
  absl::flat_hash_map<HashedKey, KeyHistory*, HashedKeyHash, HashedKeyEq> by_key_;
  size_t entry_count_ = 0;  // Invariant: sum of entries.size() over all keys.
};

}  // namespace keel::kv
