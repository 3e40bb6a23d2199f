#include "tests/raft/sim/state_machine.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/raft/sim/random.h"

namespace keel::raft::sim {

uint64_t EntryHash(const Entry& entry) {
  // Eight bytes per step (bytes assembled little-endian by hand, so every platform computes
  // the same value): hashing is what the simulated application does per apply on every node,
  // and byte-at-a-time FNV was most of the replication benchmark's time.
  std::string_view data = entry.data.view();
  uint64_t h = Mix64(static_cast<uint64_t>(entry.type) + 1, data.size());
  size_t i = 0;
  for (; i + 8 <= data.size(); i += 8) {
    uint64_t word = 0;
    for (int b = 7; b >= 0; --b) word = (word << 8) | static_cast<unsigned char>(data[i + b]);
    h = (h ^ word) * 0x9e3779b97f4a7c15ULL;
    h ^= h >> 29;
  }
  uint64_t tail = 0;
  for (size_t b = data.size(); b > i; --b) tail = (tail << 8) | static_cast<unsigned char>(data[b - 1]);
  return Mix64(h, tail);
}

std::string EncodeSnapshotImage(const SnapshotImage& image) {
  return absl::StrCat("sim-snapshot ", image.index, " ", image.digest, " ", image.commands);
}

std::optional<SnapshotImage> DecodeSnapshotImage(std::string_view data) {
  std::vector<absl::string_view> parts =
      absl::StrSplit(absl::string_view(data.data(), data.size()), ' ');
  SnapshotImage image;
  if (parts.size() != 4 || parts[0] != "sim-snapshot" || !absl::SimpleAtoi(parts[1], &image.index) ||
      !absl::SimpleAtoi(parts[2], &image.digest) || !absl::SimpleAtoi(parts[3], &image.commands)) {
    return std::nullopt;
  }
  return image;
}

SnapshotImage SimStateMachine::BootstrapImage() {
  return {kBootstrapIndex, Mix64(0, 0x6b65656c2d73696dULL), 0};
}

void SimStateMachine::Apply(const Entry& entry) {
  applied_index_ = entry.index;
  digest_ = Mix64(digest_, EntryHash(entry));
  if (entry.type == EntryType::kNormal && !entry.data.empty()) ++commands_;
}

void SimStateMachine::Restore(const SnapshotImage& image, const ConfState& conf_state) {
  applied_index_ = image.index;
  digest_ = image.digest;
  commands_ = image.commands;
  conf_state_ = conf_state;
}

}  // namespace keel::raft::sim
