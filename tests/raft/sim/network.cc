#include "tests/raft/sim/network.h"

namespace keel::raft::sim {

SimNetwork::SimNetwork(const NetworkOptions& options, SimRandom* random)
    : options_(options), random_(random) {
  KEEL_CHECK(random_ != nullptr);
}

uint64_t SimNetwork::DrawDelay() {
  KEEL_CHECK_LE(options_.min_delay_ticks, options_.max_delay_ticks);
  uint64_t delay = random_->Range(options_.min_delay_ticks, options_.max_delay_ticks);
  if (options_.reorder_extra_ticks > 0 && random_->Chance(options_.reorder_rate)) {
    delay += random_->Range(1, options_.reorder_extra_ticks);
  }
  return delay;
}

void SimNetwork::Enqueue(const Message& message, NodeId sender, uint64_t sender_incarnation,
                         uint64_t due_tick) {
  Envelope envelope;
  envelope.message = message;
  envelope.sender = sender;
  envelope.sender_incarnation = sender_incarnation;
  envelope.due_tick = due_tick;
  queue_.emplace(std::make_pair(due_tick, next_sequence_++), std::move(envelope));
}

void SimNetwork::Send(const Message& message, NodeId sender, uint64_t sender_incarnation,
                      uint64_t now_tick) {
  KEEL_CHECK(!IsLocalMessage(message.type)) << MessageTypeName(message.type);
  ++sent_count_;
  Enqueue(message, sender, sender_incarnation, now_tick + DrawDelay());
  if (random_->Chance(options_.duplicate_rate)) {
    Enqueue(message, sender, sender_incarnation, now_tick + DrawDelay());
  }
}

bool SimNetwork::PopDue(uint64_t now_tick, Envelope* out) {
  if (queue_.empty() || queue_.begin()->first.first > now_tick) return false;
  auto node = queue_.extract(queue_.begin());
  *out = std::move(node.mapped());
  // The loss draw happens for every message, cut or not, so that cutting a link does not
  // shift the random sequence of unrelated deliveries more than necessary.
  bool lost = random_->Chance(options_.loss_rate);
  out->dropped = lost || IsCut(out->sender, out->message.to);
  if (out->dropped) {
    ++dropped_count_;
  } else {
    ++delivered_count_;
  }
  return true;
}

void SimNetwork::Partition(const std::set<NodeId>& a, const std::set<NodeId>& b) {
  CutOneWay(a, b);
  CutOneWay(b, a);
}

void SimNetwork::CutOneWay(const std::set<NodeId>& from, const std::set<NodeId>& to) {
  for (NodeId f : from) {
    for (NodeId t : to) {
      if (f != t) cut_links_.insert({f, t});
    }
  }
}

}  // namespace keel::raft::sim
