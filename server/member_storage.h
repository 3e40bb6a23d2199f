// MemberStorage: the one RocksDB of a member (under --data-dir) and the stores that share it.
//
// Column families: raft_log and raft_meta (raft/storage/rocksdb_log_store.h), kv and kv_meta
// (kv/store.h), and "member": the server's own records, fixed keys:
//   "identity" = etcdserverpb.Member of this member (id, name, urls)
//   "cluster"  = 8 bytes BE cluster id
//   "alarms"   = etcdserverpb.AlarmResponse listing the active alarms
//   "members/" + 8 bytes BE id = etcdserverpb.Member, one per cluster member
//   "removed/" + 8 bytes BE id = "" for each member removed from the cluster
// One write-ahead log serves every family, so writes reach disk in the order they were made:
// a kv write made after a raft write never survives a crash that loses the raft write.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "etcd/rpc.pb.h"
#include "kv/store.h"
#include "raft/storage/rocksdb_log_store.h"
#include "rocksdb/db.h"

namespace keel::server {

class MemberStorage {
 public:
  static absl::StatusOr<std::unique_ptr<MemberStorage>> Open(const std::string& dir,
                                                             kv::MvccStoreOptions kv_options);
  ~MemberStorage();

  raft::RocksDbLogStore& log() { return *log_; }
  kv::MvccStore& kv() { return *kv_; }
  rocksdb::DB* db() { return db_.get(); }
  // The kv family, for the watch hub's history scan (watch/history.h).
  rocksdb::ColumnFamilyHandle* kv_column_family() { return kv_cf_; }

  // The member's records; absent keys read as NotFound.
  absl::StatusOr<std::string> GetMeta(const std::string& key) const;
  absl::Status PutMeta(const std::string& key, const std::string& value, bool sync);
  absl::Status DeleteMeta(const std::string& key, bool sync);
  // Every record whose key starts with `prefix`, in key order.
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ScanMeta(
      const std::string& prefix) const;
  // Makes every write so far durable (the kv store writes without fsync; the raft log's
  // synced writes cover it in normal operation, this is for log compaction).
  absl::Status SyncWal();

 private:
  MemberStorage() = default;

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* member_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* kv_cf_ = nullptr;
  std::unique_ptr<raft::RocksDbLogStore> log_;
  std::unique_ptr<kv::MvccStore> kv_;
};

}  // namespace keel::server
