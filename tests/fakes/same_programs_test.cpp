// The same programs on the real loop and on the simulated one, with the
// same results (issue: both backends run the same programs).
#include <gtest/gtest.h>

#include "programs.hpp"

namespace {

using simloop::fakes::make_sim_loop;
using simloop::sim::SimOptions;
using simloop::sim::Strategy;

std::unique_ptr<simloop::sim::SimLoop> random_loop(std::uint64_t seed) {
  return make_sim_loop(simloop::sim::make_strategy(Strategy::Random, seed, SimOptions{}));
}

constexpr int kClients = 4;
constexpr int kMessages = 12;
constexpr int kProducers = 3;
constexpr int kFrames = 40;
constexpr std::size_t kJobs = 30;
constexpr int kWorkers = 4;
constexpr std::uint64_t kSeeds = 30;

TEST(SamePrograms, EchoServerOnRealLoop) {
  EXPECT_EQ(programs::run_real(programs::echo_program(kClients, kMessages)),
            programs::expected_echo(kClients, kMessages));
}

TEST(SamePrograms, EchoServerOnSimulatedLoopUnderManySchedules) {
  std::uint64_t partial_reads = 0;
  for (std::uint64_t seed = 1; seed <= kSeeds; ++seed) {
    auto loop = random_loop(seed);
    EXPECT_EQ(loop->run_until_complete(programs::echo_program(kClients, kMessages)),
              programs::expected_echo(kClients, kMessages))
        << "seed " << seed;
    EXPECT_EQ(simloop::fakes::find_leaks(*loop), std::vector<std::string>{}) << "seed " << seed;
    partial_reads += simloop::fakes::FakeSelector::of(*loop).stats().partial_reads;
  }
  EXPECT_GT(partial_reads, 0u) << "the random strategy should have split reads";
}

TEST(SamePrograms, EchoServerUnderFifoHasNoLatencyAndNoChunking) {
  auto loop = make_sim_loop();
  EXPECT_EQ(loop->run_until_complete(programs::echo_program(kClients, kMessages)),
            programs::expected_echo(kClients, kMessages));
  const auto& stats = simloop::fakes::FakeSelector::of(*loop).stats();
  EXPECT_EQ(stats.partial_reads, 0u);
  EXPECT_EQ(stats.partial_writes, 0u);
  EXPECT_EQ(stats.delayed, 0u);
  EXPECT_EQ(loop->time(), simloop::Duration{0});
}

TEST(SamePrograms, ProducerConsumerOnRealLoop) {
  EXPECT_EQ(programs::run_real(programs::producer_consumer_program(kProducers, kFrames)),
            programs::expected_tally(kProducers, kFrames));
}

TEST(SamePrograms, ProducerConsumerOnSimulatedLoopUnderManySchedules) {
  for (std::uint64_t seed = 1; seed <= kSeeds; ++seed) {
    auto loop = random_loop(seed);
    EXPECT_EQ(loop->run_until_complete(programs::producer_consumer_program(kProducers, kFrames)),
              programs::expected_tally(kProducers, kFrames))
        << "seed " << seed;
    EXPECT_EQ(simloop::fakes::find_leaks(*loop), std::vector<std::string>{}) << "seed " << seed;
  }
}

TEST(SamePrograms, JobPoolOnRealLoop) {
  EXPECT_EQ(programs::run_real(programs::job_pool_program(kJobs, kWorkers)), programs::expected_pool(kJobs));
}

TEST(SamePrograms, JobPoolOnSimulatedLoopUnderManySchedules) {
  for (std::uint64_t seed = 1; seed <= kSeeds; ++seed) {
    auto loop = random_loop(seed);
    EXPECT_EQ(loop->run_until_complete(programs::job_pool_program(kJobs, kWorkers)), programs::expected_pool(kJobs))
        << "seed " << seed;
    EXPECT_GT(loop->time(), simloop::Duration{0}) << "jobs take virtual time under random, seed " << seed;
    EXPECT_EQ(simloop::fakes::find_leaks(*loop), std::vector<std::string>{}) << "seed " << seed;
  }
}

TEST(SamePrograms, SameSeedSameRun) {
  auto run = [](std::uint64_t seed) {
    auto loop = random_loop(seed);
    loop->run_until_complete(programs::echo_program(kClients, kMessages));
    return std::make_pair(loop->time(), loop->steps());
  };
  EXPECT_EQ(run(7), run(7));
  EXPECT_NE(run(7), run(8));
}

}  // namespace
