// PeerTransport on real sockets: transports on ephemeral 127.0.0.1 ports exchanging batches,
// reconnecting after a restart, streaming snapshots, partitioning and healing, and shrugging
// off hostile bytes. Every wait is on a condition with a deadline.
#include "server/transport/peer_transport.h"

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "asio.hpp"
#include "gtest/gtest.h"
#include "server/transport/frame_codec.h"

namespace keel::transport {
namespace {

using namespace std::chrono_literals;
using raft::Message;
using raft::MessageType;
using raft::NodeId;

constexpr uint64_t kCluster = 0xC1;
constexpr auto kDeadline = 5s;

std::string Address(uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

// A message whose `index` numbers it, so tests can check order and loss.
Message Numbered(NodeId from, NodeId to, uint64_t n) {
  Message m;
  m.type = n % 3 == 0 ? MessageType::kHeartbeat : MessageType::kApp;
  m.from = from;
  m.to = to;
  m.term = 1;
  m.index = n;
  if (m.type == MessageType::kApp) {
    m.entries.push_back(
        raft::Entry{1, n, raft::EntryType::kNormal, raft::Bytes("entry-" + std::to_string(n))});
  }
  return m;
}

Message Snap(NodeId from, NodeId to, std::string data) {
  Message m;
  m.type = MessageType::kSnap;
  m.from = from;
  m.to = to;
  m.term = 2;
  raft::Snapshot s;
  s.metadata.index = 500;
  s.metadata.term = 2;
  s.metadata.conf_state.voters = {1, 2, 3};
  s.data = raft::Bytes(std::move(data));
  m.snapshot = std::move(s);
  return m;
}

// One member's transport plus a record of everything its callbacks reported.
class Member {
 public:
  explicit Member(NodeId id, uint16_t port = 0,
                  std::function<void(PeerTransportOptions&)> tweak = nullptr,
                  uint64_t cluster = kCluster)
      : id_(id) {
    PeerTransportOptions options;
    options.self_id = id;
    options.cluster_id = cluster;
    options.listen_port = port;
    options.backoff_initial = 10ms;
    options.backoff_max = 100ms;
    if (tweak) tweak(options);
    PeerTransportCallbacks callbacks;
    callbacks.on_message = [this](Message m) {
      Record([&] { received_.push_back(std::move(m)); });
    };
    callbacks.on_snapshot_status = [this](NodeId peer, bool ok) {
      Record([&] { snapshot_status_.push_back({peer, ok}); });
    };
    callbacks.on_unreachable = [this](NodeId peer) { Record([&] { ++unreachable_[peer]; }); };
    transport_ = std::make_unique<PeerTransport>(options, std::move(callbacks));
  }

  void Start() { ASSERT_TRUE(transport_->Start().ok()); }
  PeerTransport& t() { return *transport_; }
  NodeId id() const { return id_; }
  uint16_t port() const { return transport_->port(); }
  std::string address() const { return Address(port()); }

  // Waits until `done` holds (checked on every callback and every few milliseconds, for
  // conditions on stats or connection state); false at the deadline.
  bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout = kDeadline) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::unique_lock<std::mutex> lock(mu_);
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      cv_.wait_for(lock, 2ms);
    }
    return true;
  }
  // Same, for conditions that take mu_ themselves.
  bool WaitUntilUnlocked(const std::function<bool()>& done,
                         std::chrono::milliseconds timeout = kDeadline) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, 2ms);
    }
    return true;
  }

  bool WaitForMessages(size_t n) {
    return WaitUntil([&] { return received_.size() >= n; });
  }
  std::vector<Message> received() {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }
  std::vector<std::pair<NodeId, bool>> snapshot_status() {
    std::lock_guard<std::mutex> lock(mu_);
    return snapshot_status_;
  }
  int unreachable(NodeId peer) {
    std::lock_guard<std::mutex> lock(mu_);
    return unreachable_[peer];
  }
  void ClearReceived() {
    std::lock_guard<std::mutex> lock(mu_);
    received_.clear();
  }

  // Guarded by mu_ (for WaitUntil predicates).
  std::vector<Message> received_;
  std::vector<std::pair<NodeId, bool>> snapshot_status_;
  std::map<NodeId, int> unreachable_;

 private:
  void Record(const std::function<void()>& f) {
    std::lock_guard<std::mutex> lock(mu_);
    f();
    cv_.notify_all();
  }

  NodeId id_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::unique_ptr<PeerTransport> transport_;
};

