#include "tests/raft/sim/driver.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "raft/codec.h"
#include "raft/raft.h"

namespace keel::raft::sim {

Driver::Driver(const DriverOptions& options, SimRandom* random, SafetyChecker* checker,
               DriverHost* host)
    : options_(options), random_(random), checker_(checker), host_(host) {
  KEEL_CHECK(random_ != nullptr && host_ != nullptr);
}

void Driver::Fail(std::string what) {
  // Without a checker (benchmarks) there is nobody to report to, and going on would measure
  // a broken run.
  KEEL_CHECK(checker_ != nullptr) << what;
  checker_->Fail(std::move(what));
}

void Driver::HandleReadies(SimNode& node) {
  while (node.up() && node.raw_node().HasReady()) {
    Ready rd = node.raw_node().GetReady();
    if (!HandleReady(node, rd)) return;
    // A violation ends the run at the caller's next check; do not pile more on top of it.
    if (checker_ != nullptr && !checker_->ok()) return;
  }
}

void Driver::Crash(SimNode& node) {
  node.Crash();
  host_->OnCrashed(node);
}

bool Driver::HandleReady(SimNode& node, const Ready& rd) {
  std::optional<CrashPoint> crash = node.armed_crash();
  node.armed_crash().reset();
  uint64_t commit_before = node.commit();
  if (rd.hard_state.has_value()) node.set_commit(rd.hard_state->commit);
  if (rd.soft_state.has_value()) node.set_soft_state(*rd.soft_state);

  // 0. The leader may send before it persists: its own entries count toward commitment only
  //    through its own log, and committed entries are handed out only once persisted.
  bool sent = false;
  if (node.role() == Role::kLeader && random_->Chance(options_.leader_sends_first_rate)) {
    SendAll(node, rd);
    sent = true;
  }
  if (crash == CrashPoint::kBeforePersist) return Crash(node), false;

  // 1. Persist.
  Persist(node, rd);
  Observe(node, rd);
  if (crash == CrashPoint::kAfterWrite) return Crash(node), false;
  if (rd.must_sync || random_->Chance(options_.extra_sync_rate)) node.store().Sync();
  if (crash == CrashPoint::kAfterSync) return Crash(node), false;

  // 2. Send.
  if (!sent) SendAll(node, rd);
  if (crash == CrashPoint::kAfterSend) return Crash(node), false;

  // 3 and 4. Apply, serve reads.
  Apply(node, rd);
  ServeReads(node, rd);
  if (crash == CrashPoint::kAfterApply) return Crash(node), false;

  // 5. Advance, then 6. compact.
  node.raw_node().Advance(rd);
  MaybeSnapshot(node, conf_changed_);
  // The core's own invariants (Raft::CheckInvariants is fatal), after every step.
  if (checker_ != nullptr) node.raw_node().raft().CheckInvariants();
  if (options_.crash_after_vote_rate > 0 && GrantsVote(rd) &&
      random_->Chance(options_.crash_after_vote_rate)) {
    return Crash(node), false;
  }
  if (options_.crash_after_commit_rate > 0 && node.role() == Role::kLeader &&
      rd.hard_state.has_value() && rd.hard_state->commit > commit_before &&
      random_->Chance(options_.crash_after_commit_rate)) {
    return Crash(node), false;
  }
  return true;
}

bool Driver::GrantsVote(const Ready& rd) {
  for (const Message& m : rd.messages) {
    if (m.type == MessageType::kVoteResp && !m.reject) return true;
  }
  return false;
}

void Driver::SendAll(SimNode& node, const Ready& rd) {
  for (const Message& m : rd.messages) host_->Send(node, m);
}

void Driver::Persist(SimNode& node, const Ready& rd) {
  MemoryLogStore& store = node.store();
  if (!rd.snapshot.IsEmpty()) {
    absl::Status status = store.ApplySnapshot(rd.snapshot);
    if (!status.ok()) {
      Fail(absl::StrCat("node ", node.id(), " was handed snapshot ", rd.snapshot.metadata.index,
                        " that its store refuses: ", status.ToString()));
    }
  }
  if (!rd.entries.empty()) {
    const Entry& first = rd.entries.front();
    if (first.index > store.LastIndex() + 1) {
      Fail(absl::StrCat("node ", node.id(), " was handed entries from index ", first.index,
                        " but its log ends at ", store.LastIndex()));
      return;
    }
    if (checker_ != nullptr) {
      std::optional<uint64_t> prev_term;
      if (first.index >= store.FirstIndex()) {
        absl::StatusOr<uint64_t> t = store.Term(first.index - 1);
        if (t.ok()) prev_term = *t;
      }
      checker_->OnAppend(node.id(), rd.entries, prev_term);
    }
    store.Append(rd.entries);
  }
  if (rd.hard_state.has_value()) store.SetHardState(*rd.hard_state);
}

void Driver::Observe(SimNode& node, const Ready& rd) {
  if (rd.hard_state.has_value()) node.set_term(rd.hard_state->term);
  if (checker_ == nullptr) return;
  if (rd.hard_state.has_value()) {
    checker_->OnCommitIndex(node.id(), rd.hard_state->term, rd.hard_state->commit, node.store());
  }
  if (rd.soft_state.has_value() && rd.soft_state->role == Role::kLeader) {
    // The term from the node itself, not from hard_state: a bug may keep hard_state quiet.
    uint64_t term = node.raw_node().GetStatus().hard_state.term;
    node.set_term(term);
    checker_->OnLeader(node.id(), term);
    // The log was persisted above, so the store is the leader's whole log.
    checker_->CheckLeaderCompleteness(node.id(), term, node.store());
  }
}

void Driver::Apply(SimNode& node, const Ready& rd) {
  SimStateMachine& app = node.app();
  conf_changed_ = false;
  if (!rd.snapshot.IsEmpty()) {
    std::optional<SnapshotImage> image = DecodeSnapshotImage(rd.snapshot.data.view());
    if (!image.has_value() || image->index != rd.snapshot.metadata.index) {
      Fail(absl::StrCat("node ", node.id(), " got a snapshot whose data does not describe index ",
                        rd.snapshot.metadata.index));
      return;
    }
    if (image->index <= app.applied_index()) {
      Fail(absl::StrCat("node ", node.id(), " was handed snapshot ", image->index,
                        " at or below its applied index ", app.applied_index()));
      return;
    }
    if (checker_ != nullptr) checker_->OnRestore(node.id(), *image, rd.snapshot.metadata.term);
    app.Restore(*image, rd.snapshot.metadata.conf_state);
    ++snapshots_installed_;
  }
  for (const Entry& entry : rd.committed_entries) {
    uint64_t before = app.applied_index();
    if (entry.index != before + 1) {
      Fail(absl::StrCat("node ", node.id(), " was handed committed index ", entry.index,
                        " after applying ", before));
      return;
    }
    app.Apply(entry);
    if (checker_ != nullptr) {
      checker_->OnApply(node.id(), before, entry, app);
      if (!checker_->ok()) return;
    }
    if (entry.type == EntryType::kConfChange && !entry.data.empty()) {
      absl::StatusOr<ConfChange> cc = DecodeConfChange(entry.data.view());
      if (!cc.ok()) {
        Fail(absl::StrCat("node ", node.id(), " cannot decode conf change at index ", entry.index,
                          ": ", cc.status().ToString()));
        return;
      }
      app.set_conf_state(node.raw_node().ApplyConfChange(*cc));
      conf_changed_ = true;
      host_->OnConfChangeApplied(node, *cc);
    }
    host_->OnApplied(node, entry);
  }
}

void Driver::ServeReads(SimNode& node, const Ready& rd) {
  auto& reads = node.reads();
  for (const ReadState& rs : rd.read_states) {
    auto it = reads.find(rs.request_ctx.str());
    // Unknown contexts were asked by an earlier life of this node: nobody waits for them.
    if (it == reads.end() || it->second.read_index.has_value()) continue;
    it->second.read_index = rs.index;
    if (checker_ != nullptr) checker_->OnReadState(node.id(), rs.index, it->second.commit_floor);
  }
  uint64_t applied = node.app().applied_index();
  for (auto it = reads.begin(); it != reads.end();) {
    if (it->second.read_index.has_value() && *it->second.read_index <= applied) {
      if (checker_ != nullptr) checker_->OnReadServed(node.id(), applied, it->second.commit_floor);
      ++reads_served_;
      it = reads.erase(it);
    } else {
      ++it;
    }
  }
}

void Driver::MaybeSnapshot(SimNode& node, bool conf_changed) {
  MemoryLogStore& store = node.store();
  uint64_t applied = node.app().applied_index();
  absl::StatusOr<Snapshot> current = store.GetSnapshot();
  if (!current.ok() || applied <= current->metadata.index) return;
  // After a membership change, snapshot at once: a node joining with an empty store refuses
  // a snapshot whose membership does not include it (raft/raft_membership.cc, Restore), and
  // the log before the bootstrap snapshot does not exist, so the leader must have a snapshot
  // taken after the change to bring the new node up.
  bool due = options_.snapshot_interval_entries > 0 &&
             applied >= current->metadata.index + options_.snapshot_interval_entries;
  if (!due && !conf_changed) return;
  SnapshotImage image = node.app().Image();
  absl::StatusOr<Snapshot> made =
      store.CreateSnapshot(applied, &node.app().conf_state(), Bytes(EncodeSnapshotImage(image)));
  if (!made.ok()) {
    Fail(absl::StrCat("node ", node.id(), " cannot snapshot its applied index ", applied, ": ",
                      made.status().ToString()));
    return;
  }
  ++snapshots_taken_;
  if (applied <= options_.compaction_tail_entries) return;
  uint64_t compact_to = applied - options_.compaction_tail_entries;
  if (compact_to >= store.FirstIndex()) {
    absl::Status status = store.Compact(compact_to);
    if (!status.ok()) {
      Fail(absl::StrCat("node ", node.id(), " cannot compact to ", compact_to, ": ",
                        status.ToString()));
    }
  }
}

}  // namespace keel::raft::sim
