#include "tests/raft/sim/node.h"

#include "base/check.h"

namespace keel::raft::sim {

const char* CrashPointName(CrashPoint point) {
  switch (point) {
    case CrashPoint::kBeforePersist: return "before-persist";
    case CrashPoint::kAfterWrite: return "after-write-before-sync";
    case CrashPoint::kAfterSync: return "after-sync-before-send";
    case CrashPoint::kAfterSend: return "after-send-before-apply";
    case CrashPoint::kAfterApply: return "after-apply-before-advance";
  }
  return "unknown";
}

void SimNode::Bootstrap(const ConfState& voters) {
  Snapshot snapshot;
  snapshot.metadata.index = kBootstrapIndex;
  snapshot.metadata.term = kBootstrapTerm;
  snapshot.metadata.conf_state = voters;
  snapshot.data = Bytes(EncodeSnapshotImage(SimStateMachine::BootstrapImage()));
  absl::Status status = store_.ApplySnapshot(snapshot);
  KEEL_CHECK(status.ok()) << status;
  HardState hs;
  hs.term = kBootstrapTerm;
  hs.commit = kBootstrapIndex;
  store_.SetHardState(hs);
  store_.Sync();
}

SnapshotImage SimNode::Start(const Config& base, uint64_t random_seed) {
  KEEL_CHECK(!up()) << "node " << id_ << " already up";
  ++incarnation_;
  absl::StatusOr<Snapshot> snapshot = store_.GetSnapshot();
  KEEL_CHECK(snapshot.ok()) << snapshot.status();
  absl::StatusOr<InitialState> initial = store_.GetInitialState();
  KEEL_CHECK(initial.ok()) << initial.status();

  SnapshotImage image;
  if (!snapshot->IsEmpty()) {
    std::optional<SnapshotImage> decoded = DecodeSnapshotImage(snapshot->data.view());
    KEEL_CHECK(decoded.has_value()) << "undecodable snapshot on node " << id_;
    image = *decoded;
  }
  app_ = SimStateMachine();
  app_.Restore(image, initial->conf_state);

  Config config = base;
  config.id = id_;
  config.store = &store_;
  config.applied_index = snapshot->metadata.index;
  config.random_seed = random_seed;
  absl::StatusOr<std::unique_ptr<RawNode>> raw = RawNode::Create(config);
  KEEL_CHECK(raw.ok()) << "node " << id_ << ": " << raw.status();
  raw_node_ = std::move(*raw);
  role_ = Role::kFollower;
  lead_ = kNone;
  term_ = initial->hard_state.term;
  commit_ = initial->hard_state.commit;
  return image;
}

void SimNode::Crash() {
  store_.Crash();
  raw_node_.reset();
  app_ = SimStateMachine();
  reads_.clear();
  armed_crash_.reset();
  role_ = Role::kFollower;
  lead_ = kNone;
}

}  // namespace keel::raft::sim
