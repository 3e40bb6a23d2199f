#include "server/transport/connection_host.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace keel::transport::internal {

PeerTransportStats Counters::Snapshot() const {
  auto get = [](const std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); };
  PeerTransportStats s;
  s.messages_sent = get(messages_sent);
  s.messages_received = get(messages_received);
  s.messages_dropped = get(messages_dropped);
  s.bytes_sent = get(bytes_sent);
  s.bytes_received = get(bytes_received);
  s.snapshots_sent = get(snapshots_sent);
  s.snapshot_send_failures = get(snapshot_send_failures);
  s.snapshots_received = get(snapshots_received);
  s.snapshot_receive_failures = get(snapshot_receive_failures);
  s.dials = get(dials);
  s.dial_failures = get(dial_failures);
  s.connections_accepted = get(connections_accepted);
  s.connections_rejected = get(connections_rejected);
  return s;
}

absl::Status CheckHelloReply(const Hello& reply, const PeerTransportOptions& options,
                             raft::NodeId peer, StreamKind stream) {
  if (reply.protocol_version != kProtocolVersion || reply.cluster_id != options.cluster_id ||
      reply.from != peer || reply.to != options.self_id || reply.stream != stream) {
    return absl::FailedPreconditionError(absl::StrCat(
        "expected member ", peer, " of cluster ", options.cluster_id, ", reached member ",
        reply.from, " of cluster ", reply.cluster_id, " (protocol ", reply.protocol_version, ")"));
  }
  return absl::OkStatus();
}

absl::Status SplitHostPort(std::string_view address, std::string* host, std::string* port) {
  absl::string_view a(address.data(), address.size());
  size_t colon = a.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(absl::StrCat("peer address is not host:port: ", a));
  }
  absl::string_view h = a.substr(0, colon);
  absl::string_view p = a.substr(colon + 1);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  int port_number = 0;
  bool digits = !p.empty();
  for (char c : p) digits = digits && absl::ascii_isdigit(static_cast<unsigned char>(c));
  if (!digits || !absl::SimpleAtoi(p, &port_number) || port_number <= 0 || port_number > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("bad port in peer address: ", a));
  }
  *host = std::string(h);
  *port = std::string(p);
  return absl::OkStatus();
}

}  // namespace keel::transport::internal
