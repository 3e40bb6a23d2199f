// Stateless checks of KV requests, exactly as etcd's API layer makes them (v3rpc/key.go).
//
// The server may run these before proposing so a bad request never reaches the log; the
// store runs them again when applying (they are cheap and deterministic), so a request that
// fails them is refused before anything is written.
#pragma once

#include "absl/status/status.h"
#include "etcd/rpc.pb.h"

namespace keel::kv {

// etcd's --max-txn-ops default.
inline constexpr int kDefaultMaxTxnOps = 128;

absl::Status CheckRangeRequest(const etcdserverpb::RangeRequest& request);
absl::Status CheckPutRequest(const etcdserverpb::PutRequest& request);
absl::Status CheckDeleteRangeRequest(const etcdserverpb::DeleteRangeRequest& request);

// Op counts (compare, success and failure each at most max_txn_ops; a nested txn gets what
// its parent leaves), the checks above for every op, an empty RequestOp refused with
// ErrKeyNotFound as etcd does, then the duplicate-key rule: no key may be put twice, or put
// and deleted, in one txn (branches of one nested txn exclude each other, so a key may be
// put in both). Deletes may overlap each other.
absl::Status CheckTxnRequest(const etcdserverpb::TxnRequest& request, int max_txn_ops);

// True when no op in any branch, at any depth, is a Put or DeleteRange.
bool IsTxnReadOnly(const etcdserverpb::TxnRequest& request);

}  // namespace keel::kv
