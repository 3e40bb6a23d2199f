#include "server/member.h"

#include <algorithm>
#include <future>
#include <cstdio>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "base/big_endian.h"
#include "base/check.h"
#include "base/etcd_errors.h"
#include "base/thread_name.h"
#include "server/url.h"

namespace keel::server {
namespace {

constexpr char kIdentityKey[] = "identity";
constexpr char kClusterKey[] = "cluster";
constexpr auto kRequestTimeout = std::chrono::seconds(7);
constexpr auto kHousekeepingInterval = std::chrono::milliseconds(100);

// --auto-compaction-retention for periodic mode: "1h", "30m", "10s", or a bare number of hours.
absl::StatusOr<absl::Duration> ParseRetention(const std::string& text) {
  int64_t hours = 0;
  if (absl::SimpleAtoi(text, &hours)) return absl::Hours(hours);
  absl::Duration d;
  if (absl::ParseDuration(text, &d)) return d;
  return absl::InvalidArgumentError(absl::StrCat("invalid --auto-compaction-retention: ", text));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Member>> Member::Start(const ServerConfig& config) {
  std::unique_ptr<Member> member(new Member(config));
  absl::Status st = member->Init();
  if (!st.ok()) {
    member->Stop();
    return st;
  }
  return member;
}

absl::Status Member::Init() {
  if (config_.data_dir.empty()) config_.data_dir = config_.name + ".keel";
  if (config_.heartbeat_interval_ms <= 0 ||
      config_.election_timeout_ms < 5 * config_.heartbeat_interval_ms) {
    return absl::InvalidArgumentError(
        "--election-timeout must be at least 5 times --heartbeat-interval");
  }
  if (config_.auto_compaction_retention != "0" && !config_.auto_compaction_retention.empty()) {
    if (config_.auto_compaction_mode == "periodic") {
      auto d = ParseRetention(config_.auto_compaction_retention);
      if (!d.ok()) return d.status();
      auto_compaction_ = kv::AutoCompactionPolicy::Periodic(*d);
    } else if (config_.auto_compaction_mode == "revision") {
      int64_t n = 0;
      if (!absl::SimpleAtoi(config_.auto_compaction_retention, &n) || n <= 0) {
        return absl::InvalidArgumentError("invalid --auto-compaction-retention for revision mode");
      }
      auto_compaction_ = kv::AutoCompactionPolicy::Revision(n);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown --auto-compaction-mode: ", config_.auto_compaction_mode));
    }
  }

  kv::MvccStoreOptions kv_options;
  kv_options.max_txn_ops = config_.max_txn_ops;
  kv_options.value_cache_bytes = static_cast<size_t>(std::max<int64_t>(0, config_.value_cache_bytes));
  auto storage = MemberStorage::Open(config_.data_dir, std::move(kv_options));
  if (!storage.ok()) return storage.status();
  storage_ = std::move(*storage);
  absl::Status st = LoadOrBootstrapIdentity();
  if (!st.ok()) return st;

  alarms_ = std::make_unique<Alarms>(storage_.get());
  waits_ = std::make_unique<WaitRegistry>(ctx_.member_id);
  snapshot_executor_ = std::make_unique<TaskQueue>(2, 4096, "keel-snap-dump");
  // The hub starts at the store's revision before the applier runs, so it is published
  // every revision after it (entries re-applied at start-up included).
  watch_history_ = std::make_unique<watch::KvHistory>(&storage_->kv());
  watch_hub_ = std::make_unique<watch::WatchHub>(watch_history_.get(),
                                                 storage_->kv().CurrentRevision());
  Applier::Hooks applier_hooks;
  applier_hooks.run_replies = [this](std::function<void()> task) {
    RunOnRpcLoop(std::move(task));
  };
  applier_hooks.on_applied = [this](uint64_t applied) {
    if (reads_) reads_->OnApplied(applied);
  };
  applier_hooks.on_conf_change = [this](const raft::ConfChange& cc, uint64_t index) {
    OnConfChangeApplied(cc, index);
  };
  applier_hooks.on_events = [this](int64_t revision, std::vector<mvccpb::Event> events) {
    watch_hub_->Publish(revision, std::move(events));
  };
  Lessor::Options lessor_options;
  lessor_options.election_timeout = std::chrono::milliseconds(config_.election_timeout_ms);
  lessor_options.checkpoint_interval =
      std::chrono::milliseconds(config_.lease_checkpoint_interval_ms);
  lessor_ = std::make_unique<Lessor>(
      lessor_options, &storage_->kv(), [this](serverpb::Request r, WaitRegistry::Callback done) {
        proposer_->Propose(std::move(r), std::move(done));
      });
  lessor_->Reload();
  applier_ = std::make_unique<Applier>(&storage_->kv(), alarms_.get(), membership_.get(),
                                       lessor_.get(), waits_.get(), std::move(applier_hooks),
                                       static_cast<size_t>(
                                           std::max<int64_t>(0, config_.inline_apply_max_entries)));

  raft::Config rc;
  rc.id = ctx_.member_id;
  rc.heartbeat_interval_ticks = 1;
  rc.election_timeout_ticks = config_.election_timeout_ms / config_.heartbeat_interval_ms;
  rc.applied_index = storage_->kv().AppliedIndex();
  rc.check_quorum = true;
  rc.pre_vote = true;
  rc.max_size_per_msg_bytes = 1024 * 1024;
  rc.max_inflight_msgs = 512;
  rc.random_seed = std::random_device{}();
  RaftLoop::Hooks hooks;
  hooks.send = [this](std::vector<raft::Message> messages) { SendToPeers(std::move(messages)); };
  hooks.restore_snapshot = [this](const raft::Snapshot& snapshot) { RestoreSnapshot(snapshot); };
  hooks.apply = [this](std::vector<raft::Entry> entries) { applier_->Enqueue(std::move(entries)); };
  hooks.leader_changed = [this](uint64_t leader) {
    leader_waits_.OnLeaderChanged(leader);
    last_leader_change_ns_ = std::chrono::steady_clock::now().time_since_epoch().count();
    if (reads_) reads_->OnLeaderChanged();
    // raft_->term() is this iteration's term: the hook runs on the raft thread after it is set.
    lessor_->OnLeaderChanged(leader == ctx_.member_id ? raft_->term() : 0);
  };
  hooks.read_states = [this](std::vector<raft::ReadState> states) {
    reads_->OnReadStates(states);
  };
  hooks.sync_applied_state = [this] { return storage_->SyncWal(); };
  // The transport is created first: raft runs on its thread.
  st = CreateTransport();
  if (!st.ok()) return st;
  raft_ = std::make_unique<RaftLoop>(rc, &storage_->log(), std::move(hooks),
                                     std::chrono::milliseconds(config_.heartbeat_interval_ms),
                                     &transport_->io_context());
  proposer_ = std::make_unique<Proposer>(raft_.get(), applier_.get(), waits_.get(),
                                         config_.max_request_bytes, kRequestTimeout);
  reads_ = std::make_unique<LinearizableReads>(
      rc.id, [this](uint64_t ctx) { raft_->ReadIndex(ctx); },
      [this](std::function<void()> task) { RunOnRpcLoop(std::move(task)); }, kRequestTimeout,
      std::chrono::microseconds(std::max<int64_t>(0, config_.read_round_hold_us)));
  reads_->OnApplied(storage_->kv().AppliedIndex());

  ctx_.config = &config_;
  ctx_.store = &storage_->kv();
  ctx_.raft = raft_.get();
  ctx_.applier = applier_.get();
  ctx_.proposer = proposer_.get();
  ctx_.reads = reads_.get();
  ctx_.alarms = alarms_.get();
  ctx_.membership = membership_.get();
  ctx_.leader_waits = &leader_waits_;
  ctx_.lessor = lessor_.get();

  st = StartTransport();  // after raft_ exists: its callbacks step raft
  if (!st.ok()) return st;
  applier_->Start();
  lessor_->Start();
  auto initial = storage_->log().GetInitialState();
  if (!initial.ok()) return initial.status();
  bool sole_voter = initial->conf_state.voters.size() == 1 &&
                    initial->conf_state.voters[0] == ctx_.member_id;
  st = raft_->Start(/*campaign_now=*/sole_voter);
  if (!st.ok()) return st;
  housekeeping_ = std::thread([this] {
    NameThisThread("keel-housekeep");
    Housekeeping();
  });
  if (!join_peers_.empty() && ctx_.cluster_id == 0) {
    // Serve clients only once joined: the leader's snapshot brings the cluster id and state.
    auto joined = joined_.get_future();
    if (joined.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
      return absl::UnavailableError(
          "could not join the cluster within 60 s: was this member added with `member add`, "
          "and are --initial-cluster and --initial-cluster-token those of the cluster?");
    }
  }
  return StartGrpc();
}

absl::Status Member::LoadOrBootstrapIdentity() {
  membership_ = std::make_unique<Membership>(storage_.get());
  absl::Status st = membership_->Load();
  if (!st.ok()) return st;
  auto identity = storage_->GetMeta(kIdentityKey);
  if (identity.ok()) {
    // A data dir remembers who it is; bootstrap flags are ignored on restart, as in etcd.
    KEEL_CHECK(ctx_.self.ParseFromString(*identity)) << "corrupt member identity";
    auto cluster = storage_->GetMeta(kClusterKey);
    if (!cluster.ok()) return cluster.status();
    if (cluster->size() != 8) return absl::DataLossError("corrupt cluster id record");
    ctx_.member_id = ctx_.self.id();
    ctx_.cluster_id = GetBigEndian64(cluster->data());
    if (membership_->List().empty()) {
      // A data dir from before membership records: it was a single member.
      st = membership_->Bootstrap({ctx_.self});
      if (!st.ok()) return st;
    }
    return absl::OkStatus();
  }
  if (!absl::IsNotFound(identity.status())) return identity.status();
  if (config_.initial_cluster_state != "new" && config_.initial_cluster_state != "existing") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--initial-cluster-state must be new or existing, not ", config_.initial_cluster_state));
  }
  const bool joining = config_.initial_cluster_state == "existing";
  std::string initial_cluster = config_.initial_cluster;
  if (initial_cluster.empty()) {
    initial_cluster = absl::StrCat(config_.name, "=",
                                   absl::StrJoin(config_.initial_advertise_peer_urls, ","));
  }
  auto members = ParseInitialCluster(initial_cluster, config_.initial_cluster_token);
  if (!members.ok()) return members.status();
  std::vector<uint64_t> ids;
  etcdserverpb::Member* self = nullptr;
  for (auto& m : *members) {
    ids.push_back(m.id());
    if (m.name() == config_.name) self = &m;
  }
  if (self == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "couldn't find local name \"", config_.name, "\" in the initial cluster configuration"));
  }
  std::vector<std::string> listed(self->peerurls().begin(), self->peerurls().end());
  std::vector<std::string> advertised = config_.initial_advertise_peer_urls;
  std::sort(listed.begin(), listed.end());
  std::sort(advertised.begin(), advertised.end());
  if (listed != advertised) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--initial-cluster has ", config_.name, "=", absl::StrJoin(listed, ","),
        " but missing from --initial-advertise-peer-urls=", absl::StrJoin(advertised, ",")));
  }
  for (const auto& u : config_.advertise_client_urls) self->add_clienturls(u);
  ctx_.self = *self;
  ctx_.member_id = self->id();
  if (joining) {
    // Added with MemberAdd already (the same id: a hash of the peer URLs and the token). The
    // cluster id, the membership and the data arrive with the leader's first snapshot; the
    // identity is written then (RestoreSnapshot). Until then the peers listed here are the
    // ones the transport knows.
    join_peers_ = std::move(*members);
    return absl::OkStatus();
  }
  ctx_.cluster_id = ClusterIdFor(ids, config_.initial_cluster_token);
  std::sort(ids.begin(), ids.end());
  st = storage_->log().SetConfState(raft::ConfState{ids, {}});
  if (!st.ok()) return st;
  st = membership_->Bootstrap(*members);
  if (!st.ok()) return st;
  st = storage_->PutMeta(kClusterKey, BigEndian64(ctx_.cluster_id), /*sync=*/false);
  if (!st.ok()) return st;
  // Written last and synced: a data dir with an identity is fully bootstrapped.
  return storage_->PutMeta(kIdentityKey, ctx_.self.SerializeAsString(), /*sync=*/true);
}