// Makes a and b peers and waits until each has accepted the other's connection: until then
// messages may be dropped (a dial that beats the other side's AddPeer is refused and retried).
void Connect(Member& a, Member& b) {
  ASSERT_TRUE(a.t().AddPeer(b.id(), b.address()).ok());
  ASSERT_TRUE(b.t().AddPeer(a.id(), a.address()).ok());
  ASSERT_TRUE(
      a.WaitUntilUnlocked([&] { return a.t().IsConnected(b.id()) && b.t().IsConnected(a.id()); }));
}

std::vector<uint64_t> Indexes(const std::vector<Message>& messages, NodeId from) {
  std::vector<uint64_t> out;
  for (const Message& m : messages) {
    if (m.from == from) out.push_back(m.index);
  }
  return out;
}

std::vector<uint64_t> Range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> out;
  for (uint64_t i = first; i <= last; ++i) out.push_back(i);
  return out;
}

// Sends numbered messages from..to (inclusive) from `a` to `b` in batches of `batch`.
void SendRange(Member& a, NodeId to, uint64_t first, uint64_t last, size_t batch = 7) {
  std::vector<Message> pending;
  for (uint64_t n = first; n <= last; ++n) {
    pending.push_back(Numbered(a.id(), to, n));
    if (pending.size() == batch || n == last) a.t().Send(std::move(pending)), pending.clear();
  }
}

TEST(PeerTransport, TwoMembersExchangeBatchesInOrder) {
  Member a(1), b(2);
  a.Start();
  b.Start();
  EXPECT_NE(a.port(), 0);
  Connect(a, b);
  SendRange(a, 2, 1, 500);
  SendRange(b, 1, 1, 300);
  ASSERT_TRUE(b.WaitForMessages(500));
  ASSERT_TRUE(a.WaitForMessages(300));
  EXPECT_EQ(Indexes(b.received(), 1), Range(1, 500));
  EXPECT_EQ(Indexes(a.received(), 2), Range(1, 300));
  // Contents survive, not just order.
  EXPECT_EQ(b.received()[1], Numbered(1, 2, 2));
  EXPECT_EQ(b.received()[2], Numbered(1, 2, 3));
  PeerTransportStats sa = a.t().stats();
  EXPECT_EQ(sa.messages_sent, 500u);
  EXPECT_EQ(sa.messages_received, 300u);
  EXPECT_EQ(sa.messages_dropped, 0u);
  EXPECT_GT(sa.bytes_sent, 0u);
  EXPECT_EQ(b.t().stats().messages_received, 500u);
}

TEST(PeerTransport, ThreeMembersExchangeWithEveryPeer) {
  Member m1(1), m2(2), m3(3);
  std::vector<Member*> all = {&m1, &m2, &m3};
  for (Member* m : all) m->Start();
  Connect(m1, m2);
  Connect(m1, m3);
  Connect(m2, m3);
  // Each Send mixes destinations: the transport splits it per peer.
  for (uint64_t n = 1; n <= 200; n += 4) {
    for (Member* from : all) {
      std::vector<Message> batch;
      for (uint64_t k = n; k < n + 4; ++k) {
        for (Member* to : all) {
          if (to != from) batch.push_back(Numbered(from->id(), to->id(), k));
        }
      }
      from->t().Send(std::move(batch));
    }
  }
  for (Member* m : all) ASSERT_TRUE(m->WaitForMessages(400)) << m->id();
  for (Member* to : all) {
    for (Member* from : all) {
      if (from != to) {
        EXPECT_EQ(Indexes(to->received(), from->id()), Range(1, 200));
      }
    }
  }
}

