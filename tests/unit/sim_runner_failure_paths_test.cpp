// The runner when things go wrong: configuration at the edges of its ranges,
// misspelt variables, and failures whose text must name their causes.
#include <gtest/gtest.h>

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <simloop/simloop.hpp>

#include "support/quiet_runner.hpp"

using simloop::Coro;
using simloop::sim::ConfigError;
using simloop::sim::FailureKind;
using simloop::sim::RunnerOptions;
using simloop::sim::SimLoop;

namespace {

std::string config_error(const std::map<std::string, std::string>& env) {
  try {
    simloop::sim::options_from_env({}, [&env](const char* name) -> const char* {
      auto it = env.find(name);
      return it == env.end() ? nullptr : it->second.c_str();
    });
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(accepted)";
}

}  // namespace

TEST(RunnerConfigEdges, SeedRangePastTheLargestSeedIsRefused) {
  const std::string e = config_error({{"SIMLOOP_SEED", "18446744073709551615"}, {"SIMLOOP_RUNS", "1000"}});
  EXPECT_NE(e.find("SIMLOOP_SEED=18446744073709551615 with SIMLOOP_RUNS=1000"), std::string::npos) << e;
  EXPECT_EQ(config_error({{"SIMLOOP_SEED", "18446744073709551615"}, {"SIMLOOP_RUNS", "1"}}), "(accepted)");
  EXPECT_EQ(config_error({{"SIMLOOP_SEED", "18446744073709551606"}, {"SIMLOOP_RUNS", "10"}}), "(accepted)");
  EXPECT_NE(config_error({{"SIMLOOP_SEED", "18446744073709551606"}, {"SIMLOOP_RUNS", "11"}}), "(accepted)");
  RunnerOptions o = simloop::testing::quiet_fifo_runner();
  o.seed = UINT64_MAX;
  o.runs = 2;
  EXPECT_THROW(simloop::sim::explore([](SimLoop&) -> Coro<void> { co_return; }, o), ConfigError);
}

TEST(RunnerConfigEdges, AnIntegerTooLargeSaysSo) {
  const std::string e = config_error({{"SIMLOOP_SEED", "1180591620717411303424"}});  // 2^70
  EXPECT_NE(e.find("SIMLOOP_SEED='1180591620717411303424': too large"), std::string::npos) << e;
  EXPECT_NE(config_error({{"SIMLOOP_RUNS", "12x"}}).find("not a non-negative integer"), std::string::npos);
}

TEST(RunnerConfigEdges, AMisspeltVariableGetsAWarningNamingTheClosestOne) {
  const auto w = simloop::sim::unknown_variable_warnings(
      {"PATH", "SIMLOOP_RUN", "SIMLOOP_SEED", "SIMLOOP_STRATEGIE", "SIMLOOP_SOMETHING_ELSE_ENTIRELY"});
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0], "SIMLOOP_RUN is not a simloop variable (did you mean SIMLOOP_RUNS?)");
  EXPECT_EQ(
      w[1],
      "SIMLOOP_SOMETHING_ELSE_ENTIRELY is not a simloop variable (SIMLOOP_HELP=1 and docs/environment.md list them)");
  EXPECT_EQ(w[2], "SIMLOOP_STRATEGIE is not a simloop variable (did you mean SIMLOOP_STRATEGY?)");
}

namespace {

Coro<void> fails_in_a_group(SimLoop&, std::string second) {
  auto body = [second](simloop::TaskGroup& tg) -> Coro<void> {
    // Both wake in one iteration and raise before the group reacts.
    auto first = []() -> Coro<void> {
      co_await simloop::sleep(std::chrono::milliseconds(1));
      throw std::runtime_error("disk full");
    };
    auto other = [](std::string what) -> Coro<void> {
      co_await simloop::sleep(std::chrono::milliseconds(1));
      throw std::logic_error(what);
    };
    tg.create_task(first());
    tg.create_task(other(second));
    co_return;
  };
  co_await simloop::with_task_group(body);
}

}  // namespace

TEST(RunnerFailureText, AFailedTaskGroupNamesEachSubException) {
  const auto r = simloop::sim::explore([](SimLoop& loop) { return fails_in_a_group(loop, "bad index"); },
                                       simloop::testing::quiet_fifo_runner());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.failure->outcome.failure, FailureKind::Exception);
  const std::string& m = r.failure->outcome.message;
  EXPECT_NE(m.find("std::runtime_error: disk full"), std::string::npos) << m;
  EXPECT_NE(m.find("std::logic_error: bad index"), std::string::npos) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << "the causes must be on the line failures are compared by: " << m;
  // Another cause is another failure.
  const auto r2 = simloop::sim::explore([](SimLoop& loop) { return fails_in_a_group(loop, "other"); },
                                        simloop::testing::quiet_fifo_runner());
  ASSERT_FALSE(r2.ok());
  EXPECT_NE(r2.failure->outcome.message, m);
}

TEST(RunnerFailureText, ANonStandardExceptionIsNamedWithItsValue) {
  auto throws_int = [](SimLoop&) -> Coro<void> {
    throw 42;
    co_return;
  };
  const auto r = simloop::sim::explore(throws_int, simloop::testing::quiet_fifo_runner());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.failure->outcome.message, "the scenario raised: an exception of type int: 42");
  auto throws_text = [](SimLoop&) -> Coro<void> {
    throw std::string("no route");
    co_return;
  };
  const auto r2 = simloop::sim::explore(throws_text, simloop::testing::quiet_fifo_runner());
  ASSERT_FALSE(r2.ok());
  EXPECT_NE(r2.failure->outcome.message.find("no route"), std::string::npos) << r2.failure->outcome.message;
  EXPECT_EQ(r2.failure->outcome.message.find("unknown type"), std::string::npos);
}

namespace {

Coro<void> completes_at_once() { co_return; }

}  // namespace

// A livelock that never yields counts no step; the synchronous-resumption
// budget ends it, reported like the other budgets.
TEST(RunnerBudgets, ALivelockThatNeverSuspendsIsReported) {
  RunnerOptions o = simloop::testing::quiet_fifo_runner();
  o.max_sync_resumes = 10'000;
  auto spins = [](SimLoop&) -> Coro<void> {
    for (;;) co_await completes_at_once();
  };
  const auto r = simloop::sim::explore(spins, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.failure->outcome.failure, FailureKind::SyncBudget);
  EXPECT_NE(r.failure->outcome.message.find("SIMLOOP_MAX_SYNC_RESUMES"), std::string::npos)
      << r.failure->outcome.message;

  auto ping_pong = [](SimLoop&) -> Coro<void> {
    simloop::Queue<int> q;
    for (;;) {
      q.put_nowait(1);
      co_await q.get();
    }
  };
  const auto r2 = simloop::sim::explore(ping_pong, o);
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.failure->outcome.failure, FailureKind::SyncBudget) << r2.failure->outcome.message;
}

TEST(RunnerBudgets, MaxSyncResumesVariable) {
  EXPECT_EQ(simloop::sim::options_from_env({},
                                           [](const char* n) -> const char* {
                                             return std::string(n) == "SIMLOOP_MAX_SYNC_RESUMES" ? "500" : nullptr;
                                           })
                .max_sync_resumes,
            500u);
  EXPECT_NE(config_error({{"SIMLOOP_MAX_SYNC_RESUMES", "many"}}), "(accepted)");
}
