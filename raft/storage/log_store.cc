#include "raft/storage/log_store.h"

namespace keel::raft {
namespace {
constexpr char kCompacted[] = "raft: requested index is unavailable due to compaction";
constexpr char kUnavailable[] = "raft: requested entry at index is unavailable";
constexpr char kSnapshotTemporarilyUnavailable[] = "raft: snapshot is temporarily unavailable";
constexpr char kSnapOutOfDate[] = "raft: requested index is older than the existing snapshot";
}  // namespace

absl::Status ErrCompacted() { return absl::OutOfRangeError(kCompacted); }
absl::Status ErrUnavailable() { return absl::NotFoundError(kUnavailable); }
absl::Status ErrSnapshotTemporarilyUnavailable() {
  return absl::UnavailableError(kSnapshotTemporarilyUnavailable);
}
absl::Status ErrSnapOutOfDate() { return absl::FailedPreconditionError(kSnapOutOfDate); }

bool IsCompacted(const absl::Status& s) {
  return s.code() == absl::StatusCode::kOutOfRange && s.message() == kCompacted;
}
bool IsErrUnavailable(const absl::Status& s) {
  return s.code() == absl::StatusCode::kNotFound && s.message() == kUnavailable;
}
bool IsSnapshotTemporarilyUnavailable(const absl::Status& s) {
  return s.code() == absl::StatusCode::kUnavailable && s.message() == kSnapshotTemporarilyUnavailable;
}
bool IsSnapOutOfDate(const absl::Status& s) {
  return s.code() == absl::StatusCode::kFailedPrecondition && s.message() == kSnapOutOfDate;
}

void LimitSize(std::vector<Entry>* entries, uint64_t max_size_bytes) {
  if (entries->empty()) return;
  uint64_t size = (*entries)[0].SizeBytes();
  size_t keep = 1;
  for (; keep < entries->size(); ++keep) {
    size += (*entries)[keep].SizeBytes();
    if (size > max_size_bytes) break;
  }
  entries->resize(keep);
}

}  // namespace keel::raft