TEST(PeerTransport, ReconnectsAfterPeerRestartAndDeliveryResumes) {
  Member a(1);
  auto b = std::make_unique<Member>(2);
  a.Start();
  b->Start();
  Connect(a, *b);
  SendRange(a, 2, 1, 50);
  ASSERT_TRUE(b->WaitForMessages(50));

  const uint16_t port = b->port();
  b.reset();  // stops and destroys: the connection drops
  ASSERT_TRUE(a.WaitUntil([&] { return a.unreachable_[2] > 0; }))
      << "the dropped connection is reported";

  b = std::make_unique<Member>(2, port);
  b->Start();
  ASSERT_TRUE(b->t().AddPeer(1, a.address()).ok());
  // Until a redials, messages are dropped: keep sending until one gets through.
  uint64_t n = 1000;
  ASSERT_TRUE(b->WaitUntilUnlocked([&] {
    a.t().Send({Numbered(1, 2, ++n)});
    return !b->received().empty();
  }));
  EXPECT_TRUE(a.t().IsConnected(2));
  // From here on nothing is lost and order holds.
  const uint64_t first = b->received().front().index;
  SendRange(a, 2, n + 1, n + 100);
  ASSERT_TRUE(
      b->WaitUntil([&] { return !b->received_.empty() && b->received_.back().index == n + 100; }));
  EXPECT_EQ(Indexes(b->received(), 1), Range(first, n + 100));
  EXPECT_GT(a.t().stats().dials, 1u);
}

TEST(PeerTransport, APeerThatDialsUsIsRedialedAtOnceInsteadOfAfterTheBackoff) {
  // a backs off for 30-60 s after a failure: far past the test's deadline.
  Member a(1, 0, [](PeerTransportOptions& o) { o.backoff_initial = o.backoff_max = 60s; });
  auto b = std::make_unique<Member>(2);
  a.Start();
  b->Start();
  Connect(a, *b);
  const uint16_t port = b->port();
  b.reset();
  ASSERT_TRUE(a.WaitUntil([&] { return a.unreachable_[2] > 0; }));
  ASSERT_FALSE(a.t().IsConnected(2));

  b = std::make_unique<Member>(2, port);  // back on its address: it dials a
  b->Start();
  ASSERT_TRUE(b->t().AddPeer(1, a.address()).ok());
  ASSERT_TRUE(a.WaitUntilUnlocked([&] { return a.t().IsConnected(2); }))
      << "a waited out its backoff although b had dialed it";
  uint64_t n = 0;
  ASSERT_TRUE(b->WaitUntilUnlocked([&] {
    a.t().Send({Numbered(1, 2, ++n)});
    return !b->received().empty();
  }));
}

TEST(PeerTransport, UpdatePeerRedialsTheNewAddress) {
  Member a(1);
  auto b = std::make_unique<Member>(2);
  a.Start();
  b->Start();
  Connect(a, *b);
  ASSERT_TRUE(a.WaitUntilUnlocked([&] { return a.t().IsConnected(2); }));
  b.reset();
  b = std::make_unique<Member>(2);  // another ephemeral port
  b->Start();
  ASSERT_TRUE(b->t().AddPeer(1, a.address()).ok());
  ASSERT_TRUE(a.t().UpdatePeer(2, b->address()).ok());
  uint64_t n = 0;
  ASSERT_TRUE(b->WaitUntilUnlocked([&] {
    a.t().Send({Numbered(1, 2, ++n)});
    return !b->received().empty();
  }));
  EXPECT_EQ(a.t().UpdatePeer(9, "127.0.0.1:1").code(), absl::StatusCode::kNotFound);
}

