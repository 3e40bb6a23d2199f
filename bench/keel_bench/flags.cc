#include "bench/keel_bench/flags.h"

#include <algorithm>
#include <functional>
#include <map>
#include <iterator>
#include <optional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace keel::bench {
namespace {

constexpr Command kAllCommands[] = {Command::kPut,         Command::kRange,         Command::kTxnPut,
                                    Command::kTxnUpdate,   Command::kWatch,         Command::kWatchGet,
                                    Command::kLeaseKeepalive, Command::kLeaseGrant,
                                    Command::kLeaseExpiry};

using Mask = unsigned;
constexpr Mask Bit(Command c) { return 1u << static_cast<unsigned>(c); }
constexpr Mask kAll = (1u << std::size(kAllCommands)) - 1;
// Commands that generate keys, write values, draw keys from a key space, choose keys
// sequentially or at random (txn-put's order is fixed, watch writes its watched keys).
constexpr Mask kKeyed = Bit(Command::kPut) | Bit(Command::kRange) | Bit(Command::kTxnPut) |
                        Bit(Command::kTxnUpdate) | Bit(Command::kWatch);
constexpr Mask kValued = kKeyed & ~Bit(Command::kRange);
constexpr Mask kKeySpace = kKeyed & ~Bit(Command::kWatch);
constexpr Mask kKeyOrder = kKeySpace & ~Bit(Command::kTxnPut);
constexpr Mask kWatches = Bit(Command::kWatch) | Bit(Command::kWatchGet);
constexpr Mask kLeases =
    Bit(Command::kLeaseKeepalive) | Bit(Command::kLeaseGrant) | Bit(Command::kLeaseExpiry);
// lease-expiry runs until every key is deleted: no --total or --duration.
constexpr Mask kLimited = kAll & ~Bit(Command::kLeaseExpiry);

using Setter = std::function<absl::Status(const std::string&, BenchFlags*)>;

absl::Status Bad(const std::string& what, const std::string& value) {
  return absl::InvalidArgumentError(absl::StrCat("not ", what, ": \"", value, "\""));
}

template <typename T>
Setter Integer(T BenchFlags::*field, T min_value) {
  return [field, min_value](const std::string& v, BenchFlags* f) {
    T n;
    if (!absl::SimpleAtoi(v, &n) || n < min_value) {
      return Bad(absl::StrCat("an integer >= ", min_value), v);
    }
    f->*field = n;
    return absl::OkStatus();
  };
}

Setter Real(double BenchFlags::*field) {
  return [field](const std::string& v, BenchFlags* f) {
    double d;
    if (!absl::SimpleAtod(v, &d) || !(d >= 0)) return Bad("a number >= 0", v);
    f->*field = d;
    return absl::OkStatus();
  };
}

// Go-style durations ("10s", "1m30s", "500ms"); a bare number is seconds.
Setter Duration(absl::Duration BenchFlags::*field, bool allow_zero) {
  return [field, allow_zero](const std::string& v, BenchFlags* f) {
    absl::Duration d;
    double seconds;
    if (absl::SimpleAtod(v, &seconds)) {
      d = absl::Seconds(seconds);
    } else if (!absl::ParseDuration(v, &d)) {
      return Bad("a duration", v);
    }
    if (d < absl::ZeroDuration() || (!allow_zero && d == absl::ZeroDuration())) {
      return Bad(allow_zero ? "a duration >= 0" : "a positive duration", v);
    }
    f->*field = d;
    return absl::OkStatus();
  };
}

Setter Bool(bool BenchFlags::*field) {
  return [field](const std::string& v, BenchFlags* f) {
    bool b;
    if (!absl::SimpleAtob(v, &b)) return Bad("true or false", v);
    f->*field = b;
    return absl::OkStatus();
  };
}

Setter String(std::string BenchFlags::*field) {
  return [field](const std::string& v, BenchFlags* f) {
    f->*field = v;
    return absl::OkStatus();
  };
}

struct Flag {
  bool is_bool;
  Mask commands;
  Setter set;
  const char* help;
};

const std::map<std::string, Flag>& Flags() {
  static const auto* flags = new std::map<std::string, Flag>{
      {"endpoints",
       {false, kAll,
        [](const std::string& v, BenchFlags* f) {
          std::vector<std::string> eps = absl::StrSplit(v, ',', absl::SkipWhitespace());
          if (eps.empty()) return Bad("a list of endpoints", v);
          for (auto& e : eps) e = std::string(absl::StripAsciiWhitespace(e));
          f->endpoints = eps;
          return absl::OkStatus();
        },
        "comma-separated gRPC endpoints, host:port or http://host:port (default 127.0.0.1:2379)"}},
      {"conns", {false, kAll, Integer(&BenchFlags::conns, 1), "gRPC connections (separate TCP connections) (default 1; watch: one per 100 streams; lease-expiry: one per 100 setup clients, plus one for the watch and one for the writers)"}},
      {"clients", {false, kAll, Integer(&BenchFlags::clients, 1), "concurrent requests in flight, spread over the connections (default 1; watch: puts in flight at most, default 256; lease-expiry: writers of the unrelated put load)"}},
      {"total", {false, kLimited, Integer<uint64_t>(&BenchFlags::total, 1), "requests to send (default 10000 when --duration is not given; watch: puts, default 1000)"}},
      {"put-total", {false, Bit(Command::kWatch), Integer<uint64_t>(&BenchFlags::total, 1), "watch: same as --total (etcd's name)"}},
      {"duration", {false, kLimited, Duration(&BenchFlags::duration, false), "run for this long (e.g. 10s, 1m); with --total, whichever ends first"}},
      {"rate", {false, kAll & ~Bit(Command::kWatchGet), Real(&BenchFlags::rate_per_s), "maximum requests per second, paced by a token bucket (default 0 = no limit; lease-expiry: of the writers)"}},
      {"put-rate", {false, Bit(Command::kWatch), Real(&BenchFlags::rate_per_s), "watch: puts per second (default 100; 0 = no limit)"}},
      {"target-leader", {true, kAll, Bool(&BenchFlags::target_leader), "send only to the leader (found with Maintenance.Status)"}},
      {"json", {false, kAll, String(&BenchFlags::json_path), "write machine-readable results to this file"}},
      {"cq-threads", {false, kAll, Integer(&BenchFlags::cq_threads, 1), "completion-queue threads (default min(4, hardware threads))"}},
      {"dial-timeout", {false, kAll, Duration(&BenchFlags::dial_timeout, false), "connection timeout (default 5s)"}},
      {"request-timeout", {false, kAll, Duration(&BenchFlags::request_timeout, true), "deadline of each request (default 30s; 0 = none)"}},
      {"seed", {false, kAll, Integer<uint64_t>(&BenchFlags::seed, 0), "seed of the key choice and the value bytes (default 1)"}},
      {"precise", {true, kAll, Bool(&BenchFlags::precise), "full precision in the text report"}},
      {"key-size", {false, kKeyed, Integer(&BenchFlags::key_size, 1), "bytes of each generated key after --key-prefix (default 8)"}},
      {"val-size", {false, kValued | Bit(Command::kLeaseExpiry), Integer(&BenchFlags::val_size, 0), "bytes of each value (default 8; watch: at least 8, they carry the send time)"}},
      {"key-space-size", {false, kKeySpace, Integer<uint64_t>(&BenchFlags::key_space_size, 1), "number of distinct keys (default 1)"}},
      {"sequential-keys", {true, kKeyOrder, Bool(&BenchFlags::sequential_keys), "key i = request number mod --key-space-size instead of a random key"}},
      {"key-prefix", {false, kKeyed | Bit(Command::kLeaseExpiry), String(&BenchFlags::key_prefix), "bytes before every generated key (default none; watch: \"keel-bench/watch/\"; lease-expiry: the leased keys' prefix, \"keel-bench/lease-expiry/\", a directory per run below it)"}},
      {"consistency", {false, Bit(Command::kRange),
        [](const std::string& v, BenchFlags* f) {
          if (v != "l" && v != "s") return Bad("l (linearizable) or s (serializable)", v);
          f->consistency = v[0];
          return absl::OkStatus();
        },
        "range: l (linearizable, default) or s (serializable)"}},
      {"limit", {false, Bit(Command::kRange), Integer<int64_t>(&BenchFlags::range_limit, 0), "range: maximum keys per response (default 0 = no limit)"}},
      {"txn-ops", {false, Bit(Command::kTxnPut), Integer(&BenchFlags::txn_ops, 1), "txn-put: puts per txn (default 1)"}},
      {"watchers", {false, kWatches, Integer(&BenchFlags::watchers, 1), "watch: total watchers (default 1000); watch-get: default 10000"}},
      {"streams", {false, kWatches, Integer(&BenchFlags::streams, 1), "watch streams the watchers are spread over (watch: default 10; watch-get: 1)"}},
      {"watch-per-stream", {false, Bit(Command::kWatch), Integer(&BenchFlags::watch_per_stream, 1), "watch: watchers per stream, instead of --watchers (etcd's name)"}},
      {"watched-key-total", {false, Bit(Command::kWatch), Integer(&BenchFlags::watched_key_total, 1), "watch: distinct keys watched and written round-robin (default 1)"}},
      {"watch-prefix", {true, Bit(Command::kWatch), Bool(&BenchFlags::watch_prefix), "watch: every watcher watches the prefix holding all watched keys"}},
      {"drain-timeout", {false, kWatches, Duration(&BenchFlags::drain_timeout, true), "watch: after the last put, wait this long at most for every event (default 10s)"}},
      {"create-timeout", {false, kWatches, Duration(&BenchFlags::create_timeout, false), "wait this long at most for every watcher to be created (default 60s)"}},
      {"events", {false, Bit(Command::kWatchGet), Integer(&BenchFlags::watch_get_events, 1), "watch-get: events each watcher replays from history (default 8)"}},
      {"leases", {false, Bit(Command::kLeaseKeepalive) | Bit(Command::kLeaseExpiry), Integer(&BenchFlags::leases, 1), "lease-keepalive: leases to grant (default one per client); lease-expiry: leases, one key each (default 100000)"}},
      {"lease-ttl", {false, kLeases, Integer<int64_t>(&BenchFlags::lease_ttl_s, 1), "TTL of the granted leases in seconds (default 100; lease-expiry: 5)"}},
      {"keep-leases", {true, Bit(Command::kLeaseGrant), Bool(&BenchFlags::keep_leases), "lease-grant: do not revoke the granted leases at the end (they expire after --lease-ttl)"}},
      {"expire-together", {true, Bit(Command::kLeaseExpiry), Bool(&BenchFlags::expire_together), "lease-expiry: each grant asks for the seconds left until setup start + --lease-ttl, so all leases expire within about a second"}},
      {"setup-clients", {false, Bit(Command::kLeaseExpiry), Integer(&BenchFlags::setup_clients, 1), "lease-expiry: grant+put pairs in flight while the leases are set up (default 100)"}},
      {"baseline", {false, Bit(Command::kLeaseExpiry), Duration(&BenchFlags::baseline, true), "lease-expiry: the writers run alone this long before the leases are granted (default 5s)"}},
      {"expiry-timeout", {false, Bit(Command::kLeaseExpiry), Duration(&BenchFlags::expiry_timeout, false), "lease-expiry: give up when a key is still not deleted this long after setup ended (default 5m)"}},
      {"help", {true, kAll, Bool(&BenchFlags::show_help), "show this help"}},
  };
  return *flags;
}

std::optional<Command> CommandFromName(const std::string& name) {
  for (Command c : kAllCommands) {
    if (name == CommandName(c)) return c;
  }
  return std::nullopt;
}

const char* CommandSummary(Command c) {
  switch (c) {
    case Command::kPut: return "KV.Put of generated keys";
    case Command::kRange: return "KV.Range of [key [range_end]] or of generated keys";
    case Command::kTxnPut: return "KV.Txn with --txn-ops puts and no compares";
    case Command::kTxnUpdate: return "Kubernetes-style update: Range, then Txn comparing mod_revision (retried on conflict)";
    case Command::kWatch: return "watch fan-out: watchers on streams, a paced putter; event delivery latency and order";
    case Command::kWatchGet: return "watchers replaying history while serializable Range requests run";
    case Command::kLeaseKeepalive: return "LeaseKeepAlive stream round trips on granted leases";
    case Command::kLeaseGrant: return "LeaseGrant of --lease-ttl leases (revoked at the end)";
    case Command::kLeaseExpiry: return "mass expiry: --leases leases with a key each expire; revocation timeline, and a put load's latency meanwhile";
  }
  return "";
}

void ApplyCommandDefaults(const std::set<std::string>& given, BenchFlags* f) {
  const bool clients_set = given.count("clients") > 0;
  const bool conns_set = given.count("conns") > 0;
  const bool rate_set = given.count("rate") > 0 || given.count("put-rate") > 0;
  const bool prefix_set = given.count("key-prefix") > 0;
  if (f->lease_ttl_s == 0) f->lease_ttl_s = f->command == Command::kLeaseExpiry ? 5 : 100;
  switch (f->command) {
    case Command::kWatch:
      if (f->streams == 0) f->streams = 10;
      if (f->watchers == 0 && f->watch_per_stream > 0) f->watchers = f->streams * f->watch_per_stream;
      if (f->watchers == 0) f->watchers = 1000;
      if (!clients_set) f->clients = 256;
      if (!rate_set) f->rate_per_s = 100;
      if (!prefix_set) f->key_prefix = "keel-bench/watch/";
      if (f->total == 0 && f->duration == absl::ZeroDuration()) f->total = 1000;
      break;
    case Command::kWatchGet:
      if (f->watchers == 0) f->watchers = 10000;
      if (f->streams == 0) f->streams = 1;
      break;
    case Command::kLeaseKeepalive:
      if (f->leases == 0) f->leases = f->clients;
      break;
    case Command::kLeaseExpiry:
      if (f->leases == 0) f->leases = 100000;
      if (!prefix_set) f->key_prefix = "keel-bench/lease-expiry/";
      // As watch: no more than 100 streams per connection unless told otherwise.
      if (!conns_set) f->conns = std::max(1, (f->setup_clients + 99) / 100);
      break;
    default:
      break;
  }
  if (f->total == 0 && f->duration == absl::ZeroDuration() && f->command != Command::kWatchGet &&
      f->command != Command::kLeaseExpiry) {
    f->total = 10000;
  }
  // etcd serves at most 100 concurrent streams per connection by default in some versions and
  // gRPC clients queue the rest: give watch streams enough connections unless told otherwise.
  if (f->command == Command::kWatch && !conns_set) f->conns = std::max(1, (f->streams + 99) / 100);
}

absl::Status Validate(const BenchFlags& f) {
  if (f.command == Command::kWatch) {
    if (f.watch_per_stream > 0 && f.watchers != f.streams * f.watch_per_stream) {
      return absl::InvalidArgumentError("give --watchers or --watch-per-stream, not both");
    }
    if (f.val_size < 8) {
      return absl::InvalidArgumentError("watch: --val-size must be at least 8 (the send time)");
    }
  }
  if (f.command == Command::kLeaseExpiry && f.key_prefix.empty()) {
    return absl::InvalidArgumentError("lease-expiry: --key-prefix must not be empty");
  }
  if ((f.command == Command::kWatch || f.command == Command::kWatchGet) && f.streams > f.watchers) {
    return absl::InvalidArgumentError(
        absl::StrCat("--streams ", f.streams, " exceeds --watchers ", f.watchers));
  }
  return absl::OkStatus();
}

}  // namespace

