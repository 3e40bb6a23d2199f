#include "server/transport/peer_transport.h"

#include <algorithm>
#include <atomic>
#include <iterator>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "asio.hpp"
#include "base/check.h"
#include "base/thread_name.h"
#include "server/transport/connection_host.h"
#include "server/transport/inbound_connection.h"
#include "server/transport/outbound_stream.h"
#include "server/transport/snapshot_sender.h"

namespace keel::transport {

using internal::Counters;

// Threads: the public methods run on any thread and touch only what mu_ guards (the peer
// table, the partition set) plus the streams' own locked queues; everything with a socket or
// a timer lives on the transport thread, reached through asio::post.
class PeerTransport::Impl : public internal::ConnectionHost {
 public:
  Impl(PeerTransportOptions options, PeerTransportCallbacks callbacks)
      : options_(std::move(options)),
        callbacks_(std::move(callbacks)),
        work_(asio::make_work_guard(io_)),
        acceptor_(io_),
        rng_(options_.random_seed != 0 ? options_.random_seed
                                       : 0x9E3779B97F4A7C15ull * (options_.self_id + 1)) {
    KEEL_CHECK(options_.self_id != raft::kNone) << "PeerTransport needs self_id";
    KEEL_CHECK(callbacks_.on_message) << "PeerTransport needs on_message";
    KEEL_CHECK_GE(options_.max_frame_bytes, options_.snapshot_chunk_bytes + kFrameHeaderBytes);
    KEEL_CHECK(options_.snapshot_chunk_bytes > 0);
    KEEL_CHECK(options_.backoff_initial.count() > 0 &&
               options_.backoff_initial <= options_.backoff_max);
  }

  ~Impl() override { Stop(); }

