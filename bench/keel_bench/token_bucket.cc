#include "bench/keel_bench/token_bucket.h"

#include <algorithm>
#include <cmath>

#include "base/check.h"

namespace keel::bench {

TokenBucket::TokenBucket(double rate_per_s, double burst, int64_t start_ns)
    : rate_per_s_(rate_per_s), burst_(burst), tokens_(burst), last_ns_(start_ns) {
  KEEL_CHECK(rate_per_s > 0) << "rate " << rate_per_s;
  KEEL_CHECK(burst >= 1) << "burst " << burst;
}

int64_t TokenBucket::Reserve(int64_t now_ns) {
  now_ns = std::max(now_ns, last_ns_);
  tokens_ = std::min(burst_, tokens_ + static_cast<double>(now_ns - last_ns_) * rate_per_s_ / 1e9);
  last_ns_ = now_ns;
  tokens_ -= 1;
  if (tokens_ >= 0) return now_ns;
  return now_ns + static_cast<int64_t>(std::ceil(-tokens_ * 1e9 / rate_per_s_));
}

}  // namespace keel::bench
