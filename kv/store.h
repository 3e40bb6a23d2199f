// MvccStore: etcd's MVCC key-value semantics on RocksDB.
//
// What it is. The state machine that committed KV requests are applied to: Range, Put,
// DeleteRange, Txn and Compact with etcd 3.4's semantics, codes and messages, plus HashKV and
// size figures. It knows nothing of raft or gRPC; requests and responses are the etcd
// protobuf messages, and the server fills the header's cluster_id, member_id and raft_term.
//
// Revisions. A fresh store is at revision 1. Each write call that changes anything (a put, a
// delete that deletes something, a txn with such an op) takes the next revision; the writes
// inside it get sub-revisions 0, 1, ... in request order. Calls that change nothing keep the
// revision.
//
// On disk (three column families, see kv_codec.h):
//   kv       revision (main 8B BE, sub 8B BE) -> marker byte + mvccpb.KeyValue
//   kv_meta  "applied_index", "scheduled_compaction", "finished_compaction" -> 8B BE
//   lease    lease id (8B BE) -> ttl, remaining ttl, renewed index (8B BE each)
// In memory: KeyIndex (key -> revisions), rebuilt at Open by scanning kv; the lease table
// with each lease's attached keys (from the newest version of every live key).
//
// Leases (kv/store_lease.cc). The store keeps the replicated part of etcd's lessor: which
// leases exist, their granted TTL, the remaining TTL last checkpointed, the raft index of
// their grant or newest renewal, and which keys are attached. Revoking a lease deletes its
// keys at one revision. Time is not its business: the server decides when a lease expires
// and proposes the revocation.
//
// Durability and the applied index. Every successful write call takes the raft index of the
// entry being applied and persists it in the same RocksDB write batch as its data, so after a
// crash AppliedIndex() says exactly which entries are reflected; the caller skips entries at
// or below it. Refused requests write nothing; MarkApplied() records an index with no data.
// Consequently one raft entry must be applied with one write call.
//
// Validation first. Everything that can refuse a request (empty key, too many ops,
// duplicate keys, ignore_* without a key, unknown lease, bad revisions) is checked before any
// change, so a refused request leaves no trace. A RocksDB write failure after that point is
// fatal (KEEL_CHECK): memory and disk would disagree.
//
// Group commit. Between BeginBatch() and CommitBatch() write calls apply to memory and
// return their responses and events, but reach RocksDB (one write for the whole batch) and
// become visible to readers only at CommitBatch(). Reply to clients and publish events after
// CommitBatch(). Outside a batch each write call commits itself.
//
// Threads. One writer thread makes every write call (Put, DeleteRange, Txn, Compact,
// MarkApplied, BeginBatch, CommitBatch); any number of threads may read (Range, HashKV,
// CurrentRevision, ...) concurrently with it. Readers resolve revisions in the key index
// under a shared lock, then read values without the lock: stored revisions are immutable, so
// a read either finds the exact bytes or finds them removed by a concurrent compaction, and
// then retries (after a few tries it keeps the shared lock, which compaction waits for).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "etcd/kv.pb.h"
#include "etcd/rpc.pb.h"
#include "kv/key_index.h"
#include "kv/kv_codec.h"
#include "kv/request_check.h"
#include "rocksdb/db.h"

