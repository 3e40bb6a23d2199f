// Helpers for kv/ tests: a temporary directory that removes itself, a store opened in it, and
// short builders for etcd requests.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "etcd/rpc.pb.h"
#include "gtest/gtest.h"
#include "kv/store.h"

namespace keel::kv::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "keel-kv-test-XXXXXX").string();
    char* made = mkdtemp(pattern.data());
    EXPECT_NE(made, nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline etcdserverpb::PutRequest PutReq(const std::string& key, const std::string& value,
                                       int64_t lease = 0) {
  etcdserverpb::PutRequest r;
  r.set_key(key);
  r.set_value(value);
  r.set_lease(lease);
  return r;
}

inline etcdserverpb::RangeRequest RangeReq(const std::string& key,
                                           const std::string& range_end = "",
                                           int64_t revision = 0) {
  etcdserverpb::RangeRequest r;
  r.set_key(key);
  r.set_range_end(range_end);
  r.set_revision(revision);
  return r;
}

inline etcdserverpb::DeleteRangeRequest DelReq(const std::string& key,
                                               const std::string& range_end = "") {
  etcdserverpb::DeleteRangeRequest r;
  r.set_key(key);
  r.set_range_end(range_end);
  return r;
}

inline etcdserverpb::RequestOp PutOp(const std::string& key, const std::string& value) {
  etcdserverpb::RequestOp op;
  *op.mutable_request_put() = PutReq(key, value);
  return op;
}
inline etcdserverpb::RequestOp RangeOp(const std::string& key, const std::string& end = "") {
  etcdserverpb::RequestOp op;
  *op.mutable_request_range() = RangeReq(key, end);
  return op;
}
inline etcdserverpb::RequestOp DelOp(const std::string& key, const std::string& end = "") {
  etcdserverpb::RequestOp op;
  *op.mutable_request_delete_range() = DelReq(key, end);
  return op;
}
inline etcdserverpb::RequestOp TxnOp(const etcdserverpb::TxnRequest& txn) {
  etcdserverpb::RequestOp op;
  *op.mutable_request_txn() = txn;
  return op;
}

// A store in a temporary directory with a writer that numbers applied indexes itself.
class StoreFixture : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen() {
    store_.reset();
    MvccStoreOptions options;
    options.max_txn_ops = max_txn_ops_;
    options.value_cache_bytes = value_cache_bytes_;
    auto opened = MvccStore::Open(dir_.path(), options);
    ASSERT_TRUE(opened.ok()) << opened.status();
    store_ = std::move(*opened);
    next_index_ = store_->AppliedIndex() + 1;
    UseLeases(leases_);
  }

  // Grants the leases of `ids` that do not exist yet (TTL 60).
  void UseLeases(std::vector<int64_t> ids) {
    leases_ = std::move(ids);
    for (int64_t id : leases_) {
      if (!store_->GetLease(id, false)) {
        ASSERT_TRUE(store_->GrantLease(id, 60, next_index_++).ok());
      }
    }
  }

  absl::StatusOr<PutResult> Put(const std::string& key, const std::string& value,
                                int64_t lease = 0) {
    return store_->Put(PutReq(key, value, lease), next_index_++);
  }
  absl::StatusOr<PutResult> Put(const etcdserverpb::PutRequest& r) {
    return store_->Put(r, next_index_++);
  }
  absl::StatusOr<DeleteRangeResult> Del(const std::string& key, const std::string& end = "") {
    return store_->DeleteRange(DelReq(key, end), next_index_++);
  }
  absl::StatusOr<DeleteRangeResult> Del(const etcdserverpb::DeleteRangeRequest& r) {
    return store_->DeleteRange(r, next_index_++);
  }
  absl::StatusOr<TxnResult> Txn(const etcdserverpb::TxnRequest& r) {
    return store_->Txn(r, next_index_++);
  }
  absl::StatusOr<etcdserverpb::CompactionResponse> Compact(int64_t rev) {
    return store_->Compact(rev, next_index_++);
  }
  absl::StatusOr<etcdserverpb::RangeResponse> Get(const std::string& key,
                                                  const std::string& end = "",
                                                  int64_t rev = 0) {
    return store_->Range(RangeReq(key, end, rev));
  }
  // Keys of a range answer, in answer order.
  static std::vector<std::string> Keys(const etcdserverpb::RangeResponse& r) {
    std::vector<std::string> keys;
    for (const auto& kv : r.kvs()) keys.push_back(kv.key());
    return keys;
  }

  TempDir dir_;
  std::vector<int64_t> leases_;
  int max_txn_ops_ = kDefaultMaxTxnOps;
  size_t value_cache_bytes_ = kv::kDefaultValueCacheBytes;
  std::unique_ptr<MvccStore> store_;
  uint64_t next_index_ = 1;
};

}  // namespace keel::kv::testing
