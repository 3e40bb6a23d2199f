// etcd's backend quota check (--quota-backend-bytes): a write is refused with ErrNoSpace
// when the database plus the request would exceed the quota. Reads, deletes and compaction
// are not subject to it (the caller decides which requests to check).
#pragma once

#include <cstdint>

#include "absl/status/status.h"

namespace keel::kv {

// etcd's default quota, used when the configured quota is 0.
inline constexpr int64_t kDefaultQuotaBytes = int64_t{2} << 30;

// OK, or ErrNoSpace when db_size_bytes + request_bytes > quota. quota_bytes 0 means the
// default; a negative quota means no limit.
absl::Status CheckQuota(int64_t db_size_bytes, int64_t request_bytes, int64_t quota_bytes);

}  // namespace keel::kv