absl::Status Member::CreateTransport() {
  if (config_.listen_peer_urls.empty()) return absl::InvalidArgumentError("no --listen-peer-urls");
  auto listen = ParseUrl(config_.listen_peer_urls[0]);
  if (!listen.ok()) return listen.status();
  transport::PeerTransportOptions options;
  options.self_id = ctx_.member_id;
  options.cluster_id = ctx_.cluster_id;
  options.listen_host = listen->host;
  options.listen_port = static_cast<uint16_t>(listen->port);
  transport::PeerTransportCallbacks callbacks;
  callbacks.on_message = [this](raft::Message m) { raft_->Step(std::move(m)); };
  callbacks.on_unreachable = [this](raft::NodeId peer) {
    raft_->Submit([peer](raft::RawNode& node) { node.ReportUnreachable(peer); });
  };
  callbacks.on_log = [](std::string_view event) {
    std::fprintf(stderr, "keel: peer transport: %.*s\n", static_cast<int>(event.size()),
                 event.data());
  };
  callbacks.on_snapshot_status = [this](raft::NodeId peer, bool ok) {
    raft_->Submit([peer, ok](raft::RawNode& node) { node.ReportSnapshot(peer, !ok); });
  };
  transport_ = std::make_unique<transport::PeerTransport>(options, std::move(callbacks));
  return absl::OkStatus();
}

