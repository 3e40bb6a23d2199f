#include "raft/tracker/inflights.h"

#include "base/check.h"

namespace keel::raft {

void Inflights::Add(uint64_t index, uint64_t bytes) {
  KEEL_CHECK(!Full()) << "cannot add into a full inflights window";
  KEEL_CHECK(window_.empty() || window_.back().index < index)
      << "inflight indexes must increase: " << index;
  window_.push_back({index, bytes});
  bytes_ += bytes;
}

void Inflights::FreeLE(uint64_t index) {
  while (!window_.empty() && window_.front().index <= index) {
    bytes_ -= window_.front().bytes;
    window_.pop_front();
  }
}

void Inflights::FreeFirstOne() {
  if (window_.empty()) return;
  bytes_ -= window_.front().bytes;
  window_.pop_front();
}

void Inflights::Reset() {
  window_.clear();
  bytes_ = 0;
}

bool Inflights::Full() const {
  return static_cast<int>(window_.size()) >= max_count_ || (max_bytes_ != 0 && bytes_ >= max_bytes_);
}

}  // namespace keel::raft
