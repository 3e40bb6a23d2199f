// The etcd KV service (etcdserverpb.KV) as gRPC callback reactors. Writes are proposed and
// answered from the apply thread; linearizable reads wait for a ReadIndex round; serializable
// reads are served at once from local state. No handler blocks its gRPC thread.
#pragma once

#include "etcd/rpc.grpc.pb.h"
#include "server/service_context.h"

namespace keel::server {

class KvService final : public etcdserverpb::KV::CallbackService {
 public:
  explicit KvService(const ServiceContext* ctx) : ctx_(ctx) {}

  grpc::ServerUnaryReactor* Range(grpc::CallbackServerContext* context,
                                  const etcdserverpb::RangeRequest* request,
                                  etcdserverpb::RangeResponse* response) override;
  grpc::ServerUnaryReactor* Put(grpc::CallbackServerContext* context,
                                const etcdserverpb::PutRequest* request,
                                etcdserverpb::PutResponse* response) override;
  grpc::ServerUnaryReactor* DeleteRange(grpc::CallbackServerContext* context,
                                        const etcdserverpb::DeleteRangeRequest* request,
                                        etcdserverpb::DeleteRangeResponse* response) override;
  grpc::ServerUnaryReactor* Txn(grpc::CallbackServerContext* context,
                                const etcdserverpb::TxnRequest* request,
                                etcdserverpb::TxnResponse* response) override;
  grpc::ServerUnaryReactor* Compact(grpc::CallbackServerContext* context,
                                    const etcdserverpb::CompactionRequest* request,
                                    etcdserverpb::CompactionResponse* response) override;

 private:
  // Refuses learners and writes that would exceed the quota, else ProposeAndReply
  // (server/unary_reply.h).
  template <typename Response>
  grpc::ServerUnaryReactor* CheckAndPropose(grpc::CallbackServerContext* context,
                                            serverpb::Request request, Response* response,
                                            bool costs_space);
  // etcd's quota check: past it, raise the NOSPACE alarm and refuse.
  absl::Status CheckQuota(size_t request_bytes) const;

  const ServiceContext* ctx_;
};

}  // namespace keel::server
