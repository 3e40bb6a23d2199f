// ServerConfig: everything a member is told at start-up, with etcd's flag names and defaults
// (cmd/keel parses the flags; tests build it directly).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kv/store.h"

namespace keel::server {

struct ServerConfig {
  std::string name = "default";
  // etcd's default is "<name>.etcd"; ours is "<name>.keel".
  std::string data_dir;
  std::vector<std::string> listen_client_urls = {"http://127.0.0.1:2379"};
  std::vector<std::string> advertise_client_urls = {"http://127.0.0.1:2379"};
  std::vector<std::string> listen_peer_urls = {"http://127.0.0.1:2380"};
  std::vector<std::string> initial_advertise_peer_urls = {"http://127.0.0.1:2380"};
  // "name=url,name=url"; empty means "<name>=<initial advertise peer urls>".
  std::string initial_cluster;
  std::string initial_cluster_state = "new";
  std::string initial_cluster_token = "etcd-cluster";

  int heartbeat_interval_ms = 100;
  int election_timeout_ms = 1000;
  // Raft log entries kept after the applied index before the log is compacted.
  uint64_t snapshot_count = 100000;
  // Raft log entries kept behind the applied index when compacting, for slow followers
  // (etcd 3.5's --experimental-snapshot-catchup-entries).
  uint64_t snapshot_catchup_entries = 5000;
  // etcd: 1.5 MiB. gRPC accepts up to this plus 512 KiB of framing.
  uint64_t max_request_bytes = 1536 * 1024;
  int max_txn_ops = 128;
  // 0 means etcd's default, 2 GiB.
  int64_t quota_backend_bytes = 0;
  // "periodic" (retention is a duration: "1h", "30m", or a bare number of hours) or
  // "revision" (retention is a number of revisions). Retention "0" disables it.
  std::string auto_compaction_mode = "periodic";
  std::string auto_compaction_retention = "0";
  std::string log_level = "info";
  // How often watchers with progress_notify get a progress notification (etcd 3.4's
  // --experimental-watch-progress-notify-interval, default 10m).
  int64_t watch_progress_notify_interval_ms = 10 * 60 * 1000;
  // Test only (--experimental-peer-fault-file): a file polled every 100 ms listing member
  // names, one per line, whose raft messages this member drops both ways (a partition that
  // keeps connections up). Empty or absent file: healed.
  std::string peer_fault_file;
  // How often the leader checkpoints remaining lease TTLs through raft, so a member that
  // restarts does not restart them (etcd 3.4's --experimental-lease-checkpoint, fixed 5 min
  // there). 0 disables.
  int64_t lease_checkpoint_interval_ms = 5 * 60 * 1000;
  // Keel: bytes of newest values kept in the key index for reads that need no RocksDB
  // look-up (kv::MvccStoreOptions::value_cache_bytes). A memory/read-speed trade.
  int64_t value_cache_bytes = static_cast<int64_t>(kv::kDefaultValueCacheBytes);
  // Keel: how long, in microseconds, a ReadIndex round waits to gather linearizable reads
  // when reads were already waiting as the last round was answered (LinearizableReads). A
  // lone reader never waits. 0 disables.
  int64_t read_round_hold_us = 1000;
  // Keel: committed groups of at most this many cheap entries (puts, single-key txns) are
  // applied on the raft thread when the apply thread is idle, sparing a thread hand-off on
  // every lone client's write (Applier). 0 sends everything to the apply thread.
  int64_t inline_apply_max_entries = 4;

  static constexpr int64_t kDefaultQuotaBytes = int64_t{2} << 30;
  int64_t EffectiveQuotaBytes() const {
    return quota_backend_bytes > 0 ? quota_backend_bytes : kDefaultQuotaBytes;
  }
};

}  // namespace keel::server