TEST(PeerTransport, StreamsA5MiBSnapshotIntact) {
  Member a(1), b(2);
  a.Start();
  b.Start();
  Connect(a, b);
  std::string data(5 << 20, '\0');
  std::mt19937_64 rng(99);
  for (char& c : data) c = static_cast<char>(rng());
  Message snap = Snap(1, 2, data);
  // A snapshot and ordinary messages in one Send: they travel on different connections.
  a.t().Send({Numbered(1, 2, 1), snap, Numbered(1, 2, 2)});
  ASSERT_TRUE(a.WaitUntil([&] { return !a.snapshot_status_.empty(); }));
  EXPECT_EQ(a.snapshot_status(), (std::vector<std::pair<NodeId, bool>>{{2, true}}));
  ASSERT_TRUE(b.WaitForMessages(3));
  std::vector<Message> got = b.received();
  const Message* received_snap = nullptr;
  for (const Message& m : got) {
    if (m.type == MessageType::kSnap) received_snap = &m;
  }
  ASSERT_NE(received_snap, nullptr);
  EXPECT_EQ(*received_snap, snap);  // metadata and all 5 MiB
  EXPECT_EQ(Indexes(got, 1).size(), 3u);
  EXPECT_EQ(a.t().stats().snapshots_sent, 1u);
  EXPECT_EQ(b.t().stats().snapshots_received, 1u);
  EXPECT_GT(a.t().stats().bytes_sent, uint64_t{5} << 20);
}

TEST(PeerTransport, CorruptedSnapshotIsRejectedAndReportedFailed) {
  Member a(1), b(2);
  a.Start();
  b.Start();
  Connect(a, b);
  a.t().SetCorruptSnapshotsForTest(true);
  a.t().Send({Snap(1, 2, std::string(3 << 20, 's'))});
  ASSERT_TRUE(a.WaitUntil([&] { return !a.snapshot_status_.empty(); }));
  EXPECT_EQ(a.snapshot_status(), (std::vector<std::pair<NodeId, bool>>{{2, false}}));
  EXPECT_TRUE(b.received().empty());
  EXPECT_EQ(b.t().stats().snapshot_receive_failures, 1u);
  EXPECT_EQ(a.t().stats().snapshot_send_failures, 1u);

  // The next, intact, snapshot goes through.
  a.t().SetCorruptSnapshotsForTest(false);
  a.t().Send({Snap(1, 2, "small")});
  ASSERT_TRUE(b.WaitForMessages(1));
  EXPECT_EQ(b.received()[0].snapshot->data.str(), "small");
}

TEST(PeerTransport, SnapshotToUnknownOrDeadPeerIsReportedFailed) {
  Member a(1);
  a.Start();
  a.t().Send({Snap(1, 7, "x")});  // never added
  ASSERT_TRUE(a.WaitUntil([&] { return a.snapshot_status_.size() == 1; }));
  // A listener that is gone: bind a port, close it, point the peer there.
  uint16_t dead_port;
  {
    asio::io_context io;
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    dead_port = acceptor.local_endpoint().port();
  }
  ASSERT_TRUE(a.t().AddPeer(8, Address(dead_port)).ok());
  a.t().Send({Snap(1, 8, "x")});
  ASSERT_TRUE(a.WaitUntil([&] { return a.snapshot_status_.size() == 2; }));
  EXPECT_EQ(a.snapshot_status(), (std::vector<std::pair<NodeId, bool>>{{7, false}, {8, false}}));
  EXPECT_GT(a.unreachable(8), 0);
}

TEST(PeerTransport, PartitionDropsBothWaysThenHeals) {
  Member a(1), b(2);
  a.Start();
  b.Start();
  Connect(a, b);
  SendRange(a, 2, 1, 10);
  SendRange(b, 1, 1, 10);
  ASSERT_TRUE(b.WaitForMessages(10));
  ASSERT_TRUE(a.WaitForMessages(10));

  a.t().SetPartitioned({2});  // one side's hook cuts both directions
  const uint64_t a_dropped = a.t().stats().messages_dropped;
  SendRange(a, 2, 11, 20);
  SendRange(b, 1, 11, 20);
  // b's messages reach a's socket and are dropped there.
  ASSERT_TRUE(
      a.WaitUntilUnlocked([&] { return a.t().stats().messages_dropped >= a_dropped + 20; }));
  a.t().Send({Snap(1, 2, "during partition")});
  ASSERT_TRUE(a.WaitUntil([&] { return !a.snapshot_status_.empty(); }));
  EXPECT_FALSE(a.snapshot_status()[0].second);

  a.t().SetPartitioned({});
  SendRange(a, 2, 21, 30);
  SendRange(b, 1, 21, 30);
  ASSERT_TRUE(b.WaitForMessages(20));
  ASSERT_TRUE(a.WaitForMessages(20));
  std::vector<uint64_t> expected = Range(1, 10);
  for (uint64_t i = 21; i <= 30; ++i) expected.push_back(i);
  EXPECT_EQ(Indexes(b.received(), 1), expected);
  EXPECT_EQ(Indexes(a.received(), 2), expected);
}

