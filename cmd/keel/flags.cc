#include "cmd/keel/flags.h"

#include <functional>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/time/time.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "server/url.h"

namespace keel::cmd {
namespace {

using Setter = std::function<absl::Status(const std::string&, server::ServerConfig*)>;

template <typename T>
Setter Number(T server::ServerConfig::*field) {
  return [field](const std::string& v, server::ServerConfig* c) {
    T n;
    if (!absl::SimpleAtoi(v, &n)) return absl::InvalidArgumentError(absl::StrCat("not a number: ", v));
    c->*field = n;
    return absl::OkStatus();
  };
}

// A Go-style duration ("10m", "500ms", "1h30m") stored in milliseconds.
Setter DurationMs(int64_t server::ServerConfig::*field) {
  return [field](const std::string& v, server::ServerConfig* c) {
    absl::Duration d;
    if (!absl::ParseDuration(v, &d) || d <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(absl::StrCat("not a positive duration: ", v));
    }
    c->*field = absl::ToInt64Milliseconds(d);
    return absl::OkStatus();
  };
}

Setter String(std::string server::ServerConfig::*field) {
  return [field](const std::string& v, server::ServerConfig* c) {
    c->*field = v;
    return absl::OkStatus();
  };
}

Setter List(std::vector<std::string> server::ServerConfig::*field) {
  return [field](const std::string& v, server::ServerConfig* c) {
    c->*field = server::SplitList(v);
    return absl::OkStatus();
  };
}

struct Flag {
  Setter set;
  const char* help;
};

const std::map<std::string, Flag>& Flags() {
  using C = server::ServerConfig;
  static const auto* flags = new std::map<std::string, Flag>{
      {"name", {String(&C::name), "human-readable name for this member (default \"default\")"}},
      {"data-dir", {String(&C::data_dir), "path to the data directory (default \"<name>.keel\")"}},
      {"listen-client-urls", {List(&C::listen_client_urls), "URLs to listen on for client traffic"}},
      {"advertise-client-urls", {List(&C::advertise_client_urls), "client URLs advertised to the cluster"}},
      {"listen-peer-urls", {List(&C::listen_peer_urls), "URLs to listen on for peer traffic"}},
      {"initial-advertise-peer-urls", {List(&C::initial_advertise_peer_urls), "peer URLs advertised to the cluster"}},
      {"initial-cluster", {String(&C::initial_cluster), "initial cluster configuration for bootstrapping"}},
      {"initial-cluster-state", {String(&C::initial_cluster_state), "new or existing"}},
      {"initial-cluster-token", {String(&C::initial_cluster_token), "initial cluster token"}},
      {"heartbeat-interval", {Number(&C::heartbeat_interval_ms), "time (ms) of a heartbeat interval (default 100)"}},
      {"election-timeout", {Number(&C::election_timeout_ms), "time (ms) for an election to timeout (default 1000)"}},
      {"snapshot-count", {Number(&C::snapshot_count), "applied entries between raft log compactions"}},
      {"experimental-snapshot-catchup-entries",
       {Number(&C::snapshot_catchup_entries), "entries kept after a compaction for slow followers (default 5000)"}},
      {"max-request-bytes", {Number(&C::max_request_bytes), "maximum client request size in bytes (default 1572864)"}},
      {"max-txn-ops", {Number(&C::max_txn_ops), "maximum operations per txn (default 128)"}},
      {"quota-backend-bytes", {Number(&C::quota_backend_bytes), "backend size quota; 0 = 2 GiB"}},
      {"auto-compaction-mode", {String(&C::auto_compaction_mode), "periodic or revision"}},
      {"auto-compaction-retention", {String(&C::auto_compaction_retention), "history to keep; 0 disables"}},
      {"log-level", {String(&C::log_level), "debug, info, warn, error"}},
      {"experimental-watch-progress-notify-interval",
       {DurationMs(&C::watch_progress_notify_interval_ms), "interval of watch progress notifications (default 10m)"}},
      {"watch-progress-notify-interval",
       {DurationMs(&C::watch_progress_notify_interval_ms), "same as --experimental-watch-progress-notify-interval (etcd 3.6 name)"}},
      {"experimental-lease-checkpoint-interval",
       {DurationMs(&C::lease_checkpoint_interval_ms), "how often the leader checkpoints remaining lease TTLs (default 5m; 0 disables)"}},
      {"experimental-value-cache-bytes",
       {Number(&C::value_cache_bytes), "keel: bytes of newest values cached in memory for reads (default 16 MiB; 0 disables)"}},
      {"experimental-read-round-hold-us",
       {Number(&C::read_round_hold_us), "keel: microseconds a read-index round waits to gather linearizable reads under load (default 1000; 0 disables)"}},
      {"experimental-inline-apply-max-entries",
       {Number(&C::inline_apply_max_entries), "keel: committed groups of at most this many puts or single-key txns are applied on the raft thread when the apply thread is idle (default 4; 0 disables)"}},
      {"experimental-peer-fault-file",
       {String(&C::peer_fault_file), "keel, tests only: file of member names whose raft messages are dropped both ways"}},
  };
  return *flags;
}

}  // namespace

std::string KeelUsage() {
  std::string out = "Usage: keel [flags]\n\nFlags (etcd's names):\n";
  for (const auto& [name, flag] : Flags()) absl::StrAppend(&out, "  --", name, "\n      ", flag.help, "\n");
  absl::StrAppend(&out, "  --version\n      print the version and exit\n");
  return out;
}

absl::StatusOr<KeelFlags> ParseKeelFlags(int argc, char** argv) {
  KeelFlags out;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    absl::string_view name(arg);
    if (!absl::ConsumePrefix(&name, "--")) {
      if (!absl::ConsumePrefix(&name, "-")) {
        return absl::InvalidArgumentError(absl::StrCat("unexpected argument: ", arg));
      }
    }
    std::string value;
    bool has_value = false;
    size_t eq = name.find('=');
    if (eq != absl::string_view::npos) {
      value = std::string(name.substr(eq + 1));
      name = name.substr(0, eq);
      has_value = true;
    }
    if (name == "version") {
      out.show_version = true;
      continue;
    }
    if (name == "help" || name == "h") {
      out.show_help = true;
      continue;
    }
    auto it = Flags().find(std::string(name));
    if (it == Flags().end()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag: --", name));
    }
    if (!has_value) {
      if (i + 1 >= argc) return absl::InvalidArgumentError(absl::StrCat("flag needs a value: --", name));
      value = argv[++i];
    }
    absl::Status st = it->second.set(value, &out.config);
    if (!st.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("invalid value for --", name, ": ", st.message()));
    }
  }
  return out;
}

}  // namespace keel::cmd
