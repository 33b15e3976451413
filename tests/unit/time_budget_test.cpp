// SIMLOOP_TIME_BUDGET: a wall-clock bound on how many seeds start, never on
// a run. A budget already spent after the first run stops the exploration
// there, says what it covered and where the next job continues.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>

#include <simloop/simloop.hpp>

#include "support/quiet_runner.hpp"

namespace {

using namespace simloop;

Coro<void> one_sleep(sim::SimLoop&) { co_await sleep(std::chrono::milliseconds(sim::choose(3))); }

std::string read_all(std::FILE* f) {
  std::rewind(f);
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, f) != nullptr) out += buf;
  return out;
}

TEST(TimeBudget, ReadFromTheEnvironment) {
  const sim::RunnerOptions o = sim::options_from_env(
      {}, [](const char* name) -> const char* { return std::string(name) == "SIMLOOP_TIME_BUDGET" ? "10m" : nullptr; });
  ASSERT_TRUE(o.time_budget);
  EXPECT_EQ(*o.time_budget, std::chrono::minutes(10));
  EXPECT_NE(sim::describe_config(o).find("time_budget=10m"), std::string::npos);
  EXPECT_FALSE(sim::RunnerOptions{}.time_budget);
}

TEST(TimeBudget, SpentStopsBeforeTheNextRunAndSaysWhereToContinue) {
  sim::RunnerOptions o = simloop::testing::quiet_fifo_runner(50);
  o.seed = 100;
  o.time_budget = std::chrono::nanoseconds(1);  // spent by the time the first run ends
  std::FILE* log = std::tmpfile();
  ASSERT_NE(log, nullptr);
  o.log = log;
  const sim::ExploreResult r = sim::explore(&one_sleep, o);
  const std::string out = read_all(log);
  std::fclose(log);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.runs, 1u);  // a budget never stops the first run, nor cuts any run short
  EXPECT_TRUE(r.budget_spent);
  EXPECT_EQ(r.next_seed, 101u);
  EXPECT_NE(out.find("time budget 1ns spent after 1 runs: seeds 100..100 covered; the next job continues with "
                     "SIMLOOP_SEED=101"),
            std::string::npos)
      << out;
}

TEST(TimeBudget, WithShardsEachShardContinuesAtItsOwnNextRun) {
  sim::RunnerOptions o = simloop::testing::quiet_fifo_runner(50);
  o.seed = 100;
  o.total_shards = 4;
  o.shard_index = 2;
  o.time_budget = std::chrono::nanoseconds(1);
  const sim::ExploreResult r = sim::explore(&one_sleep, o);
  EXPECT_EQ(r.runs, 1u);  // seed 102
  ASSERT_TRUE(r.budget_spent);
  // The next job, same shards: its shard 2 starts at run 2, seed next_seed + 2 = 106.
  EXPECT_EQ(r.next_seed, 104u);
}

TEST(TimeBudget, AnUnspentBudgetRunsEverySeed) {
  sim::RunnerOptions o = simloop::testing::quiet_fifo_runner(20);
  o.time_budget = std::chrono::hours(1);
  const sim::ExploreResult r = sim::explore(&one_sleep, o);
  EXPECT_EQ(r.runs, 20u);
  EXPECT_FALSE(r.budget_spent);
}

}  // namespace