absl::Status Member::StartTransport() {
  absl::Status st = transport_->Start();
  if (!st.ok()) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen for peers on ", config_.listen_peer_urls[0], ": ",
                     st.message()));
  }
  membership_->set_on_change([this] { SyncPeers(); });
  SyncPeers();
  return absl::OkStatus();
}

void Member::SendToPeers(std::vector<raft::Message> messages) {
  if (!transport_) return;
  // raft's snapshot carries only its metadata: the state goes with it, dumped off the raft
  // thread (it can be large). The dump is at least as new as the metadata's index; entries
  // the receiver then gets again are skipped by its applier.
  // Stable: the other messages keep raft's order (per peer it matters for MsgApp).
  auto snap = std::stable_partition(
      messages.begin(), messages.end(),
      [](const raft::Message& m) { return m.type != raft::MessageType::kSnap; });
  for (auto it = snap; it != messages.end(); ++it) {
    snapshot_executor_->Post([this, m = std::move(*it)]() mutable {
      // The dump must cover the snapshot's index: the receiver's log starts after it.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (applier_->applied_index() < m.snapshot->metadata.index) {
        if (std::chrono::steady_clock::now() > deadline) {
          raft_->Submit([to = m.to](raft::RawNode& node) { node.ReportSnapshot(to, true); });
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));  // bounded by the deadline
      }
      serverpb::MemberSnapshot state;
      auto kv = storage_->kv().Dump();
      KEEL_CHECK(kv.ok()) << "cannot dump the store for a snapshot: " << kv.status();
      state.set_kv(std::move(*kv));
      state.set_cluster_id(ctx_.cluster_id);
      for (auto& member : membership_->List()) *state.add_members() = std::move(member);
      for (uint64_t id : membership_->Removed()) state.add_removed(id);
      m.snapshot->data = raft::Bytes(state.SerializeAsString());
      transport_->Send({std::move(m)});
    });
  }
  messages.erase(snap, messages.end());
  if (!messages.empty()) transport_->Send(std::move(messages));
}

