// Minimal parsing of etcd's URL flags ("http://host:port", comma separated).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace keel::server {

struct HostPort {
  std::string host;
  int port = 0;
};

// Accepts http:// (and plain host:port); https/unix are refused: Keel has no TLS yet.
absl::StatusOr<HostPort> ParseUrl(const std::string& url);
// "a,b,c" -> {"a","b","c"} with empty items dropped.
std::vector<std::string> SplitList(const std::string& list);

}  // namespace keel::server
