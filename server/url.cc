#include "server/url.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace keel::server {

absl::StatusOr<HostPort> ParseUrl(const std::string& url) {
  absl::string_view rest(url);
  if (absl::ConsumePrefix(&rest, "https://") || absl::StartsWith(rest, "unix")) {
    return absl::InvalidArgumentError(absl::StrCat("unsupported URL scheme (no TLS yet): ", url));
  }
  absl::ConsumePrefix(&rest, "http://");
  while (absl::ConsumeSuffix(&rest, "/")) {
  }
  size_t colon = rest.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("URL without a port: ", url));
  }
  HostPort hp;
  hp.host = std::string(rest.substr(0, colon));
  if (!absl::SimpleAtoi(rest.substr(colon + 1), &hp.port) || hp.port < 0 || hp.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("bad port in URL: ", url));
  }
  if (hp.host.empty()) hp.host = "0.0.0.0";
  return hp;
}

std::vector<std::string> SplitList(const std::string& list) {
  return absl::StrSplit(list, ',', absl::SkipWhitespace());
}

}  // namespace keel::server
