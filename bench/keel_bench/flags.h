// keel-bench's command line: `keel-bench [global flags] <command> [flags] [args]`, with etcd's
// benchmark tool's flag names where they exist (so a command line written for one works with
// the other), --flag=value or --flag value, and Go's single-dash forms. Flags may come before
// or after the command; a flag the command does not use is an error that names it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace keel::bench {

enum class Command {
  kPut,
  kRange,
  kTxnPut,
  kTxnUpdate,
  kWatch,
  kWatchGet,
  kLeaseKeepalive,
  kLeaseGrant,
  kLeaseExpiry,
};

const char* CommandName(Command c);

struct BenchFlags {
  Command command = Command::kPut;

  // Connections and load shape (every command).
  std::vector<std::string> endpoints{"127.0.0.1:2379"};  // host:port, http:// accepted
  int conns = 1;
  int clients = 1;                                 // concurrent requests in flight (closed loop)
  uint64_t total = 0;                              // requests; 0 = bounded by duration only
  absl::Duration duration = absl::ZeroDuration();  // 0 = bounded by total only
  double rate_per_s = 0;                           // 0 = no limit
  bool target_leader = false;
  std::string json_path;
  int cq_threads = 0;  // completion-queue threads; 0 = min(4, hardware threads)
  absl::Duration dial_timeout = absl::Seconds(5);
  absl::Duration request_timeout = absl::Seconds(30);
  uint64_t seed = 1;
  bool precise = false;  // full precision in the text report

  // Keys and values (put, range, txn-put, txn-update, watch; lease-expiry: prefix and values).
  int key_size = 8;
  int val_size = 8;
  uint64_t key_space_size = 1;
  bool sequential_keys = false;
  std::string key_prefix;

  // range: `range [key [range_end]]`; without a key each request reads one generated key.
  char consistency = 'l';  // 'l' linearizable or 's' serializable
  std::string range_key;
  std::string range_end;
  bool range_key_set = false;
  int64_t range_limit = 0;

  // txn-put.
  int txn_ops = 1;

  // watch and watch-get.
  int watchers = 0;          // 0 = the command's default
  int streams = 0;           // 0 = the command's default
  int watch_per_stream = 0;  // etcd's alternative to --watchers: watchers = streams x this
  int watched_key_total = 1;
  bool watch_prefix = false;  // watch the range of all watched keys instead of one key each
  absl::Duration drain_timeout = absl::Seconds(10);
  absl::Duration create_timeout = absl::Seconds(60);
  int watch_get_events = 8;

  // lease-keepalive, lease-grant, lease-expiry.
  int leases = 0;            // 0 = the command's default (keepalive: one per client)
  int64_t lease_ttl_s = 0;   // 0 = the command's default (expiry: 5 s, else 100 s)
  bool keep_leases = false;  // lease-grant: do not revoke the granted leases at the end
  // lease-expiry: grant+put pairs in flight during setup; writers alone before it; how long
  // after setup every key must be deleted by.
  int setup_clients = 100;
  // lease-expiry: every lease is due --lease-ttl after setup started (each grant asks for the
  // whole seconds left until then), so they expire together instead of as fast as they were
  // granted.
  bool expire_together = false;
  absl::Duration baseline = absl::Seconds(5);
  absl::Duration expiry_timeout = absl::Minutes(5);

  bool show_help = false;
  std::string help_command;  // `keel-bench <command> --help`
};

// Parses and validates, then fills the command's defaults (watchers, streams, total). argv[0]
// is the program name.
absl::StatusOr<BenchFlags> ParseBenchFlags(int argc, const char* const* argv);

// Usage for every command, or for one when `command` names it.
std::string BenchUsage(const std::string& command = "");

}  // namespace keel::bench
