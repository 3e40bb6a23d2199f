// SimRandom: the simulator's only source of randomness. Seeded, deterministic, portable.
//
// xoshiro256** seeded through splitmix64 (Blackman & Vigna). std::mt19937 would do, but the
// standard distributions (uniform_int_distribution, ...) are implementation-defined, and a
// seed must replay to the same run with any standard library, so the draws are done here.
#pragma once

#include <cstdint>

#include "base/check.h"

namespace keel::raft::sim {

// One splitmix64 step: also a good 64-bit mixer for deriving seeds and hashes.
inline uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Mixes two words into one (for seeds of sub-generators and digest chains).
inline uint64_t Mix64(uint64_t a, uint64_t b) {
  uint64_t state = a ^ (b * 0xff51afd7ed558ccdULL);
  return SplitMix64(&state);
}

class SimRandom {
 public:
  explicit SimRandom(uint64_t seed) {
    uint64_t sm = seed;
    for (uint64_t& word : s_) word = SplitMix64(&sm);
  }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, n). Lemire's multiply-shift; the tiny bias (< n / 2^64) does not matter
  // here and keeps one draw per call, which keeps replays easy to reason about.
  uint64_t Below(uint64_t n) {
    KEEL_CHECK(n > 0);
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }
  // Uniform in [lo, hi].
  uint64_t Range(uint64_t lo, uint64_t hi) {
    KEEL_CHECK_LE(lo, hi);
    return lo + Below(hi - lo + 1);
  }
  // Uniform in [0, 1).
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // True with probability p.
  bool Chance(double p) { return p > 0 && Unit() < p; }
  // Poisson-ish count with mean `rate` (whole part always, fractional part by chance), so a
  // rate of 2.5 proposals per tick means 2 or 3.
  uint64_t Count(double rate) {
    uint64_t whole = static_cast<uint64_t>(rate);
    return whole + (Chance(rate - static_cast<double>(whole)) ? 1 : 0);
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace keel::raft::sim