void Member::RestoreSnapshot(const raft::Snapshot& snapshot) {
  serverpb::MemberSnapshot state;
  KEEL_CHECK(state.ParseFromString(snapshot.data.str()))
      << "undecodable snapshot at index " << snapshot.metadata.index;
  std::promise<void> done;
  applier_->RunInOrder([&] {
    absl::Status st = storage_->kv().RestoreDump(state.kv());
    KEEL_CHECK(st.ok()) << "cannot restore the store from a snapshot: " << st;
    std::vector<etcdserverpb::Member> members(state.members().begin(), state.members().end());
    std::vector<uint64_t> removed(state.removed().begin(), state.removed().end());
    st = membership_->Restore(members, removed);
    KEEL_CHECK(st.ok()) << "cannot restore the membership from a snapshot: " << st;
    st = storage_->SyncWal();
    KEEL_CHECK(st.ok()) << "cannot sync a restored snapshot: " << st;
    watch_hub_->Reset(storage_->kv().CurrentRevision());
    lessor_->Reload();
    if (!join_peers_.empty() && ctx_.cluster_id == 0) {
      // A joining member: now it knows its cluster. Written synced, identity last, as a
      // bootstrap does; gRPC starts only after this (Init waits).
      ctx_.cluster_id = state.cluster_id();
      st = storage_->PutMeta(kClusterKey, BigEndian64(ctx_.cluster_id), /*sync=*/false);
      KEEL_CHECK(st.ok()) << "cannot record the cluster id: " << st;
      st = storage_->PutMeta(kIdentityKey, ctx_.self.SerializeAsString(), /*sync=*/true);
      KEEL_CHECK(st.ok()) << "cannot record the member identity: " << st;
      joined_.set_value();
    }
    std::fprintf(stderr, "keel: restored a snapshot from the leader: raft index %llu, "
                 "applied index %llu, revision %lld\n",
                 static_cast<unsigned long long>(snapshot.metadata.index),
                 static_cast<unsigned long long>(storage_->kv().AppliedIndex()),
                 static_cast<long long>(storage_->kv().CurrentRevision()));
    done.set_value();
  });
  done.get_future().wait();
}

