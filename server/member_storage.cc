#include "server/member_storage.h"

#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"

namespace keel::server {
namespace {

constexpr char kMemberColumnFamily[] = "member";

absl::Status FromRocks(const rocksdb::Status& s, const char* what) {
  if (s.ok()) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(what, ": ", s.ToString()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<MemberStorage>> MemberStorage::Open(const std::string& dir,
                                                                   kv::MvccStoreOptions kv_options) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create data dir ", dir, ": ", ec.message()));

  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  families.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());
  for (auto& d : raft::RocksDbLogStore::ColumnFamilies()) families.push_back(d);
  for (auto& d : kv::MvccStore::ColumnFamilyDescriptors()) families.push_back(d);
  families.emplace_back(kMemberColumnFamily, rocksdb::ColumnFamilyOptions());

  rocksdb::DBOptions options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.IncreaseParallelism(2);
  // The small families (kv_meta, raft_meta, member, lease) take a write with every batch but
  // never fill a memtable, so without a cap they pin every WAL file since the start: a
  // million puts left ~600 MB of WAL to replay at start-up. Past the cap RocksDB flushes the
  // families holding the oldest WAL.
  options.max_total_wal_size = 128 << 20;
  auto storage = std::unique_ptr<MemberStorage>(new MemberStorage());
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir, families, &storage->handles_, &raw);
  if (!s.ok()) return FromRocks(s, "cannot open data dir");
  storage->db_.reset(raw);

  // Handles come back in descriptor order: default, raft_log, raft_meta, kv, kv_meta, lease,
  // member.
  auto handle = [&](const std::string& name) -> rocksdb::ColumnFamilyHandle* {
    for (auto* h : storage->handles_) {
      if (h->GetName() == name) return h;
    }
    return nullptr;
  };
  storage->member_cf_ = handle(kMemberColumnFamily);
  storage->kv_cf_ = handle(kv::kKvColumnFamily);
  auto log = raft::RocksDbLogStore::Attach(raw, handle(raft::RocksDbLogStore::kLogColumnFamily),
                                           handle(raft::RocksDbLogStore::kMetaColumnFamily));
  if (!log.ok()) return log.status();
  storage->log_ = std::move(*log);
  auto kv = kv::MvccStore::Attach(raw, handle(kv::kKvColumnFamily), handle(kv::kKvMetaColumnFamily),
                                  handle(kv::kLeaseColumnFamily), std::move(kv_options));
  if (!kv.ok()) return kv.status();
  storage->kv_ = std::move(*kv);
  return storage;
}

MemberStorage::~MemberStorage() {
  // The stores use the handles: destroy them first, then the handles, then the DB.
  kv_.reset();
  log_.reset();
  if (db_) {
    // A clean stop leaves no WAL to replay at the next start (seconds with a million keys).
    // Only what the stores already wrote is flushed; their writes are all complete by now.
    rocksdb::FlushOptions flush;
    flush.wait = true;
    rocksdb::Status s = db_->Flush(flush, handles_);
    if (!s.ok()) std::cerr << "keel: flushing the data dir at stop: " << s.ToString() << "\n";
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    db_->Close();
  }
}

absl::StatusOr<std::string> MemberStorage::GetMeta(const std::string& key) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), member_cf_, key, &value);
  if (s.IsNotFound()) return absl::NotFoundError(key);
  if (!s.ok()) return FromRocks(s, "read member record");
  return value;
}

absl::Status MemberStorage::PutMeta(const std::string& key, const std::string& value, bool sync) {
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  return FromRocks(db_->Put(wo, member_cf_, key, value), "write member record");
}

absl::Status MemberStorage::DeleteMeta(const std::string& key, bool sync) {
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  return FromRocks(db_->Delete(wo, member_cf_, key), "delete member record");
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> MemberStorage::ScanMeta(
    const std::string& prefix) const {
  std::vector<std::pair<std::string, std::string>> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), member_cf_));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    out.emplace_back(it->key().ToString(), it->value().ToString());
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scan member records");
  return out;
}

absl::Status MemberStorage::SyncWal() { return FromRocks(db_->SyncWAL(), "sync WAL"); }

}  // namespace keel::server
