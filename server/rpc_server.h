// RpcServer: the etcd gRPC API of one member on the async API and one RpcLoop thread
// (server/rpc_loop.h says why). It holds gRPC's generated async services, binds each method
// to its Keel handler (KvService, WatchService, LeaseService, ClusterService,
// MaintenanceService) and answers the rest through the fallback (server/rpc_fallback.h).
#pragma once

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

#include <memory>
#include <vector>

#include "etcd/rpc.grpc.pb.h"
#include "server/cluster_service.h"
#include "server/kv_service.h"
#include "server/lease_service.h"
#include "server/maintenance_service.h"
#include "server/rpc_loop.h"
#include "server/watch_service.h"

namespace keel::server {

class RpcServer {
 public:
  struct Handlers {
    KvService* kv;
    WatchService* watch;
    LeaseService* lease;
    ClusterService* cluster;
    MaintenanceService* maintenance;
  };

  // Registers the services and the loop's queue with `builder`, before its BuildAndStart.
  RpcServer(Handlers handlers, grpc::ServerBuilder* builder);

  // After BuildAndStart: starts waiting for calls, and the loop's thread.
  void Start();
  RpcLoop* loop() const { return loop_.get(); }

 private:
  // Maintenance RPCs Keel does not serve yet are marked generic, so the fallback answers
  // them (UNIMPLEMENTED): an async method nobody asks gRPC for would hang its callers.
  using Maintenance = etcdserverpb::Maintenance;
  using MaintenanceAsync = Maintenance::WithAsyncMethod_Alarm<
      Maintenance::WithAsyncMethod_Status<Maintenance::WithAsyncMethod_HashKV<
          Maintenance::WithAsyncMethod_MoveLeader<Maintenance::WithGenericMethod_Defragment<
              Maintenance::WithGenericMethod_Hash<Maintenance::WithGenericMethod_Snapshot<
                  Maintenance::WithGenericMethod_Downgrade<Maintenance::Service>>>>>>>>;

  Handlers handlers_;
  etcdserverpb::KV::AsyncService kv_;
  etcdserverpb::Watch::WithRawMethod_Watch<etcdserverpb::Watch::Service> watch_;
  etcdserverpb::Lease::AsyncService lease_;
  etcdserverpb::Cluster::AsyncService cluster_;
  MaintenanceAsync maintenance_;
  grpc::AsyncGenericService fallback_;
  grpc::ServerCompletionQueue* cq_;  // owned by loop_
  std::unique_ptr<RpcLoop> loop_;
  // The method tables the calls point at: they live as long as the server.
  std::vector<std::shared_ptr<void>> methods_;
};

}  // namespace keel::server
