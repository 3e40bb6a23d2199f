#include "kv/auto_compaction.h"

#include <algorithm>

#include "base/check.h"

namespace keel::kv {

AutoCompactionPolicy::AutoCompactionPolicy(Mode mode, absl::Duration retention,
                                           int64_t retain_revisions, absl::Duration interval)
    : mode_(mode),
      retention_(retention),
      retain_revisions_(retain_revisions),
      interval_(interval) {}

AutoCompactionPolicy AutoCompactionPolicy::Periodic(absl::Duration retention) {
  KEEL_CHECK(retention > absl::ZeroDuration()) << "periodic retention must be positive";
  return AutoCompactionPolicy(Mode::kPeriodic, retention, 0, retention / 10);
}

AutoCompactionPolicy AutoCompactionPolicy::Revision(int64_t retain_revisions,
                                                    absl::Duration check_interval) {
  KEEL_CHECK(retain_revisions >= 0) << "revision retention must not be negative";
  return AutoCompactionPolicy(Mode::kRevision, absl::ZeroDuration(), retain_revisions,
                              check_interval);
}

// One sample per interval is enough resolution and bounds the deque to about
// retention / interval + 2 samples however often the caller observes.
void AutoCompactionPolicy::RecordSample(absl::Time now, int64_t revision) {
  if (!samples_.empty() && now - samples_.back().time < interval_) return;
  samples_.push_back({now, revision});
}

std::optional<int64_t> AutoCompactionPolicy::Observe(absl::Time now, int64_t current_revision,
                                                     int64_t compacted_revision) {
  if (!first_seen_) first_seen_ = now;
  if (mode_ == Mode::kPeriodic) RecordSample(now, current_revision);
  if (last_answer_ && now - *last_answer_ < interval_) return std::nullopt;
  std::optional<int64_t> target;
  if (mode_ == Mode::kRevision) {
    if (now - *first_seen_ < interval_ && !last_answer_) return std::nullopt;
    const int64_t rev = current_revision - retain_revisions_;
    if (rev > compacted_revision && rev > 0) target = rev;
  } else {
    // Newest sample at least `retention` old; older ones are no longer needed.
    const absl::Time cutoff = now - retention_;
    std::optional<int64_t> candidate;
    while (!samples_.empty() && samples_.front().time <= cutoff) {
      candidate = samples_.front().revision;
      samples_.pop_front();
    }
    if (candidate) {
      samples_.push_front({cutoff, *candidate});  // keep it as the floor for next time
      if (*candidate > compacted_revision) target = std::min(*candidate, current_revision);
    }
  }
  if (target) last_answer_ = now;
  return target;
}

}  // namespace keel::kv
