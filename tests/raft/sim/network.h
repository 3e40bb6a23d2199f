// SimNetwork: the simulated network between raft nodes, in virtual ticks.
//
// Every message gets its own delivery delay, drawn uniformly from
// [min_delay_ticks, max_delay_ticks] (so messages overtake each other: reordering), may be
// duplicated when sent, and may be lost when due. Links can be cut one way (asymmetric
// partition) or both ways. Whether a message crosses is decided when it comes due: a message
// whose link is cut at that tick is dropped (including one sent before the cut, as a broken
// TCP connection loses what it had in flight). Heal() restores every link.
//
// Deterministic: the order of delivery is (due tick, send sequence number), and every random
// choice comes from the SimRandom handed in.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "raft/types.h"
#include "tests/raft/sim/random.h"

namespace keel::raft::sim {

struct NetworkOptions {
  uint64_t min_delay_ticks = 1;
  uint64_t max_delay_ticks = 1;
  // Probability that a message due for delivery is dropped instead.
  double loss_rate = 0;
  // Probability that a sent message is delivered twice (the copy has its own delay).
  double duplicate_rate = 0;
  // Probability that a message is held back by up to reorder_extra_ticks more than the usual
  // delay (beyond the reordering that per-message delays already cause).
  double reorder_rate = 0;
  uint64_t reorder_extra_ticks = 0;
};

// A message in flight, with what the receiver side needs to know about its sender.
struct Envelope {
  Message message;
  // The node that put it on the wire. Usually message.from, but a follower forwarding a
  // proposal or read request keeps the original from (as etcd does).
  NodeId sender = kNone;
  // The sender's incarnation when it sent (a restarted node must not get reports about what
  // its previous life sent).
  uint64_t sender_incarnation = 0;
  uint64_t due_tick = 0;
  // Set when the network decided, at the due tick, not to deliver it.
  bool dropped = false;
};

class SimNetwork {
 public:
  SimNetwork(const NetworkOptions& options, SimRandom* random);

  // Queues `message` for delivery at now_tick + delay (a delay of 0 delivers it in the same
  // tick's delivery round).
  void Send(const Message& message, NodeId sender, uint64_t sender_incarnation,
            uint64_t now_tick);

  // Removes and returns the next message due at or before now_tick, in delivery order, or
  // false when there is none. Lost messages and messages on a cut link come out with
  // `dropped` set so the caller can report them to the sender (MsgSnap needs that).
  bool PopDue(uint64_t now_tick, Envelope* out);

  // Cuts every link between the two groups, both ways.
  void Partition(const std::set<NodeId>& a, const std::set<NodeId>& b);
  // Cuts links from every node of `from` to every node of `to`; the other direction works.
  void CutOneWay(const std::set<NodeId>& from, const std::set<NodeId>& to);
  void CutLink(NodeId from, NodeId to) { cut_links_.insert({from, to}); }
  // Restores every link.
  void Heal() { cut_links_.clear(); }
  bool IsCut(NodeId from, NodeId to) const { return cut_links_.count({from, to}) > 0; }
  bool HasCuts() const { return !cut_links_.empty(); }

  void set_options(const NetworkOptions& options) { options_ = options; }
  const NetworkOptions& options() const { return options_; }
  size_t in_flight() const { return queue_.size(); }
  uint64_t sent_count() const { return sent_count_; }
  uint64_t delivered_count() const { return delivered_count_; }
  uint64_t dropped_count() const { return dropped_count_; }

 private:
  void Enqueue(const Message& message, NodeId sender, uint64_t sender_incarnation,
               uint64_t due_tick);
  uint64_t DrawDelay();

  NetworkOptions options_;
  SimRandom* random_;
  // Keyed by (due tick, sequence number): an ordered map makes the delivery order a function
  // of the seed alone.
  std::map<std::pair<uint64_t, uint64_t>, Envelope> queue_;
  uint64_t next_sequence_ = 0;
  std::set<std::pair<NodeId, NodeId>> cut_links_;
  uint64_t sent_count_ = 0;
  uint64_t delivered_count_ = 0;
  uint64_t dropped_count_ = 0;
};

}  // namespace keel::raft::sim
