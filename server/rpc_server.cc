#include "server/rpc_server.h"

#include "server/rpc_bidi.h"
#include "server/rpc_fallback.h"
#include "server/rpc_unary.h"

namespace keel::server {
namespace {

// Calls waiting for requests per KV method: a thousand clients' new calls arrive in bursts.
constexpr int kKvListeners = 8;

}  // namespace

template <typename Service, typename Base, typename Request, typename Response, typename Handler>
void RpcServer::AddUnary(Service* service,
                         void (Base::*request)(grpc::ServerContext*, Request*,
                                               grpc::ServerAsyncResponseWriter<Response>*,
                                               grpc::CompletionQueue*, grpc::ServerCompletionQueue*,
                                               void*),
                         Handler* handler,
                         void (Handler::*handle)(UnaryContext*, const Request*, Response*),
                         int listeners) {
  auto method = std::make_shared<UnaryMethod<Request, Response>>();
  method->request = [service, request](grpc::ServerContext* context, Request* req,
                                       grpc::ServerAsyncResponseWriter<Response>* writer,
                                       grpc::ServerCompletionQueue* cq, void* tag) {
    (service->*request)(context, req, writer, cq, cq, tag);
  };
  method->handler = [handler, handle](UnaryContext* context, const Request* req, Response* resp) {
    (handler->*handle)(context, req, resp);
  };
  method->cq = loop_->server_cq();
  ServeUnary(method.get(), listeners);
  methods_.push_back(std::move(method));
}

template <typename Service, typename Base, typename Request, typename Response, typename Handler>
void RpcServer::AddBidi(
    Service* service,
    void (Base::*request)(grpc::ServerContext*, grpc::ServerAsyncReaderWriter<Response, Request>*,
                          grpc::CompletionQueue*, grpc::ServerCompletionQueue*, void*),
    Handler* handler, BidiReactor<Request, Response>* (Handler::*make)(grpc::ServerContext*)) {
  auto method = std::make_shared<BidiMethod<Request, Response>>();
  method->request = [service, request](grpc::ServerContext* context,
                                       grpc::ServerAsyncReaderWriter<Response, Request>* stream,
                                       grpc::ServerCompletionQueue* cq, void* tag) {
    (service->*request)(context, stream, cq, cq, tag);
  };
  method->make_reactor = [handler, make](grpc::ServerContext* context) {
    return (handler->*make)(context);
  };
  method->cq = loop_->server_cq();
  ServeBidi(method.get());
  methods_.push_back(std::move(method));
}

void RpcServer::Register(grpc::ServerBuilder* builder) {
  builder->RegisterService(&kv_);
  builder->RegisterService(&watch_);
  builder->RegisterService(&lease_);
  builder->RegisterService(&cluster_);
  builder->RegisterService(&maintenance_);
  builder->RegisterAsyncGenericService(&fallback_);
  loop_ = std::make_unique<RpcLoop>(builder->AddCompletionQueue());
}

void RpcServer::Start() {
  KvService* kv = handlers_.kv;
  AddUnary(&kv_, &etcdserverpb::KV::AsyncService::RequestRange, kv, &KvService::Range,
           kKvListeners);
  AddUnary(&kv_, &etcdserverpb::KV::AsyncService::RequestPut, kv, &KvService::Put, kKvListeners);
  AddUnary(&kv_, &etcdserverpb::KV::AsyncService::RequestDeleteRange, kv, &KvService::DeleteRange,
           kKvListeners);
  AddUnary(&kv_, &etcdserverpb::KV::AsyncService::RequestTxn, kv, &KvService::Txn, kKvListeners);
  AddUnary(&kv_, &etcdserverpb::KV::AsyncService::RequestCompact, kv, &KvService::Compact, 1);

  AddBidi(&watch_, &decltype(watch_)::RequestWatch, handlers_.watch, &WatchService::Watch);

  LeaseService* lease = handlers_.lease;
  using Lease = etcdserverpb::Lease::AsyncService;
  AddUnary(&lease_, &Lease::RequestLeaseGrant, lease, &LeaseService::LeaseGrant, 1);
  AddUnary(&lease_, &Lease::RequestLeaseRevoke, lease, &LeaseService::LeaseRevoke, 1);
  AddUnary(&lease_, &Lease::RequestLeaseTimeToLive, lease, &LeaseService::LeaseTimeToLive, 1);
  AddUnary(&lease_, &Lease::RequestLeaseLeases, lease, &LeaseService::LeaseLeases, 1);
  AddBidi(&lease_, &Lease::RequestLeaseKeepAlive, lease, &LeaseService::LeaseKeepAlive);

  ClusterService* cluster = handlers_.cluster;
  using Cluster = etcdserverpb::Cluster::AsyncService;
  AddUnary(&cluster_, &Cluster::RequestMemberAdd, cluster, &ClusterService::MemberAdd, 1);
  AddUnary(&cluster_, &Cluster::RequestMemberRemove, cluster, &ClusterService::MemberRemove, 1);
  AddUnary(&cluster_, &Cluster::RequestMemberUpdate, cluster, &ClusterService::MemberUpdate, 1);
  AddUnary(&cluster_, &Cluster::RequestMemberList, cluster, &ClusterService::MemberList, 1);
  AddUnary(&cluster_, &Cluster::RequestMemberPromote, cluster, &ClusterService::MemberPromote, 1);

  MaintenanceService* maintenance = handlers_.maintenance;
  AddUnary(&maintenance_, &MaintenanceAsync::RequestStatus, maintenance,
           &MaintenanceService::Status, 1);
  AddUnary(&maintenance_, &MaintenanceAsync::RequestAlarm, maintenance, &MaintenanceService::Alarm,
           1);
  AddUnary(&maintenance_, &MaintenanceAsync::RequestHashKV, maintenance,
           &MaintenanceService::HashKV, 1);
  AddUnary(&maintenance_, &MaintenanceAsync::RequestMoveLeader, maintenance,
           &MaintenanceService::MoveLeader, 1);

  ServeFallback(&fallback_, loop_->server_cq());
  loop_->Start();
}

}  // namespace keel::server
