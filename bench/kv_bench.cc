// Micro-benchmarks of kv::MvccStore.
//
//   BM_ApplyPuts      puts of new keys, 256-byte values, committed in batches of 100 as the
//                     apply thread does (one RocksDB write per batch, no fsync).
//                     Target: >= 500,000 puts/s.
//   BM_ApplyOverwrites the same over 10,000 existing keys (reads the previous version for
//                     the event's prev_kv).
//   BM_RangeSingleKey single-key Range at the latest revision over 100,000 keys, one thread.
//                     Target: >= 1,000,000 reads/s.
//   BM_Restart        Open() of a store holding 1,000,000 keys: scan + key index rebuild.
//                     Target: <= 2 s.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "benchmark/benchmark.h"
#include "kv/store.h"

namespace keel::kv {
namespace {

constexpr int kBatch = 100;
constexpr size_t kValueBytes = 256;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "keel-kv-bench-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::unique_ptr<MvccStore> OpenOrDie(const std::string& dir) {
  MvccStoreOptions options;
  auto store = MvccStore::Open(dir, options);
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", store.status().ToString().c_str());
    std::abort();
  }
  return std::move(*store);
}

// "/registry/key" and i as 10 zero-padded digits (i < 10^10 here). Formatted by hand:
// snprintf took ~5% of BM_ApplyPuts' instructions, which measured the bench, not the store.
std::string KeyOf(uint64_t i) {
  std::string key = "/registry/key0000000000";
  for (size_t pos = key.size(); pos > key.size() - 10 && i != 0; i /= 10) {
    key[--pos] = static_cast<char>('0' + i % 10);
  }
  return key;
}

// Loads `n` keys in batches; returns the next applied index.
uint64_t Load(MvccStore& store, uint64_t n, uint64_t first_index = 1) {
  etcdserverpb::PutRequest put;
  put.set_value(std::string(kValueBytes, 'v'));
  uint64_t index = first_index;
  for (uint64_t i = 0; i < n;) {
    store.BeginBatch();
    for (int b = 0; b < 1000 && i < n; ++b, ++i) {
      put.set_key(KeyOf(i));
      if (!store.Put(put, index++).ok()) std::abort();
    }
    if (!store.CommitBatch().ok()) std::abort();
  }
  return index;
}

void BM_ApplyPuts(benchmark::State& state) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  etcdserverpb::PutRequest put;
  put.set_value(std::string(kValueBytes, 'v'));
  uint64_t index = 1;
  uint64_t key = 0;
  for (auto _ : state) {
    store->BeginBatch();
    for (int i = 0; i < kBatch; ++i) {
      put.set_key(KeyOf(key++));
      auto result = store->Put(put, index++);
      benchmark::DoNotOptimize(result);
    }
    if (!store->CommitBatch().ok()) std::abort();
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_ApplyPuts)->MinTime(3.0)->UseRealTime();

void BM_ApplyOverwrites(benchmark::State& state) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  constexpr uint64_t kKeys = 10000;
  uint64_t index = Load(*store, kKeys);
  etcdserverpb::PutRequest put;
  put.set_value(std::string(kValueBytes, 'w'));
  uint64_t key = 0;
  for (auto _ : state) {
    store->BeginBatch();
    for (int i = 0; i < kBatch; ++i) {
      put.set_key(KeyOf(key++ % kKeys));
      auto result = store->Put(put, index++);
      benchmark::DoNotOptimize(result);
    }
    if (!store->CommitBatch().ok()) std::abort();
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_ApplyOverwrites)->MinTime(3.0)->UseRealTime();

void BM_RangeSingleKey(benchmark::State& state) {
  static TempDir* dir = new TempDir();  // shared by the thread counts; removed at exit below
  static MvccStore* store = nullptr;
  constexpr uint64_t kKeys = 100000;
  if (state.thread_index() == 0 && store == nullptr) {
    store = OpenOrDie(dir->path()).release();
    Load(*store, kKeys);
    std::atexit([] {
      delete store;
      delete dir;
    });
  }
  std::mt19937_64 rng(state.thread_index() + 1);
  std::vector<std::string> keys;
  for (int i = 0; i < 4096; ++i) keys.push_back(KeyOf(rng() % kKeys));
  etcdserverpb::RangeRequest request;
  size_t i = 0;
  for (auto _ : state) {
    request.set_key(keys[i++ & 4095]);
    auto response = store->Range(request);
    if (!response.ok() || response->kvs_size() != 1) std::abort();
    benchmark::DoNotOptimize(response);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RangeSingleKey)->MinTime(2.0)->Threads(1);

void BM_Restart(benchmark::State& state) {
  const uint64_t keys = static_cast<uint64_t>(state.range(0));
  TempDir dir;
  {
    auto store = OpenOrDie(dir.path());
    Load(*store, keys);
  }
  for (auto _ : state) {
    auto store = OpenOrDie(dir.path());
    if (store->CurrentRevision() != static_cast<int64_t>(keys) + 1) std::abort();
    state.PauseTiming();
    store.reset();
    state.ResumeTiming();
  }
  state.counters["keys"] = static_cast<double>(keys);
}
BENCHMARK(BM_Restart)->Arg(1000000)->Iterations(3)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace keel::kv

BENCHMARK_MAIN();