namespace keel::kv {

inline constexpr char kKvColumnFamily[] = "kv";
inline constexpr char kKvMetaColumnFamily[] = "kv_meta";
inline constexpr char kLeaseColumnFamily[] = "lease";

inline constexpr size_t kDefaultValueCacheBytes = 16 << 20;

struct MvccStoreOptions {
  // etcd's --max-txn-ops.
  int max_txn_ops = kDefaultMaxTxnOps;
  // fsync each commit. Off when the raft log is the durable record (entries are re-applied
  // after a crash from the last persisted applied index).
  bool sync_writes = false;
  // Fill Event::prev_kv in returned events (a read per overwritten key).
  bool events_with_prev_kv = true;
  // Bytes of live keys' newest KeyValues kept in the key index, so reads of the newest state
  // of those keys and the writer's prev_kv lookups need no RocksDB read. Keys are cached as
  // they are written while the total stays within the budget; a rewrite of a cached key
  // keeps its place. Past it, values are read through RocksDB's memtables and block cache.
  // Unbounded, the cache held ~300 MB with 1M keys of 256 B (bench/RESULTS.md).
  size_t value_cache_bytes = kDefaultValueCacheBytes;
};

// A write's answer: the etcd response (header.revision set) and the events it produced, in
// revision order, for the watch hub.
template <typename Response>
struct WriteResult {
  Response response;
  std::vector<mvccpb::Event> events;
};
using PutResult = WriteResult<etcdserverpb::PutResponse>;
using DeleteRangeResult = WriteResult<etcdserverpb::DeleteRangeResponse>;
using TxnResult = WriteResult<etcdserverpb::TxnResponse>;

struct HashKVResult {
  uint32_t hash = 0;
  int64_t compact_revision = 0;  // the compaction in force when hashing
  int64_t hash_revision = 0;     // hashed up to and including this revision
  int64_t current_revision = 0;  // for the response header
};

// A lease as replicated. TTLs are in seconds.
struct LeaseInfo {
  int64_t id = 0;
  int64_t ttl = 0;             // granted
  int64_t remaining_ttl = 0;   // last checkpointed; 0: none since the grant or last renewal
  uint64_t renewed_index = 0;  // raft index of the grant or the newest renewal
  std::vector<std::string> keys;  // attached keys, sorted (only when asked for)
};

// Revoke `id` if its renewed index is still `if_renewed_index` (0: unconditionally). An
// expiry decided by the leader must not revoke a lease renewed after the decision.
struct LeaseRevocation {
  int64_t id = 0;
  uint64_t if_renewed_index = 0;
};

struct LeaseRevokeResult {
  std::vector<int64_t> revoked;       // in request order
  std::vector<mvccpb::Event> events;  // every deleted key, one revision per revoked lease
  int64_t revision = 0;               // the store's revision afterwards
};

struct EventsChunk {
  std::vector<mvccpb::Event> events;  // revisions [from, next_revision)
  int64_t next_revision = 0;
  int64_t compact_revision = 0;  // > 0: history from `from` was compacted; no events
};

class MvccStore {
 public:
  // Opens (creating if needed) a RocksDB of its own in `dir`.
  static absl::StatusOr<std::unique_ptr<MvccStore>> Open(const std::string& dir,
                                                         MvccStoreOptions options);
  // Uses column families of a database owned by the caller, who must keep `db` and both
  // handles alive longer than the store. Create them with ColumnFamilyOptions().
  static absl::StatusOr<std::unique_ptr<MvccStore>> Attach(rocksdb::DB* db,
                                                           rocksdb::ColumnFamilyHandle* kv,
                                                           rocksdb::ColumnFamilyHandle* kv_meta,
                                                           rocksdb::ColumnFamilyHandle* lease,
                                                           MvccStoreOptions options);
  // The tuning the kv, kv_meta and lease families are meant to be opened with.
  static rocksdb::ColumnFamilyOptions ColumnFamilyOptions();
  static std::vector<rocksdb::ColumnFamilyDescriptor> ColumnFamilyDescriptors();

  ~MvccStore();
  MvccStore(const MvccStore&) = delete;
  MvccStore& operator=(const MvccStore&) = delete;

  // ---- Reads (any thread) ----

  // Every RangeRequest option; header.revision is the current revision (also for historical
  // reads, as etcd). serializable is ignored here.
  absl::StatusOr<etcdserverpb::RangeResponse> Range(const etcdserverpb::RangeRequest& request)
      const;

  // The changes of revisions from..to (inclusive, to <= CurrentRevision()) as events, in
  // (revision, sub-revision) order, tombstones as DELETE; no prev_kv. Stops after the
  // revision in which max_events or max_bytes (of stored records) is reached: a revision is
  // never split. When from < the compacted revision C the records may be gone: the chunk is
  // then empty with compact_revision = C (etcd's rule for watches, a start at C is allowed).
  // For watch catch-up (etcd's syncWatchers reads its backend the same way).
  EventsChunk ReadEvents(int64_t from, int64_t to, size_t max_events, size_t max_bytes) const;

  int64_t CurrentRevision() const;    // the newest revision readers can see
  int64_t CompactedRevision() const;  // reads below it fail with ErrCompacted
  uint64_t AppliedIndex() const;      // the newest raft index persisted

