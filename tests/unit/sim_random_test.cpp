// simloop's PRNG: pinned outputs (any change to the algorithms breaks every
// saved seed, so it must fail here), bounded() range and uniformity.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>

#include <simloop/sim/random.hpp>

using simloop::sim::Chance;
using simloop::sim::Prng;

TEST(SimRandom, Splitmix64MatchesReference) {
  std::uint64_t state = 0;
  EXPECT_EQ(simloop::sim::splitmix64(state), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(simloop::sim::splitmix64(state), 0x6e789e6aa1b965f4ULL);
}

TEST(SimRandom, PinnedFirstOutputs) {
  struct Case {
    std::uint64_t seed;
    std::array<std::uint64_t, 4> first;
  };
  const Case cases[] = {
      {0, {0x99ec5f36cb75f2b4ULL, 0xbf6e1f784956452aULL, 0x1a5f849d4933e6e0ULL, 0x6aa594f1262d2d2cULL}},
      {1, {0xb3f2af6d0fc710c5ULL, 0x853b559647364ceaULL, 0x92f89756082a4514ULL, 0x642e1c7bc266a3a7ULL}},
      {42, {0x15780b2e0c2ec716ULL, 0x6104d9866d113a7eULL, 0xae17533239e499a1ULL, 0xecb8ad4703b360a1ULL}},
      {0xdeadbeefcafebabeULL,
       {0x2299b3421aa78b66ULL, 0x9af6550483e02887ULL, 0xda059cb5eec5c979ULL, 0xcf86bd29360fff98ULL}},
  };
  for (const Case& c : cases) {
    Prng prng(c.seed);
    for (std::uint64_t expected : c.first) EXPECT_EQ(prng.next(), expected) << "seed " << c.seed;
  }
}

TEST(SimRandom, PinnedBoundedOutputs) {
  const std::uint64_t ns[] = {2, 3, 6, 10, 1000, (1ULL << 63) + 1};
  const std::uint64_t seed0[] = {1, 2, 0, 4, 732, 9221051770647995749ULL};
  const std::uint64_t seed7[] = {1, 0, 5, 9, 990, 1400256439129669809ULL};
  Prng a(0), b(7);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(a.bounded(ns[i]), seed0[i]) << "n=" << ns[i];
    EXPECT_EQ(b.bounded(ns[i]), seed7[i]) << "n=" << ns[i];
  }
}

TEST(SimRandom, BoundedStaysInRangeAndIsUniform) {
  Prng prng(123);
  std::array<int, 6> counts{};
  constexpr int kDraws = 60000;
  for (int i = 0; i < kDraws; ++i) {
    const std::uint64_t v = prng.bounded(6);
    ASSERT_LT(v, 6u);
    ++counts[v];
  }
  for (int c : counts) {
    EXPECT_GT(c, kDraws / 6 * 95 / 100);
    EXPECT_LT(c, kDraws / 6 * 105 / 100);
  }
  EXPECT_EQ(prng.bounded(1), 0u);
  EXPECT_EQ(prng.bounded(0), 0u);
}

TEST(SimRandom, ChanceHasItsProbabilityAndNeverDrawsWhenOff) {
  Prng prng(9);
  const Chance quarter(0.25);
  int hits = 0;
  for (int i = 0; i < 40000; ++i) hits += prng.chance(quarter) ? 1 : 0;
  EXPECT_GT(hits, 9500);
  EXPECT_LT(hits, 10500);
  Prng x(5), y(5);
  EXPECT_FALSE(x.chance(Chance(0.0)));
  EXPECT_EQ(x.next(), y.next());  // the "never" chance drew nothing
  EXPECT_TRUE(x.chance(Chance(1.0)));
}

TEST(SimRandom, SameSeedSameStreamDifferentSeedsDiffer) {
  Prng a(77), b(77), c(78);
  bool differ = false;
  for (int i = 0; i < 100; ++i) {
    const std::uint64_t va = a.next();
    EXPECT_EQ(va, b.next());
    differ = differ || va != c.next();
  }
  EXPECT_TRUE(differ);
}