TEST(PeerTransport, DropFilterCutsOneDirection) {
  Member a(1), b(2);
  a.Start();
  b.Start();
  Connect(a, b);
  // a no longer hears b's heartbeats, and its appends to b are lost; all else flows.
  a.t().SetDropFilter([](const Message& m, PeerTransport::Direction d) {
    return (d == PeerTransport::Direction::kInbound && m.type == MessageType::kHeartbeat) ||
           (d == PeerTransport::Direction::kOutbound && m.type == MessageType::kApp);
  });
  SendRange(a, 2, 1, 30);  // every third is a heartbeat
  SendRange(b, 1, 1, 30);
  ASSERT_TRUE(b.WaitForMessages(10));
  ASSERT_TRUE(a.WaitForMessages(20));
  std::vector<uint64_t> heartbeats, appends;
  for (uint64_t i = 1; i <= 30; ++i) (i % 3 == 0 ? heartbeats : appends).push_back(i);
  ASSERT_TRUE(a.WaitUntilUnlocked([&] { return a.t().stats().messages_dropped >= 30; }));
  EXPECT_EQ(Indexes(b.received(), 1), heartbeats);
  EXPECT_EQ(Indexes(a.received(), 2), appends);

  a.t().SetDropFilter(nullptr);
  SendRange(a, 2, 31, 31);
  ASSERT_TRUE(b.WaitForMessages(11));
}

TEST(PeerTransport, FullQueueDropsAndReportsUnreachable) {
  Member a(1, 0, [](PeerTransportOptions& o) { o.max_queued_messages = 8; });
  Member b(2);
  b.Start();
  // Before a starts its thread nothing drains the queue, so the bound is exact. (a has no
  // port yet; b only needs to know member 1 exists to accept its connection.)
  ASSERT_TRUE(a.t().AddPeer(2, b.address()).ok());
  ASSERT_TRUE(b.t().AddPeer(1, "127.0.0.1:1").ok());
  SendRange(a, 2, 1, 20, /*batch=*/20);
  EXPECT_EQ(a.t().stats().messages_dropped, 12u);
  a.Start();
  ASSERT_TRUE(b.WaitForMessages(8));
  EXPECT_EQ(Indexes(b.received(), 1), Range(1, 8));
  ASSERT_TRUE(a.WaitUntil([&] { return a.unreachable_[2] > 0; }));
}