void Member::SyncPeers() {
  std::vector<etcdserverpb::Member> members = membership_->List();
  if (members.empty()) members = join_peers_;
  std::set<uint64_t> wanted;
  for (const auto& m : members) {
    if (m.id() == ctx_.member_id || m.peerurls().empty()) continue;
    auto hp = ParseUrl(m.peerurls(0));
    if (!hp.ok()) continue;
    std::string address = absl::StrCat(hp->host, ":", hp->port);
    wanted.insert(m.id());
    if (!transport_->AddPeer(m.id(), address).ok()) {
      (void)transport_->UpdatePeer(m.id(), address);  // known: maybe a new address
    }
  }
  std::lock_guard<std::mutex> lock(peers_mu_);
  for (uint64_t id : peers_) {
    if (wanted.count(id) == 0) transport_->RemovePeer(id);
  }
  peers_ = std::move(wanted);
}

void Member::PollPeerFaultFile() {
  if (config_.peer_fault_file.empty()) return;
  std::string text;
  if (FILE* f = std::fopen(config_.peer_fault_file.c_str(), "rb")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) text.append(buf, n);
    std::fclose(f);
  }
  if (text == peer_faults_) return;
  peer_faults_ = text;
  std::set<raft::NodeId> cut;
  for (absl::string_view name : absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
    for (const auto& m : membership_->List()) {
      if (m.name() == absl::StripAsciiWhitespace(name)) cut.insert(m.id());
    }
  }
  transport_->SetPartitioned(std::move(cut));
}

