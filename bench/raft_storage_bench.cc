// How close RocksDbLogStore::Save(sync=true) comes to what the disk can do.
//
// For each batch size (1, 64, 1024 entries of 128-byte payloads) two benchmarks run back to
// back, so that both see the same machine load:
//   BM_RawAppendFdatasync/N  appends the bytes one batch takes on disk (encoded entries plus
//                            keys) to a plain file and fdatasyncs; items_per_second = syncs/s.
//   BM_RocksDbSaveSync/N     one Save(hard state + N entries, sync=true) per iteration;
//                            items_per_second = entries/s, and
//                            ratio = store_entries_per_s / (raw_syncs_per_s * N):
//                            1.0 means one Save costs one raw append+fdatasync of its bytes.
// Files go to a fresh directory under $KEEL_BENCH_DIR (default: the system temp dir), removed
// at exit; put it on the disk you want to measure.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "benchmark/benchmark.h"
#include "raft/codec.h"
#include "raft/storage/rocksdb_log_store.h"

namespace keel::raft {
namespace {

constexpr size_t kPayloadBytes = 128;
constexpr size_t kKeyBytes = 8;
constexpr int64_t kBatchSizes[] = {1, 64, 1024};

// The bench's scratch directory, made once and removed at exit.
class ScratchDir {
 public:
  ScratchDir() {
    const char* base = std::getenv("KEEL_BENCH_DIR");
    std::filesystem::path root = base != nullptr ? std::filesystem::path(base)
                                                 : std::filesystem::temp_directory_path();
    std::string pattern = (root / "keel-storage-bench-XXXXXX").string();
    KEEL_CHECK(mkdtemp(pattern.data()) != nullptr) << "mkdtemp " << pattern;
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Made by main() before any benchmark runs, deleted (with its files) after the last.
ScratchDir* g_scratch = nullptr;
ScratchDir& Scratch() {
  KEEL_CHECK(g_scratch != nullptr);
  return *g_scratch;
}

// Raw syncs/s measured by the latest BM_RawAppendFdatasync run, by batch size.
std::map<int64_t, double>& RawSyncsPerSecond() {
  static auto* rates = new std::map<int64_t, double>();
  return *rates;
}

Entry PayloadEntry(uint64_t index) {
  static const Bytes* const kPayload = new Bytes(std::string(kPayloadBytes, 'p'));
  Entry e;
  e.term = 1;
  e.index = index;
  e.data = *kPayload;
  return e;
}

// What one entry takes in a write batch: its key and encoded value.
size_t RecordBytes() { return kKeyBytes + EncodeEntry(PayloadEntry(1)).size(); }

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void BM_RawAppendFdatasync(benchmark::State& state) {
  const int64_t batch = state.range(0);
  const std::string path = absl::StrCat(Scratch().path(), "/raw-", batch);
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
  KEEL_CHECK(fd >= 0) << "open " << path;
  const std::string buffer(static_cast<size_t>(batch) * RecordBytes(), 'r');
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    size_t written = 0;
    while (written < buffer.size()) {
      const ssize_t n = write(fd, buffer.data() + written, buffer.size() - written);
      KEEL_CHECK(n > 0) << "write " << path;
      written += static_cast<size_t>(n);
    }
    KEEL_CHECK(fdatasync(fd) == 0) << "fdatasync " << path;
  }
  const double syncs_per_s = static_cast<double>(state.iterations()) / SecondsSince(start);
  close(fd);
  std::filesystem::remove(path);
  RawSyncsPerSecond()[batch] = syncs_per_s;
  state.SetItemsProcessed(state.iterations());
  state.counters["syncs_per_s"] = syncs_per_s;
  state.counters["bytes_per_sync"] = static_cast<double>(buffer.size());
}

void BM_RocksDbSaveSync(benchmark::State& state) {
  const int64_t batch = state.range(0);
  static int run = 0;
  const std::string dir = absl::StrCat(Scratch().path(), "/rocks-", batch, "-", ++run);
  absl::StatusOr<std::unique_ptr<RocksDbLogStore>> store = RocksDbLogStore::Open(dir);
  KEEL_CHECK(store.ok()) << store.status();
  uint64_t next = 1;
  HardState hs{1, 1, 0};
  std::vector<Entry> entries(static_cast<size_t>(batch));
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    // What one Ready carries: new entries and a hard state whose commit moved.
    for (Entry& e : entries) e = PayloadEntry(next++);
    hs.commit = next - 1;
    absl::Status s = (*store)->Save(&hs, entries, nullptr, /*sync=*/true);
    KEEL_CHECK(s.ok()) << s;
  }
  const double seconds = SecondsSince(start);
  store->reset();
  std::filesystem::remove_all(dir);

  const double entries_per_s = static_cast<double>(state.iterations() * batch) / seconds;
  state.SetItemsProcessed(state.iterations() * batch);
  state.counters["entries_per_s"] = entries_per_s;
  auto raw = RawSyncsPerSecond().find(batch);
  if (raw != RawSyncsPerSecond().end()) {
    state.counters["raw_syncs_per_s"] = raw->second;
    state.counters["ratio"] = entries_per_s / (raw->second * static_cast<double>(batch));
  }
}

}  // namespace
}  // namespace keel::raft

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  keel::raft::g_scratch = new keel::raft::ScratchDir();
  // Registered pairwise (raw, then store, per batch size) so each ratio compares runs made
  // seconds apart under the same load.
  for (int64_t batch : keel::raft::kBatchSizes) {
    benchmark::RegisterBenchmark("BM_RawAppendFdatasync", keel::raft::BM_RawAppendFdatasync)
        ->Arg(batch)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond)
        ->MinTime(1.0);
    benchmark::RegisterBenchmark("BM_RocksDbSaveSync", keel::raft::BM_RocksDbSaveSync)
        ->Arg(batch)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond)
        ->MinTime(1.0);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  delete keel::raft::g_scratch;
  return 0;
}