TEST(PeerTransport, MessagesToUnknownPeersAreDropped) {
  Member a(1);
  a.Start();
  a.t().Send({Numbered(1, 5, 1), Numbered(1, 5, 2)});
  EXPECT_EQ(a.t().stats().messages_dropped, 2u);
  EXPECT_EQ(a.t().AddPeer(1, "127.0.0.1:1").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(a.t().AddPeer(2, "no-port").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(a.t().AddPeer(2, "127.0.0.1:1").ok());
  EXPECT_EQ(a.t().AddPeer(2, "127.0.0.1:1").code(), absl::StatusCode::kAlreadyExists);
}

TEST(PeerTransport, RefusesPeersOfAnotherClusterAndUnknownMembers) {
  Member a(1), stranger(3), other_cluster(2, 0, nullptr, kCluster + 1);
  a.Start();
  stranger.Start();
  other_cluster.Start();
  ASSERT_TRUE(a.t().AddPeer(2, other_cluster.address()).ok());
  ASSERT_TRUE(other_cluster.t().AddPeer(1, a.address()).ok());
  ASSERT_TRUE(stranger.t().AddPeer(1, a.address()).ok());  // a does not know member 3
  uint64_t n = 0;
  ASSERT_TRUE(a.WaitUntilUnlocked([&] {
    other_cluster.t().Send({Numbered(2, 1, ++n)});
    stranger.t().Send({Numbered(3, 1, n)});
    return a.t().stats().connections_rejected >= 2;
  }));
  EXPECT_TRUE(a.received().empty());
}

TEST(PeerTransport, MessagesFromARemovedPeerAreDropped) {
  Member a(1), b(2);
  a.Start();
  b.Start();
  Connect(a, b);
  SendRange(b, 1, 1, 5);
  ASSERT_TRUE(a.WaitForMessages(5));
  a.t().RemovePeer(2);
  EXPECT_FALSE(a.t().IsConnected(2));
  // b's connection to a stays up; a drops what arrives on it.
  SendRange(b, 1, 6, 10);
  ASSERT_TRUE(a.WaitUntilUnlocked([&] { return a.t().stats().messages_dropped >= 5; }));
  EXPECT_EQ(a.received().size(), 5u);
}

TEST(PeerTransport, WhatWasQueuedBeforeARemovalStillReachesTheRemovedPeer) {
  // The last messages to a removed member carry the commit of its own removal: without them
  // it never learns to stop.
  Member a(1), b(2);
  a.Start();
  b.Start();
  Connect(a, b);
  SendRange(a, 2, 1, 2000, 100);
  a.t().RemovePeer(2);
  ASSERT_TRUE(b.WaitForMessages(2000)) << "got " << b.received().size();
  EXPECT_EQ(Indexes(b.received(), 1), Range(1, 2000));
  // Then the stream closes for good, and later messages are not sent.
  ASSERT_TRUE(a.WaitUntilUnlocked([&] { return !a.t().IsConnected(2); }));
  SendRange(a, 2, 2001, 2005);
  ASSERT_TRUE(a.WaitUntilUnlocked([&] { return a.t().stats().messages_dropped >= 5; }));
  EXPECT_EQ(b.received().size(), 2000u);
}

// A raw client socket for feeding the listener bytes no transport would send.
class RawClient {
 public:
  explicit RawClient(uint16_t port) : socket_(io_) {
    socket_.connect({asio::ip::make_address("127.0.0.1"), port});
  }
  void Write(std::string_view bytes) {
    asio::write(socket_, asio::buffer(bytes.data(), bytes.size()));
  }
  // True when the server closes the connection within `timeout` (reading and discarding
  // whatever it sends first). May be called again after a false answer.
  bool ClosedByPeer(std::chrono::milliseconds timeout = kDeadline) {
    if (!reading_) {
      reading_ = true;
      Read();
    }
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!closed_ && std::chrono::steady_clock::now() < deadline) {
      io_.restart();
      io_.run_one_until(deadline);
    }
    return closed_;
  }

 private:
  void Read() {
    socket_.async_read_some(asio::buffer(buffer_), [this](const asio::error_code& error, size_t) {
      if (error) {
        closed_ = true;
      } else {
        Read();
      }
    });
  }

  asio::io_context io_;
  asio::ip::tcp::socket socket_;
  char buffer_[256];
  bool reading_ = false;
  bool closed_ = false;
};

std::string HelloFrame(uint64_t cluster, NodeId from, NodeId to,
                       StreamKind stream = StreamKind::kMessages) {
  std::string out;
  AppendHelloFrame(Hello{kProtocolVersion, cluster, from, to, stream}, &out);
  return out;
}

TEST(PeerTransport, HostileBytesDoNotCrashTheListener) {
  Member a(1, 0, [](PeerTransportOptions& o) { o.max_frame_bytes = 2 << 20; });
  Member b(2);
  a.Start();
  b.Start();
  ASSERT_TRUE(a.t().AddPeer(2, b.address()).ok());

  std::mt19937_64 rng(5);
  std::string random(4096, '\0');
  for (char& c : random) c = static_cast<char>(rng());
  Message hup;
  hup.type = MessageType::kHup;
  hup.from = 2;
  hup.to = 1;
  std::string hup_batch;
  AppendMessagesFrame({hup}, &hup_batch);
  std::string forged;  // a message claiming to come from a member other than the Hello's
  AppendMessagesFrame({Numbered(3, 1, 1)}, &forged);
  std::string huge_snapshot;
  Message snap = Snap(2, 1, "");
  AppendSnapshotHeaderFrame(SnapshotHeader{snap, uint64_t{1} << 40}, &huge_snapshot);
  std::string chunk_without_header;
  AppendSnapshotChunkFrame("data", &chunk_without_header);
  std::string overlong_chunks;
  AppendSnapshotHeaderFrame(SnapshotHeader{snap, 3}, &overlong_chunks);
  AppendSnapshotChunkFrame("four", &overlong_chunks);

  const std::vector<std::string> attacks = {
      "GET / HTTP/1.1\r\nHost: keel\r\n\r\n",
      random,
      std::string("\x00\x00\x00\x00", 4),
      std::string("\x7f\xff\xff\xff", 4) + "x",
      HelloFrame(kCluster + 1, 2, 1),          // another cluster
      HelloFrame(kCluster, 9, 1),              // unknown member
      HelloFrame(kCluster, 2, 5),              // meant for someone else
      HelloFrame(kCluster, 2, 1) + hup_batch,  // a local message type
      HelloFrame(kCluster, 2, 1) + forged,     // a forged sender
      HelloFrame(kCluster, 2, 1) + HelloFrame(kCluster, 2, 1),
      HelloFrame(kCluster, 2, 1, StreamKind::kSnapshot) + huge_snapshot,
      HelloFrame(kCluster, 2, 1, StreamKind::kSnapshot) + chunk_without_header,
      HelloFrame(kCluster, 2, 1, StreamKind::kSnapshot) + overlong_chunks,
  };
  for (size_t i = 0; i < attacks.size(); ++i) {
    RawClient client(a.port());
    client.Write(attacks[i]);
    EXPECT_TRUE(client.ClosedByPeer()) << "attack " << i;
  }
  EXPECT_GE(a.t().stats().connections_rejected, attacks.size());
  EXPECT_TRUE(a.received().empty());

  // Still serving: a real peer gets through.
  ASSERT_TRUE(b.t().AddPeer(1, a.address()).ok());
  SendRange(b, 1, 1, 10);
  ASSERT_TRUE(a.WaitForMessages(10));
  EXPECT_EQ(Indexes(a.received(), 2), Range(1, 10));
}

TEST(PeerTransport, NewStreamFromAPeerReplacesItsOldOne) {
  // A peer that crashed (or was cut off) may leave its old connection half-open; when it
  // dials again, the old one goes.
  Member a(1);
  a.Start();
  ASSERT_TRUE(a.t().AddPeer(2, "127.0.0.1:1").ok());
  RawClient first(a.port());
  first.Write(HelloFrame(kCluster, 2, 1));
  EXPECT_FALSE(first.ClosedByPeer(50ms));  // a valid stream stays open
  RawClient second(a.port());
  second.Write(HelloFrame(kCluster, 2, 1));
  EXPECT_TRUE(first.ClosedByPeer());
  EXPECT_FALSE(second.ClosedByPeer(50ms));
}

TEST(PeerTransport, SilentConnectionIsClosedAfterHelloTimeout) {
  Member a(1, 0, [](PeerTransportOptions& o) { o.hello_timeout = 50ms; });
  a.Start();
  RawClient client(a.port());
  client.Write(std::string("\x00\x00", 2));  // half a length, then nothing
  EXPECT_TRUE(client.ClosedByPeer());
}

TEST(PeerTransport, StopIsCleanWithTrafficInFlight) {
  auto a = std::make_unique<Member>(1);
  Member b(2);
  a->Start();
  b.Start();
  Connect(*a, b);
  SendRange(*a, 2, 1, 2000, 50);
  a->t().Send({Snap(1, 2, std::string(2 << 20, 'z'))});
  a->t().Stop();
  a->t().Stop();                        // idempotent
  a->t().Send({Numbered(1, 2, 5000)});  // dropped, no crash
  EXPECT_EQ(a->t().AddPeer(3, "127.0.0.1:1").code(), absl::StatusCode::kFailedPrecondition);
  a.reset();
  // b notices and keeps working; destroying a transport that never started is fine too.
  Member never_started(3);
  ASSERT_TRUE(never_started.t().AddPeer(2, b.address()).ok());
}

}  // namespace
}  // namespace keel::transport