  absl::Status Start() {
    KEEL_CHECK(!started_) << "PeerTransport::Start called twice";
    started_ = true;
    if (Stopping()) return absl::FailedPreconditionError("peer transport: stopped");
    asio::error_code error;
    asio::ip::tcp::resolver resolver(io_);
    auto endpoints = resolver.resolve(options_.listen_host, std::to_string(options_.listen_port),
                                      asio::ip::resolver_base::passive, error);
    if (error || endpoints.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("peer transport: cannot resolve ",
                                                     options_.listen_host, ": ", error.message()));
    }
    asio::ip::tcp::endpoint endpoint = endpoints.begin()->endpoint();
    // reuse_address lets a restarted member bind its old port while connections from its
    // previous life sit in TIME_WAIT.
    acceptor_.open(endpoint.protocol(), error);
    if (!error) acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true), error);
    if (!error) acceptor_.bind(endpoint, error);
    if (!error) acceptor_.listen(asio::socket_base::max_listen_connections, error);
    if (error) {
      asio::error_code ignored;
      acceptor_.close(ignored);
      return absl::UnavailableError(absl::StrCat("peer transport: cannot listen on ",
                                                 options_.listen_host, ":", options_.listen_port,
                                                 ": ", error.message()));
    }
    port_ = acceptor_.local_endpoint().port();
    Accept();
    thread_ = std::thread([this] {
      NameThisThread("keel-raft-io");  // the raft loop runs here too
      io_.run();
    });
    return absl::OkStatus();
  }

  void Stop() {
    std::map<raft::NodeId, std::shared_ptr<internal::OutboundStream>> streams;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      stopping_ = true;
      streams.swap(streams_);
    }
    KEEL_CHECK(std::this_thread::get_id() != thread_.get_id())
        << "PeerTransport::Stop called from a transport callback";
    for (auto& [id, stream] : streams) stream->Close();
    if (thread_.joinable()) {
      // Posted after the streams' own shutdowns, so those run first; stop() then abandons
      // whatever completions are still pending (they are destroyed with io_).
      asio::post(io_, [this] {
        CloseAll();
        io_.stop();
      });
      thread_.join();
    } else {
      CloseAll();
    }
  }

  uint16_t port() const { return port_.load(); }
  asio::io_context& io_context() { return io_; }

  absl::Status AddPeer(raft::NodeId id, std::string address) {
    if (id == raft::kNone || id == options_.self_id) {
      return absl::InvalidArgumentError(absl::StrCat("peer transport: bad peer id ", id));
    }
    std::string host, port;
    if (absl::Status s = internal::SplitHostPort(address, &host, &port); !s.ok()) return s;
    std::shared_ptr<internal::OutboundStream> stream;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return absl::FailedPreconditionError("peer transport: stopped");
      if (streams_.count(id) > 0) {
        return absl::AlreadyExistsError(absl::StrCat("peer transport: peer ", id, " exists"));
      }
      stream = std::make_shared<internal::OutboundStream>(io_, this, id, address);
      streams_[id] = stream;
      addresses_[id] = std::move(address);
    }
    stream->Start();
    return absl::OkStatus();
  }

  absl::Status UpdatePeer(raft::NodeId id, std::string address) {
    std::string host, port;
    if (absl::Status s = internal::SplitHostPort(address, &host, &port); !s.ok()) return s;
    std::shared_ptr<internal::OutboundStream> stream;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = streams_.find(id);
      if (it == streams_.end()) {
        return absl::NotFoundError(absl::StrCat("peer transport: no peer ", id));
      }
      stream = it->second;
      addresses_[id] = address;
    }
    stream->Redial(std::move(address));
    return absl::OkStatus();
  }

  void RemovePeer(raft::NodeId id) {
    std::shared_ptr<internal::OutboundStream> stream;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = streams_.find(id);
      if (it == streams_.end()) return;
      stream = std::move(it->second);
      streams_.erase(it);
      addresses_.erase(id);
    }
    // What raft queued for it before the removal (the commit index of its own removal among
    // it) still goes out: that is how a removed member learns to stop.
    stream->CloseAfterFlush(std::chrono::seconds(1));
  }

  void Send(std::vector<raft::Message> messages) {
    std::shared_ptr<const DropFilter> filter;
    {
      std::lock_guard<std::mutex> lock(mu_);
      filter = drop_filter_;
    }
    // Ordered map: peers are served in a stable order (STYLE.md 11).
    std::map<raft::NodeId, std::vector<raft::Message>> by_peer;
    for (raft::Message& m : messages) {
      KEEL_CHECK(!raft::IsLocalMessage(m.type))
          << "local message sent to the transport: " << raft::DescribeMessage(m);
      const bool filtered = filter && (*filter)(m, Direction::kOutbound);
      if (m.type == raft::MessageType::kSnap) {
        SendSnapshot(std::move(m), filtered);
      } else if (filtered) {
        Counters::Add(counters_.messages_dropped, 1);
      } else {
        by_peer[m.to].push_back(std::move(m));
      }
    }
    for (auto& [peer, batch] : by_peer) {
      std::shared_ptr<internal::OutboundStream> stream;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (!stopping_ && partitioned_.count(peer) == 0) {
          auto it = streams_.find(peer);
          if (it != streams_.end()) stream = it->second;
        }
      }
      if (!stream) {
        // Unknown peer, partitioned or stopped: lost, as on a network that has no route.
        Counters::Add(counters_.messages_dropped, batch.size());
        continue;
      }
      size_t dropped = stream->Enqueue(std::move(batch));
      if (dropped > 0) {
        Counters::Add(counters_.messages_dropped, dropped);
        asio::post(io_, [this, peer = peer] { ReportUnreachable(peer); });
      }
    }
  }

  PeerTransportStats stats() const { return counters_.Snapshot(); }

  bool IsConnected(raft::NodeId peer) const {
    std::shared_ptr<internal::OutboundStream> stream = StreamTo(peer);
    return stream && stream->connected();
  }

  void SetPartitioned(std::set<raft::NodeId> peers) {
    std::lock_guard<std::mutex> lock(mu_);
    partitioned_ = std::move(peers);
  }

  void SetDropFilter(DropFilter drop) {
    std::shared_ptr<const DropFilter> filter;
    if (drop) filter = std::make_shared<const DropFilter>(std::move(drop));
    std::lock_guard<std::mutex> lock(mu_);
    drop_filter_ = std::move(filter);
  }

  void SetCorruptSnapshotsForTest(bool corrupt) {
    std::lock_guard<std::mutex> lock(mu_);
    corrupt_snapshots_ = corrupt;
  }

  // ConnectionHost (transport thread).

  const PeerTransportOptions& options() const override { return options_; }
  Counters& counters() override { return counters_; }

  absl::Status CheckHello(const Hello& hello) override {
    if (hello.protocol_version != kProtocolVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          "peer protocol version ", hello.protocol_version, ", ours is ", kProtocolVersion));
    }
    if (options_.cluster_id == 0 && hello.cluster_id != 0 && hello.to == options_.self_id) {
      // A joining member learns its cluster from the first known peer that dials it.
      std::lock_guard<std::mutex> lock(mu_);
      if (streams_.count(hello.from) > 0) options_.cluster_id = hello.cluster_id;
    }
    if (hello.cluster_id != options_.cluster_id) {
      return absl::PermissionDeniedError(
          absl::StrCat("peer of cluster ", hello.cluster_id, ", ours is ", options_.cluster_id));
    }
    if (hello.to != options_.self_id) {
      return absl::PermissionDeniedError(
          absl::StrCat("hello meant for member ", hello.to, ", this is ", options_.self_id));
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (streams_.count(hello.from) == 0) {
      return absl::PermissionDeniedError(absl::StrCat("unknown member ", hello.from));
    }
    return absl::OkStatus();
  }

  bool RefuseInbound(const raft::Message& message) const override {
    std::shared_ptr<const DropFilter> filter;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_ || partitioned_.count(message.from) > 0 || streams_.count(message.from) == 0) {
        return true;
      }
      filter = drop_filter_;
    }
    return filter && (*filter)(message, Direction::kInbound);
  }

  void Deliver(raft::Message message) override {
    if (!Stopping()) callbacks_.on_message(std::move(message));
  }

  void ReportUnreachable(raft::NodeId peer) override {
    if (!Stopping() && callbacks_.on_unreachable) callbacks_.on_unreachable(peer);
  }

  void ReportSnapshotStatus(raft::NodeId peer, bool ok) override {
    if (!Stopping() && callbacks_.on_snapshot_status) callbacks_.on_snapshot_status(peer, ok);
  }

  void Log(std::string_view event) override {
    if (!Stopping() && callbacks_.on_log) callbacks_.on_log(event);
  }

  std::chrono::milliseconds BackoffDelay(int failures) override {
    KEEL_CHECK_GE(failures, 1);
    const int64_t max_ms = options_.backoff_max.count();
    int64_t delay_ms = options_.backoff_initial.count();
    for (int i = 1; i < failures && delay_ms < max_ms; ++i) delay_ms *= 2;
    delay_ms = std::min(delay_ms, max_ms);
    std::uniform_int_distribution<int64_t> jitter(delay_ms / 2, delay_ms);
    return std::chrono::milliseconds(jitter(rng_));
  }

  void ClaimStream(raft::NodeId peer, StreamKind kind, uint64_t connection_id) override {
    if (std::shared_ptr<internal::OutboundStream> ours = StreamTo(peer)) ours->PeerIsUp();
    auto [it, inserted] = streams_by_peer_.try_emplace({peer, kind}, connection_id);
    if (inserted || it->second == connection_id) return;
    const uint64_t old_id = it->second;
    it->second = connection_id;
    auto old = inbound_.find(old_id);
    if (old == inbound_.end()) return;
    Log(absl::StrCat("peer ", peer, " opened a new ",
                     kind == StreamKind::kMessages ? "message" : "snapshot",
                     " stream; closing its previous one"));
    std::shared_ptr<internal::InboundConnection> connection = old->second;
    connection->Close();
  }

  void InboundClosed(uint64_t connection_id) override {
    inbound_.erase(connection_id);
    for (auto it = streams_by_peer_.begin(); it != streams_by_peer_.end();) {
      it = it->second == connection_id ? streams_by_peer_.erase(it) : std::next(it);
    }
  }
  void SnapshotSenderDone(uint64_t sender_id) override { snapshot_senders_.erase(sender_id); }

 private:
  bool Stopping() const { return stopping_.load(std::memory_order_acquire); }

  // Our message stream to `peer`, or null for a peer we do not know.
  std::shared_ptr<internal::OutboundStream> StreamTo(raft::NodeId peer) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = streams_.find(peer);
    return it == streams_.end() ? nullptr : it->second;
  }

  void Accept() {
    acceptor_.async_accept([this](const asio::error_code& error, asio::ip::tcp::socket socket) {
      if (!acceptor_.is_open()) return;
      if (error) {
        // Out of descriptors and the like: try again shortly rather than spin.
        Log(absl::StrCat("accept: ", error.message()));
        auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(100));
        timer->async_wait([this, timer](const asio::error_code&) {
          if (acceptor_.is_open()) Accept();
        });
        return;
      }
      if (inbound_.size() >= options_.max_inbound_connections) {
        Counters::Add(counters_.connections_rejected, 1);
        Log("inbound connection refused: too many connections");
        asio::error_code ignored;
        socket.close(ignored);
      } else {
        Counters::Add(counters_.connections_accepted, 1);
        uint64_t id = next_id_++;
        auto connection =
            std::make_shared<internal::InboundConnection>(std::move(socket), this, id);
        inbound_[id] = connection;
        connection->Start();
      }
      Accept();
    });
  }

  // Any thread.
  // `filtered`: the drop filter refused it, which is reported like any lost snapshot.
  void SendSnapshot(raft::Message message, bool filtered) {
    const raft::NodeId peer = message.to;
    std::string address;
    bool corrupt = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      auto it = addresses_.find(peer);
      if (!filtered && partitioned_.count(peer) == 0 && it != addresses_.end()) {
        address = it->second;
      }
      corrupt = corrupt_snapshots_;
    }
    if (address.empty()) {
      Counters::Add(counters_.messages_dropped, 1);
      Counters::Add(counters_.snapshot_send_failures, 1);
      asio::post(io_, [this, peer] { ReportSnapshotStatus(peer, false); });
      return;
    }
    asio::post(
        io_, [this, message = std::move(message), address = std::move(address), corrupt]() mutable {
          if (Stopping()) return;
          uint64_t id = next_id_++;
          auto sender = std::make_shared<internal::SnapshotSender>(
              io_, this, id, std::move(address), std::move(message), corrupt);
          snapshot_senders_[id] = sender;
          sender->Start();
        });
  }

  // Transport thread (or the caller's, when the thread never started).
  void CloseAll() {
    asio::error_code ignored;
    acceptor_.close(ignored);
    for (auto& [id, connection] : inbound_) connection->Close(/*quiet=*/true);
    inbound_.clear();
    streams_by_peer_.clear();
    for (auto& [id, sender] : snapshot_senders_) sender->Abort();
    snapshot_senders_.clear();
  }

  // cluster_id may be set once, on the transport thread (a joining member; see the header).
  PeerTransportOptions options_;
  const PeerTransportCallbacks callbacks_;
  Counters counters_;
  // Declared before every member that owns a socket or timer, so it is destroyed after them.
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
  bool started_ = false;  // caller of Start/Stop only
  std::atomic<uint16_t> port_{0};

  mutable std::mutex mu_;
  std::atomic<bool> stopping_{false};  // written under mu_; read anywhere
  std::map<raft::NodeId, std::shared_ptr<internal::OutboundStream>> streams_;  // guarded by mu_
  std::map<raft::NodeId, std::string> addresses_;                              // guarded by mu_
  std::set<raft::NodeId> partitioned_;                                         // guarded by mu_
  bool corrupt_snapshots_ = false;                                             // guarded by mu_
  std::shared_ptr<const DropFilter> drop_filter_;                              // guarded by mu_

  // Transport thread only.
  uint64_t next_id_ = 1;
  std::map<uint64_t, std::shared_ptr<internal::InboundConnection>> inbound_;
  // The current inbound stream of each kind from each peer (see ClaimStream).
  std::map<std::pair<raft::NodeId, StreamKind>, uint64_t> streams_by_peer_;
  std::map<uint64_t, std::shared_ptr<internal::SnapshotSender>> snapshot_senders_;
  std::mt19937_64 rng_;
};

