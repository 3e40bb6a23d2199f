// Connections to the servers: `--conns` gRPC channels, each its own TCP connection (a local
// subchannel pool per channel), round-robin over the endpoints, plus --target-leader.
#pragma once

#include <grpcpp/channel.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "etcd/rpc.grpc.pb.h"

namespace keel::bench {

// "host:port" from "host:port" or "http://host:port[/]". TLS (https://, unix sockets) is not
// supported: an error that says so.
absl::StatusOr<std::string> NormalizeEndpoint(const std::string& endpoint);

// "UNAVAILABLE: etcdserver: no leader" from a gRPC status.
std::string DescribeStatus(const grpc::Status& status);

struct Conn {
  std::string endpoint;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<etcdserverpb::KV::Stub> kv;
  std::unique_ptr<etcdserverpb::Watch::Stub> watch;
  std::unique_ptr<etcdserverpb::Lease::Stub> lease;
  std::unique_ptr<etcdserverpb::Maintenance::Stub> maintenance;
  std::unique_ptr<etcdserverpb::Cluster::Stub> cluster;
};

// One channel that shares no TCP connection with any other.
std::unique_ptr<Conn> NewConn(const std::string& endpoint);

// `n` connections, connection i to endpoints[(first + i) % size], each connected within
// dial_timeout (else an error naming the endpoint).
absl::StatusOr<std::vector<std::unique_ptr<Conn>>> OpenConns(
    const std::vector<std::string>& endpoints, int n, int first, absl::Duration dial_timeout);

// Asks every endpoint for Maintenance.Status and returns the one whose member id is the
// leader; when the leader is not among them, its first client URL from Cluster.MemberList.
absl::StatusOr<std::string> FindLeaderEndpoint(const std::vector<std::string>& endpoints,
                                               absl::Duration timeout);

// The endpoints to load: normalized, and only the leader's with target_leader.
absl::StatusOr<std::vector<std::string>> ResolveEndpoints(const std::vector<std::string>& given,
                                                          bool target_leader,
                                                          absl::Duration timeout);

}  // namespace keel::bench
