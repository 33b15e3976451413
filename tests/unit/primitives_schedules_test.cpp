// The invariant checkers under explored schedules: random and pct
// strategies, asyncio and chaos fidelities, many seeds. The invariants of
// the primitives must hold under any order the loop may choose.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include <simloop/simloop.hpp>

#include "support/primitive_checkers.hpp"

using namespace std::chrono_literals;
using simloop::sim::Fidelity;
using simloop::sim::SimLoop;
using simloop::sim::Strategy;

namespace {
struct Config {
  Strategy strategy;
  Fidelity fidelity;
};

SimLoop make_loop(Config c, std::uint64_t seed) {
  simloop::sim::SimOptions options;
  options.fidelity = c.fidelity;
  options.busy_probability = 0.2;
  options.max_callback_cost = 2ms;
  return SimLoop(simloop::sim::make_strategy(c.strategy, seed, options));
}

const Config kConfigs[] = {
    {Strategy::Random, Fidelity::Asyncio}, {Strategy::Pct, Fidelity::Asyncio}, {Strategy::Random, Fidelity::Chaos}};
constexpr std::uint64_t kSeeds = 60;
}  // namespace

TEST(PrimitivesSchedules, QueueExactlyOnce) {
  for (const Config& c : kConfigs) {
    std::set<std::vector<int>> orders;  // the runs differ (scenario and schedule vary with the seed)
    for (std::uint64_t seed = 1; seed <= kSeeds; ++seed) {
      SimLoop loop = make_loop(c, seed);
      simloop::testing::QueueScenario s;
      s.produce_gap = seed % 2 ? 1ms : 0ms;
      s.cancels = {{seed % 3, seed % 7, seed % 2 == 0, std::chrono::milliseconds(seed % 4)}};
      auto r = simloop::testing::check_queue_exactly_once(loop, s);
      EXPECT_TRUE(r.ok) << simloop::sim::to_string(c.strategy) << "/" << simloop::sim::to_string(c.fidelity) << " seed "
                        << seed << ": " << r.message;
      orders.insert(r.got);
    }
    EXPECT_GT(orders.size(), 5u) << simloop::sim::to_string(c.strategy) << "/" << simloop::sim::to_string(c.fidelity);
  }
}

TEST(PrimitivesSchedules, LockMutualExclusion) {
  for (const Config& c : kConfigs) {
    for (std::uint64_t seed = 1; seed <= kSeeds; ++seed) {
      SimLoop loop = make_loop(c, seed);
      simloop::testing::LockScenario s;
      s.hold = seed % 2 ? 1ms : 0ms;
      s.cancels = {{seed % 3, seed % 6}, {(seed + 1) % 3, seed % 5, true}};
      auto r = simloop::testing::check_lock_mutual_exclusion(loop, s);
      EXPECT_TRUE(r.ok) << simloop::sim::to_string(c.strategy) << "/" << simloop::sim::to_string(c.fidelity) << " seed "
                        << seed << ": " << r.message;
    }
  }
}

TEST(PrimitivesSchedules, SemaphoreBound) {
  for (const Config& c : kConfigs) {
    for (std::uint64_t seed = 1; seed <= kSeeds; ++seed) {
      SimLoop loop = make_loop(c, seed);
      simloop::testing::SemaphoreScenario s;
      s.hold = seed % 2 ? 1ms : 0ms;
      s.cancels = {{seed % 4, seed % 6}, {(seed + 2) % 4, seed % 5, true}};
      auto r = simloop::testing::check_semaphore_bound(loop, s);
      EXPECT_TRUE(r.ok) << simloop::sim::to_string(c.strategy) << "/" << simloop::sim::to_string(c.fidelity) << " seed "
                        << seed << ": " << r.message;
    }
  }
}