PeerTransport::PeerTransport(PeerTransportOptions options, PeerTransportCallbacks callbacks)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(callbacks))) {}

PeerTransport::~PeerTransport() = default;

absl::Status PeerTransport::Start() { return impl_->Start(); }
void PeerTransport::Stop() { impl_->Stop(); }
uint16_t PeerTransport::port() const { return impl_->port(); }
asio::io_context& PeerTransport::io_context() { return impl_->io_context(); }
absl::Status PeerTransport::AddPeer(raft::NodeId id, std::string address) {
  return impl_->AddPeer(id, std::move(address));
}
absl::Status PeerTransport::UpdatePeer(raft::NodeId id, std::string address) {
  return impl_->UpdatePeer(id, std::move(address));
}
void PeerTransport::RemovePeer(raft::NodeId id) { impl_->RemovePeer(id); }
void PeerTransport::Send(std::vector<raft::Message> messages) { impl_->Send(std::move(messages)); }
PeerTransportStats PeerTransport::stats() const { return impl_->stats(); }
bool PeerTransport::IsConnected(raft::NodeId peer) const { return impl_->IsConnected(peer); }
void PeerTransport::SetPartitioned(std::set<raft::NodeId> peers) {
  impl_->SetPartitioned(std::move(peers));
}
void PeerTransport::SetDropFilter(DropFilter drop) { impl_->SetDropFilter(std::move(drop)); }
void PeerTransport::SetCorruptSnapshotsForTest(bool corrupt) {
  impl_->SetCorruptSnapshotsForTest(corrupt);
}

}  // namespace keel::transport
