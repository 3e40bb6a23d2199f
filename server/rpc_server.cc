#include "server/rpc_server.h"

#include "server/rpc_bidi.h"
#include "server/rpc_fallback.h"
#include "server/rpc_unary.h"

namespace keel::server {
namespace {

// Calls waiting for requests per KV method: a thousand clients' new calls arrive in bursts.
constexpr int kKvListeners = 8;

// Binds a unary method: `request` is the generated Request<Method> of `service` (declared on
// one of its bases), `handle` the Keel handler. The table goes to `methods`.
template <typename Service, typename Base, typename Request, typename Response, typename Handler>
void AddUnary(grpc::ServerCompletionQueue* cq, std::vector<std::shared_ptr<void>>* methods,
              Service* service,
              void (Base::*request)(grpc::ServerContext*, Request*,
                                    grpc::ServerAsyncResponseWriter<Response>*,
                                    grpc::CompletionQueue*, grpc::ServerCompletionQueue*, void*),
              Handler* handler, void (Handler::*handle)(UnaryContext*, const Request*, Response*),
              int listeners = 1) {
  auto method = std::make_shared<UnaryMethod<Request, Response>>();
  method->request = [service, request, cq](grpc::ServerContext* context, Request* req,
                                           grpc::ServerAsyncResponseWriter<Response>* writer,
                                           void* tag) {
    (service->*request)(context, req, writer, cq, cq, tag);
  };
  method->handler = [handler, handle](UnaryContext* context, const Request* req, Response* resp) {
    (handler->*handle)(context, req, resp);
  };
  ServeUnary(method.get(), listeners);
  methods->push_back(std::move(method));
}

// As AddUnary, for a bidirectional stream; `make` makes the stream's reactor.
template <typename Service, typename Base, typename Request, typename Response, typename Handler>
void AddBidi(grpc::ServerCompletionQueue* cq, std::vector<std::shared_ptr<void>>* methods,
             Service* service,
             void (Base::*request)(grpc::ServerContext*,
                                   grpc::ServerAsyncReaderWriter<Response, Request>*,
                                   grpc::CompletionQueue*, grpc::ServerCompletionQueue*, void*),
             Handler* handler,
             BidiReactor<Request, Response>* (Handler::*make)(grpc::ServerContext*)) {
  auto method = std::make_shared<BidiMethod<Request, Response>>();
  method->request = [service, request, cq](grpc::ServerContext* context,
                                           grpc::ServerAsyncReaderWriter<Response, Request>* stream,
                                           void* tag) {
    (service->*request)(context, stream, cq, cq, tag);
  };
  method->make_reactor = [handler, make](grpc::ServerContext* context) {
    return (handler->*make)(context);
  };
  ServeBidi(method.get());
  methods->push_back(std::move(method));
}

}  // namespace

RpcServer::RpcServer(Handlers handlers, grpc::ServerBuilder* builder) : handlers_(handlers) {
  builder->RegisterService(&kv_);
  builder->RegisterService(&watch_);
  builder->RegisterService(&lease_);
  builder->RegisterService(&cluster_);
  builder->RegisterService(&maintenance_);
  builder->RegisterAsyncGenericService(&fallback_);
  std::unique_ptr<grpc::ServerCompletionQueue> cq = builder->AddCompletionQueue();
  cq_ = cq.get();
  loop_ = std::make_unique<RpcLoop>(std::move(cq));
}

void RpcServer::Start() {
  auto* m = &methods_;
  KvService* kv = handlers_.kv;
  using KV = etcdserverpb::KV::AsyncService;
  AddUnary(cq_, m, &kv_, &KV::RequestRange, kv, &KvService::Range, kKvListeners);
  AddUnary(cq_, m, &kv_, &KV::RequestPut, kv, &KvService::Put, kKvListeners);
  AddUnary(cq_, m, &kv_, &KV::RequestDeleteRange, kv, &KvService::DeleteRange, kKvListeners);
  AddUnary(cq_, m, &kv_, &KV::RequestTxn, kv, &KvService::Txn, kKvListeners);
  AddUnary(cq_, m, &kv_, &KV::RequestCompact, kv, &KvService::Compact);

  AddBidi(cq_, m, &watch_, &decltype(watch_)::RequestWatch, handlers_.watch, &WatchService::Watch);

  LeaseService* lease = handlers_.lease;
  using Lease = etcdserverpb::Lease::AsyncService;
  AddUnary(cq_, m, &lease_, &Lease::RequestLeaseGrant, lease, &LeaseService::LeaseGrant);
  AddUnary(cq_, m, &lease_, &Lease::RequestLeaseRevoke, lease, &LeaseService::LeaseRevoke);
  AddUnary(cq_, m, &lease_, &Lease::RequestLeaseTimeToLive, lease, &LeaseService::LeaseTimeToLive);
  AddUnary(cq_, m, &lease_, &Lease::RequestLeaseLeases, lease, &LeaseService::LeaseLeases);
  AddBidi(cq_, m, &lease_, &Lease::RequestLeaseKeepAlive, lease, &LeaseService::LeaseKeepAlive);

  ClusterService* cluster = handlers_.cluster;
  using Cluster = etcdserverpb::Cluster::AsyncService;
  AddUnary(cq_, m, &cluster_, &Cluster::RequestMemberAdd, cluster, &ClusterService::MemberAdd);
  AddUnary(cq_, m, &cluster_, &Cluster::RequestMemberRemove, cluster,
           &ClusterService::MemberRemove);
  AddUnary(cq_, m, &cluster_, &Cluster::RequestMemberUpdate, cluster,
           &ClusterService::MemberUpdate);
  AddUnary(cq_, m, &cluster_, &Cluster::RequestMemberList, cluster, &ClusterService::MemberList);
  AddUnary(cq_, m, &cluster_, &Cluster::RequestMemberPromote, cluster,
           &ClusterService::MemberPromote);

  MaintenanceService* maint = handlers_.maintenance;
  using Maint = MaintenanceAsync;
  AddUnary(cq_, m, &maintenance_, &Maint::RequestStatus, maint, &MaintenanceService::Status);
  AddUnary(cq_, m, &maintenance_, &Maint::RequestAlarm, maint, &MaintenanceService::Alarm);
  AddUnary(cq_, m, &maintenance_, &Maint::RequestHashKV, maint, &MaintenanceService::HashKV);
  AddUnary(cq_, m, &maintenance_, &Maint::RequestMoveLeader, maint,
           &MaintenanceService::MoveLeader);

  ServeFallback(&fallback_, cq_);
  loop_->Start();
}

}  // namespace keel::server
