#include "kv/quota.h"

#include "base/etcd_errors.h"

namespace keel::kv {

absl::Status CheckQuota(int64_t db_size_bytes, int64_t request_bytes, int64_t quota_bytes) {
  if (quota_bytes < 0) return absl::OkStatus();
  if (quota_bytes == 0) quota_bytes = kDefaultQuotaBytes;
  if (db_size_bytes + request_bytes > quota_bytes) return ErrNoSpace();
  return absl::OkStatus();
}

}  // namespace keel::kv