absl::Status Member::StartGrpc() {
  kv_service_ = std::make_unique<KvService>(&ctx_);
  maintenance_service_ = std::make_unique<MaintenanceService>(&ctx_);
  cluster_service_ = std::make_unique<ClusterService>(&ctx_);
  watch_service_ = std::make_unique<WatchService>(&ctx_, watch_hub_.get());
  lease_service_ = std::make_unique<LeaseService>(&ctx_);
  grpc::ServerBuilder builder;
  client_ports_.assign(config_.listen_client_urls.size(), 0);
  for (size_t i = 0; i < config_.listen_client_urls.size(); ++i) {
    auto hp = ParseUrl(config_.listen_client_urls[i]);
    if (!hp.ok()) return hp.status();
    builder.AddListeningPort(absl::StrCat(hp->host, ":", hp->port),
                             grpc::InsecureServerCredentials(), &client_ports_[i]);
  }
  rpc_ = std::make_unique<RpcServer>(
      RpcServer::Handlers{kv_service_.get(), watch_service_.get(), lease_service_.get(),
                          cluster_service_.get(), maintenance_service_.get()},
      &builder);
  // gRPC framing on top of etcd's request limit, as etcd does.
  builder.SetMaxReceiveMessageSize(static_cast<int>(config_.max_request_bytes + 512 * 1024));
  builder.SetMaxSendMessageSize(INT32_MAX);
  // etcd clients ping every few seconds, with or without calls in flight; the default policy
  // would answer them with GOAWAY too_many_pings.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 1000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  grpc_server_ = builder.BuildAndStart();
  if (!grpc_server_) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", absl::StrJoin(config_.listen_client_urls, ",")));
  }
  rpc_->Start();
  rpc_loop_.store(rpc_->loop(), std::memory_order_release);
  for (size_t i = 0; i < client_ports_.size(); ++i) {
    if (client_ports_[i] == 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot listen on ", config_.listen_client_urls[i]));
    }
  }
  return absl::OkStatus();
}

