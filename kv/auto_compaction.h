// When to compact, as etcd's --auto-compaction-mode / --auto-compaction-retention decide it.
//
// A pure policy: the caller (the leader's server loop) feeds it the time and the current
// revision now and then, and proposes a Compact when it answers with a revision. No clock or
// timer inside, so it is tested with made-up times.
//
//   periodic (retention R): keep at least R of history. The policy samples (time, revision)
//     and, at most every R/10 (etcd 3.4's cadence; every R when R < 1h would be etcd 3.2),
//     answers the newest revision sampled at least R ago.
//   revision (retention N): keep the newest N revisions. Every 5 minutes (etcd's interval)
//     it answers current - N when that is above what was compacted.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>

#include "absl/time/time.h"

namespace keel::kv {

class AutoCompactionPolicy {
 public:
  static AutoCompactionPolicy Periodic(absl::Duration retention);
  static AutoCompactionPolicy Revision(int64_t retain_revisions,
                                       absl::Duration check_interval = absl::Minutes(5));

  // Records an observation and returns the revision to compact to, if it is time. A
  // returned revision is above `compacted_revision` and at most `current_revision`.
  std::optional<int64_t> Observe(absl::Time now, int64_t current_revision,
                                 int64_t compacted_revision);

 private:
  enum class Mode { kPeriodic, kRevision };
  AutoCompactionPolicy(Mode mode, absl::Duration retention, int64_t retain_revisions,
                       absl::Duration interval);

  void RecordSample(absl::Time now, int64_t revision);

  struct Sample {
    absl::Time time;
    int64_t revision;
  };

  Mode mode_;
  absl::Duration retention_;
  int64_t retain_revisions_;
  absl::Duration interval_;  // the least time between two answers
  std::optional<absl::Time> last_answer_;
  std::optional<absl::Time> first_seen_;
  std::deque<Sample> samples_;  // Invariant: ascending by time; bounded by retention/interval
};

}  // namespace keel::kv