const char* CommandName(Command c) {
  switch (c) {
    case Command::kPut: return "put";
    case Command::kRange: return "range";
    case Command::kTxnPut: return "txn-put";
    case Command::kTxnUpdate: return "txn-update";
    case Command::kWatch: return "watch";
    case Command::kWatchGet: return "watch-get";
    case Command::kLeaseKeepalive: return "lease-keepalive";
    case Command::kLeaseGrant: return "lease-grant";
    case Command::kLeaseExpiry: return "lease-expiry";
  }
  return "?";
}

absl::StatusOr<BenchFlags> ParseBenchFlags(int argc, const char* const* argv) {
  // Pass 1: split into flags (name, value) and positional arguments. A flag's value is the
  // next argument unless given with '=' or the flag is boolean.
  std::vector<std::pair<std::string, std::string>> given;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      for (++i; i < argc; ++i) positional.push_back(argv[i]);
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      positional.push_back(arg);
      continue;
    }
    std::string name = arg.substr(arg[1] == '-' ? 2 : 1);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    if (name == "h") name = "help";
    auto it = Flags().find(name);
    if (it == Flags().end()) return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    if (!value) {
      if (it->second.is_bool) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
      }
    }
    given.emplace_back(name, *value);
  }

  BenchFlags f;
  // Help needs no command; `keel-bench help [command]` works too.
  const bool help_flag = std::any_of(given.begin(), given.end(), [](const auto& g) {
    return g.first == "help" && g.second != "false";
  });
  if (help_flag || (!positional.empty() && positional[0] == "help")) {
    f.show_help = true;
    size_t command_at = !positional.empty() && positional[0] == "help" ? 1 : 0;
    if (positional.size() > command_at) f.help_command = positional[command_at];
    return f;
  }
  if (positional.empty()) return absl::InvalidArgumentError("no command given");
  auto command = CommandFromName(positional[0]);
  if (!command) return absl::InvalidArgumentError(absl::StrCat("unknown command \"", positional[0], "\""));
  f.command = *command;

  // Pass 2: apply the flags in order (a later one wins).
  std::set<std::string> given_names;
  for (const auto& [name, value] : given) {
    const Flag& flag = Flags().at(name);
    if ((flag.commands & Bit(f.command)) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("flag --", name, " is not used by ", CommandName(f.command)));
    }
    if (auto st = flag.set(value, &f); !st.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, ": ", st.message()));
    }
    given_names.insert(name);
  }

  // Positional arguments after the command: only range takes any.
  const size_t extra = positional.size() - 1;
  if (f.command == Command::kRange) {
    if (extra > 2) return absl::InvalidArgumentError("range takes at most [key [range_end]]");
    if (extra >= 1) {
      f.range_key = positional[1];
      f.range_key_set = true;
    }
    if (extra == 2) f.range_end = positional[2];
  } else if (extra > 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(CommandName(f.command), " takes no arguments, got \"", positional[1], "\""));
  }

  ApplyCommandDefaults(given_names, &f);
  if (auto st = Validate(f); !st.ok()) return st;
  return f;
}