void Member::Housekeeping() {
  std::unique_lock<std::mutex> lock(housekeeping_mu_);
  const auto progress_notify_interval =
      std::chrono::milliseconds(std::max<int64_t>(config_.watch_progress_notify_interval_ms, 100));
  auto next_progress_notify = std::chrono::steady_clock::now() + progress_notify_interval;
  while (!stopping_) {
    housekeeping_cv_.wait_for(lock, kHousekeepingInterval, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    auto now = WaitRegistry::Clock::now();
    // etcd's parseProposeCtxErr: a proposal that timed out across a leader change most
    // likely went to the failed leader, and says so.
    auto since_change = std::chrono::steady_clock::now().time_since_epoch() -
                        std::chrono::steady_clock::duration(last_leader_change_ns_.load());
    waits_->ExpireBefore(now, since_change < kRequestTimeout ? ErrTimeoutDueToLeaderFail()
                                                            : ErrTimeout());
    reads_->ExpireBefore(now);
    leader_waits_.ExpireBefore(now);
    uint64_t applied = applier_->applied_index();
    if (applied >= last_log_compaction_index_ + config_.snapshot_count +
                       config_.snapshot_catchup_entries) {
      raft_->CompactLog(applied, config_.snapshot_catchup_entries);
      last_log_compaction_index_ = applied;
    }
    uint64_t forced = snapshot_for_new_member_.load();
    if (forced > 0 && applied >= forced) {
      snapshot_for_new_member_ = 0;
      if (raft_->is_leader()) raft_->CompactLog(applied, 0);
    }
    MaybeAutoCompact();
    MaybePublishAttributes();
    PollPeerFaultFile();
    if (std::chrono::steady_clock::now() >= next_progress_notify) {
      watch_hub_->NotifyProgress();
      next_progress_notify += progress_notify_interval;
    }
    lock.lock();
  }
}

void Member::MaybeAutoCompact() {
  if (!auto_compaction_ || !raft_->is_leader()) return;
  const kv::MvccStore& store = storage_->kv();
  auto rev = auto_compaction_->Observe(absl::Now(), store.CurrentRevision(),
                                       store.CompactedRevision());
  if (!rev) return;
  serverpb::Request req;
  req.mutable_compaction()->set_revision(*rev);
  proposer_->Propose(std::move(req), [](ApplyResult) {});
}

void Member::MaybePublishAttributes() {
  // Once per start, as etcd: the client URLs may have changed since the last run, and the
  // other members learn them only this way.
  if (attributes_published_ || attributes_pending_ || raft_->leader() == 0) return;
  serverpb::Request req;
  auto* a = req.mutable_member_attributes();
  a->set_id(ctx_.member_id);
  a->set_name(ctx_.self.name());
  for (const auto& u : ctx_.self.clienturls()) a->add_client_urls(u);
  attributes_pending_ = true;
  proposer_->Propose(std::move(req), [this](ApplyResult r) {
    if (r.status.ok()) attributes_published_ = true;
    attributes_pending_ = false;  // retried on the next round if it failed
  });
}

void Member::OnConfChangeApplied(const raft::ConfChange& cc, uint64_t index) {
  if (cc.type == raft::ConfChangeType::kRemoveNode && cc.node_id == ctx_.member_id) {
    std::fprintf(stderr, "keel: this member was removed from the cluster; stopping\n");
    if (on_removed_) on_removed_();
    return;
  }
  // A promotion lands here too; its extra compaction is harmless.
  if (cc.type == raft::ConfChangeType::kAddLearnerNode ||
      cc.type == raft::ConfChangeType::kAddNode) {
    snapshot_for_new_member_ = index;
  }
}

void Member::HandOverLeadership() {
  if (!raft_ || !raft_->is_leader()) return;
  const uint64_t self = ctx_.member_id;
  raft_->Submit([self](raft::RawNode& node) {
    raft::Status status = node.GetStatus();
    uint64_t best = 0, best_match = 0;
    for (const auto& [id, pr] : status.progress) {
      if (id == self || pr.is_learner) continue;
      if (best == 0 || pr.match > best_match) {
        best = id;
        best_match = pr.match;
      }
    }
    if (best != 0) node.TransferLeadership(best);
  });
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(config_.election_timeout_ms);
  while (raft_->is_leader() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // bounded by the deadline
  }
}

void Member::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (membership_ && membership_->VoterCount() > 1) HandOverLeadership();
  if (grpc_server_) {
    // New calls are refused at once; in-flight ones get a grace period to finish normally,
    // then whatever still waits is failed so every reactor finishes.
    auto shutdown = std::async(std::launch::async, [this] {
      grpc_server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    });
    // Watch streams never end by themselves: end them now rather than at the deadline.
    if (watch_service_) watch_service_->FinishAll();
    if (lease_service_) lease_service_->FinishAll();
    if (shutdown.wait_for(std::chrono::seconds(1)) != std::future_status::ready) {
      leader_waits_.FailAll(ErrStopped());
      if (waits_) waits_->FailAll(ErrStopped());
      if (reads_) reads_->FailAll(ErrStopped());
    }
    shutdown.wait();
  }
  leader_waits_.FailAll(ErrStopped());
  if (waits_) waits_->FailAll(ErrStopped());
  if (reads_) reads_->FailAll(ErrStopped());
  if (lessor_) lessor_->Stop();  // proposes no more expiries; fails gathered keep-alives
  {
    std::lock_guard<std::mutex> lock(housekeeping_mu_);
    stopping_ = true;
    housekeeping_cv_.notify_all();
  }
  if (housekeeping_.joinable()) housekeeping_.join();
  if (raft_) raft_->Stop();
  if (transport_) transport_->Stop();  // after raft: nothing sends any more
  if (applier_) applier_->Stop();
  if (watch_hub_) watch_hub_->Stop();  // after the applier: nothing publishes any more
  if (snapshot_executor_) snapshot_executor_->Stop();
  if (rpc_) {
    rpc_->loop()->Drain();  // read batches' tasks use reads_
    rpc_->loop()->Stop();   // after the server's shutdown, whose last completions it runs
  }
  grpc_server_.reset();
  storage_.reset();
}

Member::~Member() { Stop(); }

void Member::RunOnRpcLoop(std::function<void()> task) {
  // Before the server starts no client has asked anything; internal proposals (publish,
  // lease expiry) may complete that early, here.
  RpcLoop* loop = rpc_loop_.load(std::memory_order_acquire);
  if (loop == nullptr) {
    task();
    return;
  }
  loop->Run(std::move(task));
}

}  // namespace keel::server
