// Shared pieces of the log store tests: temporary directories, entry builders, a textual dump
// of a store's whole state, and harnesses that drive either store through one interface so the
// LogStore contract is checked against both.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "raft/storage/log_store.h"
#include "raft/storage/memory_log_store.h"
#include "raft/storage/rocksdb_log_store.h"
#include "raft/types.h"

#define KEEL_EXPECT_OK(expr)                  \
  do {                                        \
    const ::absl::Status keel_s_ = (expr);    \
    EXPECT_TRUE(keel_s_.ok()) << keel_s_;     \
  } while (0)
#define KEEL_ASSERT_OK(expr)                  \
  do {                                        \
    const ::absl::Status keel_s_ = (expr);    \
    ASSERT_TRUE(keel_s_.ok()) << keel_s_;     \
  } while (0)

namespace keel::raft::testing {

// A fresh directory under the system temp dir (mkdtemp), removed with everything in it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Entry MakeEntry(uint64_t index, uint64_t term, std::string data = "");
// Entries lo..hi (inclusive) all of `term`, each with a payload naming its index and term.
std::vector<Entry> MakeEntries(uint64_t lo, uint64_t hi, uint64_t term);
Snapshot MakeSnapshot(uint64_t index, uint64_t term, ConfState cs, std::string data = "");

// Everything a reader can observe, as text: FirstIndex, LastIndex, the dummy's term, every
// entry, the initial state and the snapshot. Two stores agree iff their dumps are equal.
std::string DumpStore(const LogStore& store);

// Drives one store through the writes both stores support. Sync() makes writes durable;
// Restart() is a crash and restart: afterwards the store holds exactly what was synced.
class StoreHarness {
 public:
  virtual ~StoreHarness() = default;
  virtual LogStore& store() = 0;
  virtual void Append(const std::vector<Entry>& entries) = 0;
  virtual void SetHardState(const HardState& hs) = 0;
  virtual absl::Status SetConfState(const ConfState& cs) = 0;
  virtual absl::Status ApplySnapshot(const Snapshot& snapshot) = 0;
  virtual absl::StatusOr<Snapshot> CreateSnapshot(uint64_t index, const ConfState* cs,
                                                  Bytes data) = 0;
  virtual absl::Status Compact(uint64_t compact_index) = 0;
  virtual void Sync() = 0;
  virtual void Restart() = 0;
};

class MemoryHarness : public StoreHarness {
 public:
  LogStore& store() override { return store_; }
  MemoryLogStore& memory() { return store_; }
  void Append(const std::vector<Entry>& entries) override { store_.Append(entries); }
  void SetHardState(const HardState& hs) override { store_.SetHardState(hs); }
  absl::Status SetConfState(const ConfState& cs) override;
  absl::Status ApplySnapshot(const Snapshot& snapshot) override;
  absl::StatusOr<Snapshot> CreateSnapshot(uint64_t index, const ConfState* cs,
                                          Bytes data) override;
  absl::Status Compact(uint64_t compact_index) override;
  void Sync() override { store_.Sync(); }
  void Restart() override { store_.Crash(); }

 private:
  MemoryLogStore store_;
};

// Writes go through Save() unsynced; Sync() is an empty synced Save(); Restart() closes and
// reopens the DB.
class RocksDbHarness : public StoreHarness {
 public:
  explicit RocksDbHarness(uint64_t tail_cache_bytes = RocksDbLogStoreOptions().tail_cache_bytes);
  LogStore& store() override { return *store_; }
  RocksDbLogStore& rocks() { return *store_; }
  const std::string& dir() const { return dir_.path(); }
  void Append(const std::vector<Entry>& entries) override;
  void SetHardState(const HardState& hs) override;
  absl::Status SetConfState(const ConfState& cs) override { return store_->SetConfState(cs); }
  absl::Status ApplySnapshot(const Snapshot& snapshot) override;
  absl::StatusOr<Snapshot> CreateSnapshot(uint64_t index, const ConfState* cs,
                                          Bytes data) override {
    return store_->CreateSnapshot(index, cs, std::move(data));
  }
  absl::Status Compact(uint64_t compact_index) override { return store_->Compact(compact_index); }
  void Sync() override;
  void Restart() override;

 private:
  TempDir dir_;
  RocksDbLogStoreOptions options_;
  std::unique_ptr<RocksDbLogStore> store_;
};

// The RocksDB store with no tail cache (every read goes to RocksDB) and with a cache of a few
// entries (reads that span RocksDB and the cache).
class RocksDbNoCacheHarness : public RocksDbHarness {
 public:
  RocksDbNoCacheHarness() : RocksDbHarness(0) {}
};
class RocksDbSmallCacheHarness : public RocksDbHarness {
 public:
  RocksDbSmallCacheHarness() : RocksDbHarness(4 * 64) {}
};

}  // namespace keel::raft::testing
