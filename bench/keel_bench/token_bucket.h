// Open-loop pacing: a token bucket that hands out send times, like Go's rate.Limiter.Reserve
// (etcd's benchmark uses rate.NewLimiter(rate, 1)). Tokens accrue at `rate_per_s` up to
// `burst`; each Reserve() takes one token and returns when the request may be sent. Tokens may
// go negative: concurrent clients then queue for later slots, so the long-run send rate is
// exactly `rate_per_s` as long as enough clients are free.
//
// Pure: time is a nanosecond count handed in by the caller. Not thread-safe.
#pragma once

#include <cstdint>

namespace keel::bench {

class TokenBucket {
 public:
  // rate_per_s > 0, burst >= 1. The bucket starts full at time `start_ns`.
  TokenBucket(double rate_per_s, double burst, int64_t start_ns);

  // Takes one token at time now_ns (non-decreasing across calls is not required: an earlier
  // now_ns is treated as the latest time seen). Returns the time at which to send: now_ns if a
  // token was available, otherwise when the token will have accrued.
  int64_t Reserve(int64_t now_ns);

  double rate_per_s() const { return rate_per_s_; }

 private:
  double rate_per_s_;
  double burst_;
  double tokens_;
  int64_t last_ns_;
};

}  // namespace keel::bench
