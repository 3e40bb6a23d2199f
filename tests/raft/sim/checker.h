// SafetyChecker: the Raft safety properties, checked incrementally on every observation the
// driver reports, so that a run checks them after every step without rescanning logs.
//
// Properties (Raft paper, Ongaro & Ousterhout 2014, Figure 3):
//   Election Safety (§5.2): at most one leader per term, across the whole run.
//   Log Matching (§5.3): if two logs hold an entry with the same index and term, the logs are
//     identical up to that index. Checked by induction: every (index, term) ever written to
//     any log must always carry the same payload and follow an entry of the same term. Two
//     logs sharing (i, t) then share (i-1, t'), and so on down to a common snapshot.
//   Leader Completeness (§5.4): an entry committed in term T is in the log of every leader of
//     a term > T. Checked on the leader's log at the moment it becomes leader (a leader never
//     removes entries from its own log afterwards).
//   State Machine Safety (§5.4.3): every node applies a prefix of one global sequence: the
//     first node to apply index i defines it; every other apply (including re-applies after a
//     restart) must match it, and so must every installed or restored snapshot (by digest).
// Plus linearizable reads (thesis §6.4): a read served after ReadIndex reflects every entry
// committed before the read was requested.
//
// "Known committed" means some node reported a commit index covering the entry; the term in
// which that first happened is recorded, an upper bound of the term it was really committed
// in, so the leader completeness check never demands more than the paper does.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "raft/storage/log_store.h"
#include "raft/types.h"
#include "tests/raft/sim/state_machine.h"

namespace keel::raft::sim {

class SafetyChecker {
 public:
  SafetyChecker();

  bool ok() const { return violation_.empty(); }
  // The first violation found (later ones are usually consequences and are not recorded).
  const std::string& violation() const { return violation_; }

  // Election Safety: `id` is leader of `term`.
  void OnLeader(NodeId id, uint64_t term);
  // Log Matching: `entries` are being written to the log of `id`; prev_term is the term of the
  // entry just before the first one, when the log still has it.
  void OnAppend(NodeId id, const std::vector<Entry>& entries, std::optional<uint64_t> prev_term);
  // Node `id`, in `term`, reports commit index `commit`; `log` is its log (already holding
  // every entry up to `commit`).
  void OnCommitIndex(NodeId id, uint64_t term, uint64_t commit, const LogStore& log);
  // Leader Completeness: `log` is the log of `id`, which just became leader of `term`.
  void CheckLeaderCompleteness(NodeId id, uint64_t term, const LogStore& log);
  // State Machine Safety: `id` applied `entry`, reaching `after`. applied_before is the
  // applied index before the apply (entries must come one index at a time).
  void OnApply(NodeId id, uint64_t applied_before, const Entry& entry,
               const SimStateMachine& after);
  // State Machine Safety for snapshots: `id` installed (or restarted from) a snapshot taken at
  // (image.index, term).
  void OnRestore(NodeId id, const SnapshotImage& image, uint64_t term);
  // Linearizable reads: a ReadIndex requested when the highest known commit index was `floor`
  // answered `read_index`; the read is then served at applied index `applied`.
  void OnReadState(NodeId id, uint64_t read_index, uint64_t floor);
  void OnReadServed(NodeId id, uint64_t applied, uint64_t floor);

  // Highest commit index any node has reported.
  uint64_t commit_high() const { return committed_.size() - 1; }
  // Highest index any node has applied.
  uint64_t applied_high() const { return sequence_.size() - 1; }
  // Terms that had a leader.
  uint64_t leaders_elected() const { return leaders_.size(); }
  // A digest of everything applied so far: equal across runs of the same seed.
  uint64_t Fingerprint() const;

  // Records a violation found outside the checker (the driver's own sanity checks).
  void Fail(std::string what);

 private:
  struct LogRecord {
    uint64_t entry_hash = 0;
    uint64_t prev_term = 0;
    bool prev_known = false;
  };
  struct CommitRecord {
    // 0 when the committing node could not tell (entry already compacted there).
    uint64_t entry_term = 0;
    uint64_t commit_term = 0;
  };
  struct AppliedRecord {
    uint64_t term = 0;
    uint64_t entry_hash = 0;
    uint64_t digest = 0;
  };

  void CheckLogRecord(NodeId id, const Entry& entry, std::optional<uint64_t> prev_term);

  std::string violation_;
  // term -> the leader of that term.
  std::map<uint64_t, NodeId> leaders_;
  // (index, term) -> what every log holding it must have there.
  absl::flat_hash_map<std::pair<uint64_t, uint64_t>, LogRecord> log_records_;
  // Index -> commit record; [0] is a placeholder.
  std::vector<CommitRecord> committed_;
  // Index -> the global applied sequence; [0] is the empty state.
  std::vector<AppliedRecord> sequence_;
};

}  // namespace keel::raft::sim