  // crc32c over every stored revision <= revision (0 = current) with its value, so members
  // with equal histories and equal compactions agree. ErrCompacted at or below the compacted
  // revision, ErrFutureRev above the current one, as etcd.
  absl::StatusOr<HashKVResult> HashKV(int64_t revision) const;

  // The lease `id` (its keys too when with_keys), or nullopt when it does not exist.
  std::optional<LeaseInfo> GetLease(int64_t id, bool with_keys) const;
  // Every lease, by id, without keys.
  std::vector<LeaseInfo> ListLeases() const;
  size_t LeaseCount() const;

  // Space used by the column families (live SST files plus memtables), for the quota
  // and Status.dbSize; and the part RocksDB estimates is live data (Status.dbSizeInUse).
  int64_t DbSizeBytes() const;
  int64_t DbSizeInUseBytes() const;

  // ---- Writes (the writer thread only) ----

  absl::StatusOr<PutResult> Put(const etcdserverpb::PutRequest& request, uint64_t applied_index);
  absl::StatusOr<DeleteRangeResult> DeleteRange(const etcdserverpb::DeleteRangeRequest& request,
                                                uint64_t applied_index);
  absl::StatusOr<TxnResult> Txn(const etcdserverpb::TxnRequest& request,
                                uint64_t applied_index);
  // Drops every revision a read at or above `revision` cannot see. ErrCompacted when
  // revision <= the compacted revision, ErrFutureRev when above the current one. Commits any
  // open batch first; returns after the space is reclaimed (etcd's physical=true).
  absl::StatusOr<etcdserverpb::CompactionResponse> Compact(int64_t revision,
                                                           uint64_t applied_index);
  // Creates lease `id` with `ttl` (already clamped by the server). ErrLeaseExist when it exists.
  absl::Status GrantLease(int64_t id, int64_t ttl, uint64_t applied_index);
  // Revokes one lease: its keys are deleted at one revision. ErrLeaseNotFound when unknown.
  absl::StatusOr<LeaseRevokeResult> RevokeLease(int64_t id, uint64_t applied_index);
  // Revokes those of `leases` that exist and match their condition, each at its own
  // revision; the others are skipped. One raft entry of expired leases.
  LeaseRevokeResult RevokeLeases(const std::vector<LeaseRevocation>& leases,
                                 uint64_t applied_index);
  // Records a renewal of each existing lease in `ids` (renewed index = applied_index, no
  // checkpoint). Returns, per id, its granted TTL, or 0 when it does not exist.
  std::vector<int64_t> RenewLeases(const std::vector<int64_t>& ids, uint64_t applied_index);
  // Records the remaining TTL of existing leases (id, remaining seconds); unknown ids skipped.
  void CheckpointLeases(const std::vector<std::pair<int64_t, int64_t>>& checkpoints,
                        uint64_t applied_index);
  // Records an applied entry that wrote nothing here (a refused request, a conf change).
  absl::Status MarkApplied(uint64_t applied_index);

  void BeginBatch();
  absl::Status CommitBatch();

  // The whole store (every revision kept, compaction state, applied index) as one string,
  // from one consistent point; any thread. RestoreDump replaces the store's contents with a
  // dump, atomically on disk (writer thread, outside a batch). For raft snapshots
  // (kv/store_snapshot.cc).
  absl::StatusOr<std::string> Dump() const;
  absl::Status RestoreDump(std::string_view dump);

  // Aborts if the in-memory state is inconsistent. For tests and simulation.
  void CheckInvariants() const;

 private:
  struct RevisionWriter;  // one revision under construction (store_write.cc)
  class ValueReader;      // where a read finds value bytes (store_read.cc)

  MvccStore(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* kv, rocksdb::ColumnFamilyHandle* meta,
            rocksdb::ColumnFamilyHandle* lease, MvccStoreOptions options);
  absl::Status Load();
  // store_lease.cc
  struct Lease {
    int64_t ttl = 0;
    int64_t remaining_ttl = 0;
    uint64_t renewed_index = 0;
    absl::btree_set<std::string> keys;
  };
  absl::Status LoadLeases();
  void PersistLease(int64_t id, const Lease& lease);
  // Moves `key`'s attachment from its current lease (if any) to `lease` (0: none). Caller
  // holds mu_ exclusively.
  void AttachKeyLocked(std::string_view key, int64_t lease);
  // The revocation of one existing lease inside a write call.
  void RevokeOne(int64_t id, LeaseRevokeResult* result);
  void FinishLeaseWrite(uint64_t applied_index);
  absl::Status FinishCompaction(const CompactionPlan& plan);

