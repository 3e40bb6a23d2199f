#include "tests/raft/storage/storage_test_util.h"

#include <stdlib.h>

#include <filesystem>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace keel::raft::testing {

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "keel-storage-XXXXXX").string();
  char* made = mkdtemp(pattern.data());
  if (made == nullptr) ADD_FAILURE() << "mkdtemp " << pattern << " failed";
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

Entry MakeEntry(uint64_t index, uint64_t term, std::string data) {
  Entry e;
  e.index = index;
  e.term = term;
  e.data = Bytes(std::move(data));
  return e;
}

std::vector<Entry> MakeEntries(uint64_t lo, uint64_t hi, uint64_t term) {
  std::vector<Entry> out;
  for (uint64_t i = lo; i <= hi; ++i) out.push_back(MakeEntry(i, term, absl::StrCat("e", i, "t", term)));
  return out;
}

Snapshot MakeSnapshot(uint64_t index, uint64_t term, ConfState cs, std::string data) {
  Snapshot s;
  s.metadata.index = index;
  s.metadata.term = term;
  s.metadata.conf_state = std::move(cs);
  s.data = Bytes(std::move(data));
  return s;
}

std::string DumpStore(const LogStore& store) {
  const uint64_t first = store.FirstIndex();
  const uint64_t last = store.LastIndex();
  std::string out = absl::StrCat("first=", first, " last=", last);
  absl::StatusOr<uint64_t> dummy_term = store.Term(first - 1);
  absl::StrAppend(&out, " dummy_term=",
                  dummy_term.ok() ? absl::StrCat(*dummy_term) : dummy_term.status().ToString());
  absl::StatusOr<std::vector<Entry>> entries = store.Entries(first, last + 1, UINT64_MAX);
  absl::StrAppend(&out, "\nentries=",
                  entries.ok() ? DescribeEntries(*entries) : entries.status().ToString());
  absl::StatusOr<InitialState> initial = store.GetInitialState();
  if (initial.ok()) {
    absl::StrAppend(&out, "\nhard_state=", DescribeHardState(initial->hard_state),
                    "\nconf_state=", DescribeConfState(initial->conf_state));
  } else {
    absl::StrAppend(&out, "\ninitial_state=", initial.status().ToString());
  }
  absl::StatusOr<Snapshot> snapshot = store.GetSnapshot();
  if (snapshot.ok()) {
    absl::StrAppend(&out, "\nsnapshot=", snapshot->metadata.index, "/", snapshot->metadata.term,
                    " ", DescribeConfState(snapshot->metadata.conf_state), " \"",
                    absl::CHexEscape(snapshot->data.str()), "\"");
  } else {
    absl::StrAppend(&out, "\nsnapshot=", snapshot.status().ToString());
  }
  return out;
}

absl::Status MemoryHarness::SetConfState(const ConfState& cs) {
  store_.SetConfState(cs);
  return absl::OkStatus();
}
absl::Status MemoryHarness::ApplySnapshot(const Snapshot& snapshot) {
  return store_.ApplySnapshot(snapshot);
}
absl::StatusOr<Snapshot> MemoryHarness::CreateSnapshot(uint64_t index, const ConfState* cs,
                                                       Bytes data) {
  return store_.CreateSnapshot(index, cs, std::move(data));
}
absl::Status MemoryHarness::Compact(uint64_t compact_index) {
  return store_.Compact(compact_index);
}

RocksDbHarness::RocksDbHarness(uint64_t tail_cache_bytes) {
  options_.tail_cache_bytes = tail_cache_bytes;
  absl::StatusOr<std::unique_ptr<RocksDbLogStore>> store = RocksDbLogStore::Open(dir(), options_);
  KEEL_CHECK(store.ok()) << store.status();
  store_ = std::move(*store);
}

void RocksDbHarness::Append(const std::vector<Entry>& entries) {
  KEEL_ASSERT_OK(store_->Save(nullptr, entries, nullptr, /*sync=*/false));
}

void RocksDbHarness::SetHardState(const HardState& hs) {
  KEEL_ASSERT_OK(store_->Save(&hs, {}, nullptr, /*sync=*/false));
}

absl::Status RocksDbHarness::ApplySnapshot(const Snapshot& snapshot) {
  return store_->Save(nullptr, {}, &snapshot, /*sync=*/false);
}

void RocksDbHarness::Sync() { KEEL_ASSERT_OK(store_->Save(nullptr, {}, nullptr, /*sync=*/true)); }

void RocksDbHarness::Restart() {
  store_.reset();
  absl::StatusOr<std::unique_ptr<RocksDbLogStore>> store = RocksDbLogStore::Open(dir(), options_);
  ASSERT_TRUE(store.ok()) << store.status();
  store_ = std::move(*store);
}

}  // namespace keel::raft::testing
