// The etcd KV service (etcdserverpb.KV), served on the RPC loop (rpc_server.h). Writes are
// proposed and answered from the apply thread; linearizable reads wait for a ReadIndex
// round; serializable reads are served at once from local state. No handler blocks the loop.
#pragma once

#include <atomic>

#include "etcd/rpc.grpc.pb.h"
#include "server/rpc_unary.h"
#include "server/service_context.h"

namespace keel::server {

class KvService final {
 public:
  explicit KvService(const ServiceContext* ctx) : ctx_(ctx) {}

  void Range(UnaryContext* context, const etcdserverpb::RangeRequest* request,
             etcdserverpb::RangeResponse* response);
  void Put(UnaryContext* context, const etcdserverpb::PutRequest* request,
           etcdserverpb::PutResponse* response);
  void DeleteRange(UnaryContext* context, const etcdserverpb::DeleteRangeRequest* request,
                   etcdserverpb::DeleteRangeResponse* response);
  void Txn(UnaryContext* context, const etcdserverpb::TxnRequest* request,
           etcdserverpb::TxnResponse* response);
  void Compact(UnaryContext* context, const etcdserverpb::CompactionRequest* request,
               etcdserverpb::CompactionResponse* response);

 private:
  // Refuses learners and writes that would exceed the quota, else ProposeAndReply
  // (server/unary_reply.h).
  template <typename Response>
  void CheckAndPropose(UnaryContext* context, serverpb::Request request, Response* response,
                       bool costs_space);
  // etcd's quota check: past it, raise the NOSPACE alarm and refuse.
  absl::Status CheckQuota(size_t request_bytes) const;
  // The store's size, re-read at most every 100 ms. Reading it takes six RocksDB
  // property look-ups, one under the DB mutex the write path also takes: per put that was
  // ~2% of a member's CPU. etcd's quota check is approximate too (it reads the backend's
  // size, not the size after the pending writes).
  int64_t StoreSizeBytes() const;

  const ServiceContext* ctx_;
  mutable std::atomic<int64_t> size_bytes_{0};
  mutable std::atomic<int64_t> size_read_at_ns_{0};  // the epoch: long ago
};

}  // namespace keel::server
