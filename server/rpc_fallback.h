// Calls no Keel service handles, served on the RPC loop: gRPC's health check
// (grpc.health.v1.Health/Check answers SERVING for the server as a whole, "" — etcd
// registers gRPC's health server too), and UNIMPLEMENTED for every other method (the
// Auth service, Maintenance.Snapshot and friends, unknown names), as gRPC answers them.
#pragma once

#include <grpcpp/generic/async_generic_service.h>

namespace keel::server {

// Starts answering on `cq`; `service` must be registered with the server and outlive it.
void ServeFallback(grpc::AsyncGenericService* service, grpc::ServerCompletionQueue* cq);

}  // namespace keel::server
