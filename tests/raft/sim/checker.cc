#include "tests/raft/sim/checker.h"

#include "absl/strings/str_cat.h"
#include "tests/raft/sim/random.h"

namespace keel::raft::sim {

SafetyChecker::SafetyChecker() {
  // Index 0 is the empty state; index 1 is the bootstrap snapshot every initial member starts
  // from (see state_machine.h), committed in its own term.
  committed_.push_back({});
  committed_.push_back({kBootstrapTerm, kBootstrapTerm});
  sequence_.push_back({});
  SnapshotImage boot = SimStateMachine::BootstrapImage();
  sequence_.push_back({kBootstrapTerm, 0, boot.digest});
}

void SafetyChecker::Fail(std::string what) {
  if (violation_.empty()) violation_ = std::move(what);
}

void SafetyChecker::OnLeader(NodeId id, uint64_t term) {
  // §5.2 Election Safety: a term's votes are durable and each voter grants one, so two
  // majorities of one term intersect in a voter that would have voted twice.
  auto [it, inserted] = leaders_.emplace(term, id);
  if (!inserted && it->second != id) {
    Fail(absl::StrCat("election safety (§5.2): nodes ", it->second, " and ", id,
                      " were both leader of term ", term));
  }
}

void SafetyChecker::CheckLogRecord(NodeId id, const Entry& entry,
                                   std::optional<uint64_t> prev_term) {
  // §5.3 Log Matching: a leader creates at most one entry per index in its term and never
  // moves it, and the AppendEntries consistency check makes (index, term) pin the previous
  // entry's term. So (index, term) must always map to the same payload and previous term.
  LogRecord fresh{EntryHash(entry), prev_term.value_or(0), prev_term.has_value()};
  auto [it, inserted] = log_records_.emplace(std::make_pair(entry.index, entry.term), fresh);
  if (inserted) return;
  LogRecord& known = it->second;
  if (known.entry_hash != fresh.entry_hash) {
    Fail(absl::StrCat("log matching (§5.3): node ", id, " wrote a different entry at index ",
                      entry.index, " term ", entry.term, " than another log holds"));
    return;
  }
  if (fresh.prev_known) {
    if (!known.prev_known) {
      known.prev_term = fresh.prev_term;
      known.prev_known = true;
    } else if (known.prev_term != fresh.prev_term) {
      Fail(absl::StrCat("log matching (§5.3): node ", id, " has entry ", entry.index, " term ",
                        entry.term, " after an entry of term ", fresh.prev_term,
                        " but another log has it after term ", known.prev_term));
    }
  }
}

void SafetyChecker::OnAppend(NodeId id, const std::vector<Entry>& entries,
                             std::optional<uint64_t> prev_term) {
  for (size_t k = 0; k < entries.size(); ++k) {
    const Entry& e = entries[k];
    if (k > 0) {
      if (e.index != entries[k - 1].index + 1) {
        Fail(absl::StrCat("node ", id, " was handed non-contiguous entries to persist (",
                          entries[k - 1].index, " then ", e.index, ")"));
        return;
      }
      if (e.term < entries[k - 1].term) {
        Fail(absl::StrCat("node ", id, " log terms decrease at index ", e.index));
        return;
      }
      prev_term = entries[k - 1].term;
    }
    CheckLogRecord(id, e, prev_term);
    if (!ok()) return;
  }
}

void SafetyChecker::OnCommitIndex(NodeId id, uint64_t term, uint64_t commit,
                                  const LogStore& log) {
  if (commit > log.LastIndex()) {
    Fail(absl::StrCat("node ", id, " reports commit index ", commit, " beyond its last index ",
                      log.LastIndex()));
    return;
  }
  while (commit_high() < commit) {
    uint64_t index = committed_.size();
    absl::StatusOr<uint64_t> entry_term = log.Term(index);
    committed_.push_back({entry_term.ok() ? *entry_term : 0, term});
  }
}

void SafetyChecker::CheckLeaderCompleteness(NodeId id, uint64_t term, const LogStore& log) {
  // §5.4.1 / §5.4.3: the election restriction (a voter only votes for a log at least as up to
  // date as its own) plus committing only current-term entries by counting (§5.4.2) make every
  // committed entry reach every later leader.
  uint64_t first = log.FirstIndex();
  for (uint64_t i = first > 1 ? first - 1 : 1; i <= commit_high(); ++i) {
    const CommitRecord& rec = committed_[i];
    if (rec.entry_term == 0 || rec.commit_term >= term) continue;
    absl::StatusOr<uint64_t> t = log.Term(i);
    if (!t.ok()) {
      Fail(absl::StrCat("leader completeness (§5.4): node ", id, " became leader of term ", term,
                        " without entry ", i, " (term ", rec.entry_term,
                        ") committed in term ", rec.commit_term, "; its last index is ",
                        log.LastIndex()));
      return;
    }
    if (*t != rec.entry_term) {
      Fail(absl::StrCat("leader completeness (§5.4): node ", id, " became leader of term ", term,
                        " with term ", *t, " at index ", i, " where an entry of term ",
                        rec.entry_term, " was committed in term ", rec.commit_term));
      return;
    }
  }
}

void SafetyChecker::OnApply(NodeId id, uint64_t applied_before, const Entry& entry,
                            const SimStateMachine& after) {
  // §5.4.3 State Machine Safety: a server that applied an entry at an index applies no other
  // entry there, and neither does any other server.
  if (entry.index != applied_before + 1) {
    Fail(absl::StrCat("node ", id, " applied index ", entry.index, " right after ",
                      applied_before, " (applies must be contiguous)"));
    return;
  }
  if (entry.index > commit_high()) {
    Fail(absl::StrCat("node ", id, " applied index ", entry.index,
                      " which no node reported committed (highest ", commit_high(), ")"));
    return;
  }
  const CommitRecord& committed = committed_[entry.index];
  if (committed.entry_term != 0 && committed.entry_term != entry.term) {
    Fail(absl::StrCat("state machine safety (§5.4.3): node ", id, " applied index ", entry.index,
                      " of term ", entry.term, " but the entry committed there has term ",
                      committed.entry_term));
    return;
  }
  AppliedRecord record{entry.term, EntryHash(entry), after.digest()};
  if (entry.index == sequence_.size()) {
    sequence_.push_back(record);
    return;
  }
  if (entry.index > sequence_.size()) {
    Fail(absl::StrCat("node ", id, " applied index ", entry.index,
                      " beyond the global sequence (", applied_high(), ")"));
    return;
  }
  const AppliedRecord& known = sequence_[entry.index];
  if (known.term != record.term || known.entry_hash != record.entry_hash) {
    Fail(absl::StrCat("state machine safety (§5.4.3): node ", id, " applied a different entry ",
                      "at index ", entry.index, " (term ", record.term, ") than was applied ",
                      "before (term ", known.term, ")"));
  } else if (known.digest != record.digest) {
    Fail(absl::StrCat("state machine safety (§5.4.3): node ", id, " reached index ",
                      entry.index, " through a different sequence of entries"));
  }
}

void SafetyChecker::OnRestore(NodeId id, const SnapshotImage& image, uint64_t term) {
  if (image.index >= sequence_.size()) {
    Fail(absl::StrCat("node ", id, " restored a snapshot at index ", image.index,
                      " beyond anything applied (", applied_high(), ")"));
    return;
  }
  const AppliedRecord& known = sequence_[image.index];
  if (known.digest != image.digest || known.term != term) {
    Fail(absl::StrCat("state machine safety (§5.4.3, §7): node ", id,
                      " restored a snapshot at index ", image.index, " term ", term,
                      " that does not match the applied sequence (term ", known.term, ")"));
  }
}

void SafetyChecker::OnReadState(NodeId id, uint64_t read_index, uint64_t floor) {
  // Thesis §6.4: the read index is the leader's commit index once it has committed an entry of
  // its term and confirmed it still leads, so it covers everything committed before the read.
  if (read_index < floor) {
    Fail(absl::StrCat("linearizable read (thesis §6.4): node ", id, " got read index ",
                      read_index, " but index ", floor,
                      " was already committed when the read was requested"));
  }
}

void SafetyChecker::OnReadServed(NodeId id, uint64_t applied, uint64_t floor) {
  if (applied < floor) {
    Fail(absl::StrCat("linearizable read (thesis §6.4): node ", id, " served a read at applied ",
                      "index ", applied, " missing committed index ", floor));
  }
}

uint64_t SafetyChecker::Fingerprint() const {
  uint64_t h = Mix64(sequence_.size(), sequence_.back().digest);
  h = Mix64(h, committed_.size());
  return Mix64(h, leaders_.size());
}

}  // namespace keel::raft::sim