std::string BenchUsage(const std::string& command) {
  auto only = CommandFromName(command);
  std::string out =
      "keel-bench: load generator for the etcd v3 gRPC API (runs against Keel and etcd)\n\n"
      "Usage: keel-bench <command> [flags]\n\nCommands:\n";
  for (Command c : kAllCommands) {
    if (only && c != *only) continue;
    absl::StrAppend(&out, "  ", CommandName(c), std::string(17 - std::string(CommandName(c)).size(), ' '),
                    CommandSummary(c), "\n");
  }
  absl::StrAppend(&out, "\nFlags", only ? absl::StrCat(" of ", command) : "", ":\n");
  for (const auto& [name, flag] : Flags()) {
    if (only && (flag.commands & Bit(*only)) == 0) continue;
    std::string lhs = absl::StrCat("  --", name, flag.is_bool ? "" : " VALUE");
    if (lhs.size() < 28) lhs.resize(28, ' ');
    else lhs += "\n" + std::string(28, ' ');
    absl::StrAppend(&out, lhs, flag.help, "\n");
  }
  absl::StrAppend(
      &out,
      "\nOutput: a summary (requests/s, latency percentiles, histogram, errors by gRPC code) on\n"
      "stdout; a progress bar on stderr when it is a terminal; --json FILE for scripts.\n"
      "See docs/bench.md.\n");
  return out;
}

}  // namespace keel::bench
