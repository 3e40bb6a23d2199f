// SimStateMachine: the application a simulated node runs on top of raft.
//
// It does not store values; it keeps what the checker needs to decide state machine safety
// cheaply: the applied index, the count of applied commands and a digest chained over every
// applied entry,
//   digest(i) = Mix64(digest(i - 1), EntryHash(entry i)),
// so two nodes with equal digests at index i applied identical sequences 1..i (up to a 64-bit
// hash collision). A snapshot carries (index, digest, commands) so that an installed snapshot
// can be checked against the global sequence as well, and a node restarted from a snapshot
// continues the chain from there.
//
// The cluster bootstraps from a snapshot at index 1 (term 1) holding the initial membership:
// raft keeps no conf change for the initial members in the log, so a node added later must
// learn them from a snapshot, and this makes every new node start that way.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "raft/types.h"

namespace keel::raft::sim {

inline constexpr uint64_t kBootstrapIndex = 1;
inline constexpr uint64_t kBootstrapTerm = 1;

// A 64-bit hash of the entry's type and payload. The term is deliberately left out: the term is
// checked separately, and the digest chain describes what the application saw.
uint64_t EntryHash(const Entry& entry);

struct SnapshotImage {
  uint64_t index = 0;
  uint64_t digest = 0;
  uint64_t commands = 0;
};
std::string EncodeSnapshotImage(const SnapshotImage& image);
std::optional<SnapshotImage> DecodeSnapshotImage(std::string_view data);

class SimStateMachine {
 public:
  // The state at index 0 (nothing applied).
  SimStateMachine() = default;

  // The state the bootstrap snapshot describes.
  static SnapshotImage BootstrapImage();

  // Applies entry `entry` (which must be at applied_index() + 1; the caller checks).
  void Apply(const Entry& entry);
  // Replaces the state by a snapshot's.
  void Restore(const SnapshotImage& image, const ConfState& conf_state);
  SnapshotImage Image() const { return {applied_index_, digest_, commands_}; }

  void set_conf_state(const ConfState& cs) { conf_state_ = cs; }
  // Membership as of applied_index().
  const ConfState& conf_state() const { return conf_state_; }
  uint64_t applied_index() const { return applied_index_; }
  uint64_t digest() const { return digest_; }
  uint64_t commands() const { return commands_; }

 private:
  uint64_t applied_index_ = 0;
  uint64_t digest_ = 0;
  // Non-empty normal entries applied (leader no-ops and conf changes are not commands).
  uint64_t commands_ = 0;
  ConfState conf_state_;
};

}  // namespace keel::raft::sim
