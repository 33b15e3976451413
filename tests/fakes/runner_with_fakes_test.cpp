// The exploration runner with simulated I/O: fakes::runner_with_fakes gives
// every run a FakeSelector and a FakeExecutor, and fails runs that leak.
#include <gtest/gtest.h>

#include <simloop/simloop.hpp>

using namespace std::chrono_literals;
using simloop::Coro;
namespace sim = simloop::sim;

namespace {

sim::RunnerOptions quiet(std::uint64_t runs) {
  sim::RunnerOptions options;
  options.runs = runs;
  options.log = nullptr;
  options.test_name = "runner_with_fakes";
  return simloop::fakes::runner_with_fakes(options);
}

}  // namespace

TEST(RunnerWithFakes, EveryRunHasAnExecutorAndCleanRunsPass) {
  std::uint64_t sum = 0;
  const sim::Scenario scenario = [&](sim::SimLoop& loop) -> Coro<void> {
    sum += co_await loop.run_in_executor([] { return std::uint64_t{21} * 2; });
  };
  const sim::ExploreResult result = sim::explore(scenario, quiet(20));
  EXPECT_TRUE(result.ok()) << (result.failure ? result.failure->report : "");
  EXPECT_EQ(result.runs, 20u);
  EXPECT_EQ(sum, 20u * 42u);
}

TEST(RunnerWithFakes, AnUnfinishedExecutorJobFailsTheRunAsALeak) {
  const sim::Scenario scenario = [](sim::SimLoop& loop) -> Coro<void> {
    // Fire and forget: the job may still be running when the main task ends.
    (void)loop.run_in_executor([] { return 1; });
    co_return;
  };
  const sim::ExploreResult result = sim::explore(scenario, quiet(50));
  ASSERT_FALSE(result.ok()) << "some seed gives the job a non-zero duration";
  EXPECT_EQ(result.failure->outcome.failure, sim::FailureKind::Leaks);
  EXPECT_NE(result.failure->outcome.message.find("unfinished executor job"), std::string::npos)
      << result.failure->outcome.message;
}
