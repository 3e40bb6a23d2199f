// The clients of the KV commands (put, range, txn-put, txn-update), each an asynchronous
// state machine on one completion queue (see load_runner.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "bench/keel_bench/conn.h"
#include "bench/keel_bench/expiry_stats.h"
#include "bench/keel_bench/keys.h"
#include "bench/keel_bench/load_runner.h"

namespace keel::bench {

// Told about every acknowledged put (the watch command counts what watchers must receive).
class PutAckSink {
 public:
  virtual ~PutAckSink() = default;
  // On a queue thread, for the put of key `key_index` that produced `revision`.
  virtual void OnPutAck(uint64_t key_index, int64_t revision) = 0;
};

struct PutOptions {
  const KeyGenerator* keys = nullptr;
  std::string value;
  // Write the send time (NowNs(), 8 bytes little-endian) over the value's first 8 bytes.
  bool stamp_send_time = false;
  PutAckSink* ack_sink = nullptr;  // may be null
  // Every completed put's completion time and latency (lease-expiry's writers); may be null.
  SampleLog* samples = nullptr;
  uint64_t seed = 1;
};
std::unique_ptr<ClientOp> NewPutOp(Conn* conn, const PutOptions& options);

struct RangeOptions {
  const KeyGenerator* keys = nullptr;  // used when key is empty
  std::string key;
  std::string range_end;
  bool serializable = false;
  int64_t limit = 0;
  uint64_t seed = 1;
};
std::unique_ptr<ClientOp> NewRangeOp(Conn* conn, const RangeOptions& options);

// A Txn with no compares and `ops` puts of consecutive keys (as etcd's txn-put: key
// (seq * ops + j) mod key space).
std::unique_ptr<ClientOp> NewTxnPutOp(Conn* conn, const KeyGenerator* keys, std::string value,
                                      int ops);

// Kubernetes' GuaranteedUpdate: Range the key, then Txn(if mod_revision == seen: put; else:
// range); on a conflict, retry the Txn with the mod_revision the failure branch returned.
// One operation = one successful update; its latency includes the retries.
struct TxnUpdateCounters {
  std::atomic<uint64_t> conflicts{0};  // Txns that failed their compare
  std::atomic<uint64_t> txns{0};
};
std::unique_ptr<ClientOp> NewTxnUpdateOp(Conn* conn, const KeyGenerator* keys, std::string value,
                                         uint64_t seed, TxnUpdateCounters* counters);

// Puts per operation at most before txn-update gives up on one update (ABORTED).
inline constexpr int kMaxTxnUpdateAttempts = 100;

}  // namespace keel::bench
