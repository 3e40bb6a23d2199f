#include "bench/keel_bench/conn.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <chrono>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "bench/keel_bench/report.h"

namespace keel::bench {
namespace {

std::chrono::system_clock::time_point DeadlineAfter(absl::Duration d) {
  return std::chrono::system_clock::now() + absl::ToChronoNanoseconds(d);
}

}  // namespace

absl::StatusOr<std::string> NormalizeEndpoint(const std::string& endpoint) {
  absl::string_view e = endpoint;
  if (absl::StartsWith(e, "https://") || absl::StartsWith(e, "unix:") ||
      absl::StartsWith(e, "unixs:")) {
    return absl::InvalidArgumentError(
        absl::StrCat("endpoint ", endpoint, ": only plain-text http endpoints are supported"));
  }
  absl::ConsumePrefix(&e, "http://");
  while (absl::ConsumeSuffix(&e, "/")) {
  }
  const size_t colon = e.rfind(':');
  if (e.empty() || colon == absl::string_view::npos || colon == 0 || colon + 1 == e.size() ||
      e.find('/') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("endpoint \"", endpoint, "\" is not host:port"));
  }
  return std::string(e);
}

std::string DescribeStatus(const grpc::Status& status) {
  if (status.error_message().empty()) return StatusCodeName(status.error_code());
  return absl::StrCat(StatusCodeName(status.error_code()), ": ", status.error_message());
}

std::unique_ptr<Conn> NewConn(const std::string& endpoint) {
  grpc::ChannelArguments args;
  // A subchannel pool of its own: without it, channels to the same address share one TCP
  // connection and --conns would not mean connections.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  // A load generator must not resend: and the retry filter copies every message it sends.
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  auto conn = std::make_unique<Conn>();
  conn->endpoint = endpoint;
  conn->channel = grpc::CreateCustomChannel(endpoint, grpc::InsecureChannelCredentials(), args);
  conn->kv = etcdserverpb::KV::NewStub(conn->channel);
  conn->watch = etcdserverpb::Watch::NewStub(conn->channel);
  conn->lease = etcdserverpb::Lease::NewStub(conn->channel);
  conn->maintenance = etcdserverpb::Maintenance::NewStub(conn->channel);
  conn->cluster = etcdserverpb::Cluster::NewStub(conn->channel);
  return conn;
}

absl::StatusOr<std::vector<std::unique_ptr<Conn>>> OpenConns(
    const std::vector<std::string>& endpoints, int n, int first, absl::Duration dial_timeout) {
  std::vector<std::unique_ptr<Conn>> conns;
  for (int i = 0; i < n; ++i) {
    conns.push_back(NewConn(endpoints[static_cast<size_t>(first + i) % endpoints.size()]));
  }
  // Connect them all at once, then wait for each.
  for (auto& c : conns) c->channel->GetState(/*try_to_connect=*/true);
  const auto deadline = DeadlineAfter(dial_timeout);
  for (auto& c : conns) {
    if (!c->channel->WaitForConnected(deadline)) {
      return absl::UnavailableError(absl::StrCat("cannot connect to ", c->endpoint, " within ",
                                                 absl::FormatDuration(dial_timeout)));
    }
  }
  return conns;
}

absl::StatusOr<std::string> FindLeaderEndpoint(const std::vector<std::string>& endpoints,
                                               absl::Duration timeout) {
  uint64_t leader = 0;
  std::string last_error = "no endpoint answered";
  Conn* any_alive = nullptr;
  std::vector<std::unique_ptr<Conn>> conns;
  for (const auto& e : endpoints) {
    conns.push_back(NewConn(e));
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineAfter(timeout));
    etcdserverpb::StatusResponse resp;
    grpc::Status st = conns.back()->maintenance->Status(&ctx, etcdserverpb::StatusRequest(), &resp);
    if (!st.ok()) {
      last_error = absl::StrCat(e, ": Maintenance.Status: ", DescribeStatus(st));
      continue;
    }
    any_alive = conns.back().get();
    if (resp.leader() != 0 && resp.leader() == resp.header().member_id()) return e;
    if (resp.leader() != 0) leader = resp.leader();
  }
  if (leader == 0) return absl::UnavailableError(absl::StrCat("no leader found: ", last_error));
  // The leader is not one of the given endpoints: ask the cluster for its client URLs.
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineAfter(timeout));
  etcdserverpb::MemberListResponse members;
  grpc::Status st =
      any_alive->cluster->MemberList(&ctx, etcdserverpb::MemberListRequest(), &members);
  if (!st.ok()) {
    return absl::UnavailableError(absl::StrCat("Cluster.MemberList: ", DescribeStatus(st)));
  }
  for (const auto& m : members.members()) {
    if (m.id() == leader && m.clienturls_size() > 0) return NormalizeEndpoint(m.clienturls(0));
  }
  return absl::UnavailableError(absl::StrCat("leader ", absl::Hex(leader), " has no client URL"));
}

absl::StatusOr<std::vector<std::string>> ResolveEndpoints(const std::vector<std::string>& given,
                                                          bool target_leader,
                                                          absl::Duration timeout) {
  std::vector<std::string> endpoints;
  for (const auto& e : given) {
    auto n = NormalizeEndpoint(e);
    if (!n.ok()) return n.status();
    endpoints.push_back(*n);
  }
  if (!target_leader) return endpoints;
  auto leader = FindLeaderEndpoint(endpoints, timeout);
  if (!leader.ok()) return leader.status();
  return std::vector<std::string>{*leader};
}

}  // namespace keel::bench