  // store_read.cc
  absl::StatusOr<etcdserverpb::RangeResponse> RangeLocked(
      const etcdserverpb::RangeRequest& request, int64_t current_rev,
      std::shared_lock<std::shared_mutex>* lock, const ValueReader& reader) const;
  bool ReadCommitted(Revision rev, mvccpb::KeyValue* kv, bool* tombstone) const;
  bool ReadForWriter(Revision rev, mvccpb::KeyValue* kv) const;

  // store_write.cc
  absl::Status CheckLease(int64_t lease) const;
  // Aborts if `h` is not live: callers only ask for keys they found live.
  void LatestForWriter(const KeyHistory& h, mvccpb::KeyValue* kv) const;
  void ApplyPut(RevisionWriter& txn, const etcdserverpb::PutRequest& request,
                etcdserverpb::PutResponse* response);
  void ApplyDelete(RevisionWriter& txn, const etcdserverpb::DeleteRangeRequest& request,
                   etcdserverpb::DeleteRangeResponse* response);
  // `history` is index_.Find(kv.key) as the caller just found it (nullptr: a new key).
  void WriteRecord(RevisionWriter& txn, const KeyHistory* history, bool tombstone,
                   const KeyValueFields& kv);
  void FinishWrite(RevisionWriter& txn, uint64_t applied_index);
  void CheckAppliedIndex(uint64_t applied_index) const;
  absl::Status CommitPending();

  // store_txn.cc
  struct TxnPlan;
  bool EvaluateCompare(const etcdserverpb::Compare& compare) const;
  TxnPlan PlanTxn(const etcdserverpb::TxnRequest& request) const;
  absl::Status CheckTxnAgainstState(const etcdserverpb::TxnRequest& request,
                                    const TxnPlan& plan, bool puts) const;
  void ApplyTxnOps(RevisionWriter& txn, const etcdserverpb::TxnRequest& request, const TxnPlan& plan,
                   etcdserverpb::TxnResponse* response);

  rocksdb::DB* db_;
  std::unique_ptr<rocksdb::DB> owned_db_;  // set by Open()
  std::vector<std::unique_ptr<rocksdb::ColumnFamilyHandle>> owned_handles_;
  rocksdb::ColumnFamilyHandle* kv_cf_;
  rocksdb::ColumnFamilyHandle* meta_cf_;
  rocksdb::ColumnFamilyHandle* lease_cf_;
  const MvccStoreOptions options_;

  // Guards the members below it that readers use. The writer takes it exclusively for the
  // short moments it changes them.
  mutable std::shared_mutex mu_;
  KeyIndex index_;
  int64_t visible_rev_ = 1;      // Invariant: <= current_rev_; == it outside a batch.
  // -1 until the first compaction (etcd's compactMainRev): Compact(0) is then allowed.
  int64_t compacted_rev_ = -1;   // Invariant: <= visible_rev_.
  uint64_t applied_index_ = 0;   // committed
  // The lease table, and each leased key's lease (keys without a lease are not in it).
  // Invariant: key_lease_[k] == l  <=>  k is in leases_[l].keys.
  absl::flat_hash_map<int64_t, Lease> leases_;
  absl::flat_hash_map<std::string, int64_t> key_lease_;

  // Writer-only state (no lock: one writer).
  mutable std::mutex write_mu_;  // serializes write calls: one writer at a time
  int64_t current_rev_ = 1;      // including the open batch
  uint64_t pending_applied_index_ = 0;
  bool in_batch_ = false;
  rocksdb::WriteBatch batch_;
  // Serialized KeyValues of puts in the open batch, by revision, that the writer may need to
  // read back before they reach RocksDB (a txn's historical range, a prev_kv).
  // Invariant: every put of the open batch is either its key's cached newest value
  // (KeyHistory::latest) or here. With the value cache on, only puts superseded within the
  // batch land here, so a batch of new keys never touches the map.
  absl::flat_hash_map<Revision, std::string> pending_values_;

  // Held across a compaction's physical deletion, and by HashKV while it takes a snapshot, so
  // a hash sees a compaction entirely or not at all.
  mutable std::mutex physical_mu_;
};

}  // namespace keel::kv
