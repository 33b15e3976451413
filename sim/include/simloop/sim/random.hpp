// simloop's own pseudo-random number generator.
//
// Contract: the algorithms are fixed and documented, so a seed means the same
// stream on every platform, compiler and standard library, forever (a unit
// test pins the first outputs of several seeds; changing any of this breaks
// every saved seed and must be a deliberate, versioned decision):
//  - splitmix64 (Steele, Lea, Flood 2014) expands a 64-bit seed into the
//    generator's 256-bit state: four consecutive splitmix64 outputs.
//  - xoshiro256** 1.0 (Blackman, Vigna 2018) produces the stream.
//  - bounded(n) draws uniformly from [0, n) with Lemire's multiply-shift
//    method with rejection (2019): no modulo bias, usually no division.
//  - chance(p) is true with probability p (a threshold on a 64-bit draw,
//    fixed when the threshold is built, so no floating point per draw).
// Never std::*_distribution: their output differs between standard libraries.
#pragma once

#include <cstdint>

namespace simloop::sim {

// splitmix64: one step of the generator, advancing `state`.
constexpr std::uint64_t splitmix64(std::uint64_t& state) noexcept {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// A probability as a 64-bit threshold: Chance(p) holds iff a draw < threshold.
class Chance {
 public:
  constexpr Chance() noexcept = default;
  // p is clamped to [0, 1]; 1 means always, 0 (or NaN) never.
  explicit Chance(double p) noexcept {
    if (!(p > 0.0)) {
      threshold_ = 0;
      always_ = false;
    } else if (p >= 1.0) {
      always_ = true;
    } else {
      threshold_ = static_cast<std::uint64_t>(p * 18446744073709551616.0);  // p * 2^64, exact in IEEE doubles
    }
  }
  constexpr bool never() const noexcept { return !always_ && threshold_ == 0; }
  constexpr bool holds(std::uint64_t draw) const noexcept { return always_ || draw < threshold_; }

 private:
  std::uint64_t threshold_ = 0;
  bool always_ = false;
};

class Prng {
 public:
  explicit constexpr Prng(std::uint64_t seed = 0) noexcept { reseed(seed); }

  constexpr void reseed(std::uint64_t seed) noexcept {
    std::uint64_t sm = seed;
    for (std::uint64_t& word : s_) word = splitmix64(sm);
  }

  // xoshiro256**: the next 64 bits of the stream.
  constexpr std::uint64_t next() noexcept {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, n); n must be > 0 (bounded(0) returns 0 without drawing).
  constexpr std::uint64_t bounded(std::uint64_t n) noexcept {
    if (n <= 1) return 0;
    // Lemire: the high word of x*n is uniform once products whose low word
    // falls below 2^64 mod n are rejected.
    // __extension__: the 128-bit type is a GNU extension -Wpedantic would
    // report in every user's translation unit that includes this header.
    __extension__ using u128 = unsigned __int128;
    u128 m = static_cast<u128>(next()) * n;
    std::uint64_t low = static_cast<std::uint64_t>(m);
    if (low < n) {
      const std::uint64_t threshold = (0 - n) % n;  // 2^64 mod n
      while (low < threshold) {
        m = static_cast<u128>(next()) * n;
        low = static_cast<std::uint64_t>(m);
      }
    }
    return static_cast<std::uint64_t>(m >> 64);
  }

  // One draw, true with the chance's probability. Draws nothing when the
  // chance is never (so turning a feature off does not shift the stream).
  constexpr bool chance(const Chance& c) noexcept { return c.never() ? false : c.holds(next()); }

 private:
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4] = {};
};

}  // namespace simloop::sim
