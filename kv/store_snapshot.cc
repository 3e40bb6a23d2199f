// MvccStore::Dump and RestoreDump: the whole store as one byte string, for raft snapshots
// sent to members that are too far behind (or new).
//
// Format: a sequence of records, each
//   1 byte family (0 = kv, 1 = kv_meta, 2 = lease), varint32 key length, key, varint32 value length, value
// taken from one RocksDB snapshot, so it holds whole applied batches only: the applied index
// it carries (in kv_meta) is exactly the state it describes.
#include <memory>

#include "base/check.h"
#include "base/status_macros.h"
#include "kv/store.h"

namespace keel::kv {
namespace {

void PutVarint32(std::string* out, uint32_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

bool GetVarint32(std::string_view* in, uint32_t* v) {
  uint32_t result = 0;
  for (int shift = 0; shift <= 28 && !in->empty(); shift += 7) {
    uint8_t byte = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    result |= static_cast<uint32_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *v = result;
      return true;
    }
  }
  return false;
}

bool GetBytes(std::string_view* in, std::string_view* out) {
  uint32_t n = 0;
  if (!GetVarint32(in, &n) || in->size() < n) return false;
  *out = in->substr(0, n);
  in->remove_prefix(n);
  return true;
}

absl::Status Rocks(const rocksdb::Status& s, const char* what) {
  if (s.ok()) return absl::OkStatus();
  return absl::InternalError(std::string(what) + ": " + s.ToString());
}

}  // namespace

absl::StatusOr<std::string> MvccStore::Dump() const {
  const rocksdb::Snapshot* snapshot = db_->GetSnapshot();
  std::string out;
  absl::Status status;
  rocksdb::ColumnFamilyHandle* families[] = {kv_cf_, meta_cf_, lease_cf_};
  for (uint8_t f = 0; f < 3 && status.ok(); ++f) {
    rocksdb::ReadOptions options;
    options.snapshot = snapshot;
    options.fill_cache = false;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options, families[f]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      out.push_back(static_cast<char>(f));
      PutVarint32(&out, static_cast<uint32_t>(it->key().size()));
      out.append(it->key().data(), it->key().size());
      PutVarint32(&out, static_cast<uint32_t>(it->value().size()));
      out.append(it->value().data(), it->value().size());
    }
    status = Rocks(it->status(), "dumping the store");
  }
  db_->ReleaseSnapshot(snapshot);
  if (!status.ok()) return status;
  return out;
}

absl::Status MvccStore::RestoreDump(std::string_view dump) {
  std::lock_guard w(write_mu_);
  KEEL_CHECK(!in_batch_) << "RestoreDump inside a batch";
  // One synced write batch: every old record deleted, every dumped one written. A crash
  // leaves either the old store or the new one.
  rocksdb::WriteBatch batch;
  rocksdb::ColumnFamilyHandle* families[] = {kv_cf_, meta_cf_, lease_cf_};
  for (auto* cf : families) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf));
    for (it->SeekToFirst(); it->Valid(); it->Next()) batch.Delete(cf, it->key());
    KEEL_RETURN_IF_ERROR(Rocks(it->status(), "reading the store before a restore"));
  }
  std::string_view in = dump;
  while (!in.empty()) {
    uint8_t family = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    std::string_view key, value;
    if (family > 2 || !GetBytes(&in, &key) || !GetBytes(&in, &value)) {
      return absl::DataLossError("malformed store snapshot");
    }
    batch.Put(families[family], rocksdb::Slice(key.data(), key.size()),
              rocksdb::Slice(value.data(), value.size()));
  }
  rocksdb::WriteOptions options;
  options.sync = true;
  KEEL_RETURN_IF_ERROR(Rocks(db_->Write(options, &batch), "writing a store snapshot"));
  std::unique_lock lock(mu_);
  index_ = KeyIndex();
  leases_.clear();
  key_lease_.clear();
  pending_values_.clear();
  batch_.Clear();
  return Load();
}

}  // namespace keel::kv
