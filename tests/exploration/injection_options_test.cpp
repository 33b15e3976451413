// Who cancellation injection spares (sim::spare), and the swallowed-cancel
// report as a runner option (SIMLOOP_REPORT_SWALLOWED_CANCEL): each checked
// with the option on and off, over many seeds, and through a replay file.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>

#include <simloop/replay/explore.hpp>
#include <simloop/replay/format.hpp>
#include <simloop/simloop.hpp>

#include "support/temp_dir.hpp"

namespace {

using namespace std::chrono_literals;
using simloop::Coro;
using simloop::Task;
namespace sim = simloop::sim;

// Twenty awaits, any of which injection may cancel.
Coro<void> sleeper() {
  for (int i = 0; i < 20; ++i) co_await simloop::sleep(1ms);
}

struct Tally {
  int spared_cancelled = 0;
  int other_cancelled = 0;
};

// Two sleepers, the first spared when `spare_first`; the scenario waits for
// both without awaiting their results, so their cancellation is only counted.
sim::Scenario two_sleepers(Tally* tally, bool spare_first) {
  return [tally, spare_first](sim::SimLoop& loop) -> Coro<void> {
    Task<void> first = loop.create_task(sleeper(), "first");
    if (spare_first) sim::spare(first);
    Task<void> other = loop.create_task(sleeper(), "other");
    std::vector<Task<void>> both{first, other};
    co_await simloop::wait(both);
    if (first.cancelled()) ++tally->spared_cancelled;
    if (other.cancelled()) ++tally->other_cancelled;
  };
}

sim::RunnerOptions injecting(std::uint64_t runs) {
  sim::RunnerOptions o;
  o.runs = runs;
  o.sim.cancel_probability = 0.2;
  o.sim.max_injected_cancels = 4;
  o.log = nullptr;
  return o;
}

TEST(InjectionOptions, SpareExemptsATaskFromInjection) {
  Tally spared;
  ASSERT_TRUE(sim::explore(two_sleepers(&spared, true), injecting(100)).ok());
  EXPECT_EQ(spared.spared_cancelled, 0) << "a spared task is never cancelled by injection";
  EXPECT_GT(spared.other_cancelled, 50) << "injection was on for the task beside it";

  Tally not_spared;
  ASSERT_TRUE(sim::explore(two_sleepers(&not_spared, false), injecting(100)).ok());
  EXPECT_GT(not_spared.spared_cancelled, 50) << "the same task, not spared, is cancelled";
}

TEST(InjectionOptions, SpareWithoutInjectionOrOnAnEmptyHandle) {
  // A loop whose scheduler injects nothing: no effect, no error.
  sim::SimLoop loop;
  loop.run_until_complete([]() -> Coro<void> {
    Task<void> t = simloop::create_task(sleeper());
    sim::spare(t);
    co_await t;
  }());
  try {
    sim::spare(simloop::AnyTask());
    ADD_FAILURE() << "an empty handle was accepted";
  } catch (const simloop::InvalidStateError& e) {
    EXPECT_STREQ(e.what(), "sim::spare: the task is empty (default-constructed or moved from)");
  }
}

// A worker that catches its CancelledError and returns normally: the bug
// the report exists for. The scenario cancels it itself.
Coro<int> swallows_cancel() {
  try {
    co_await simloop::sleep(10s);
  } catch (const simloop::CancelledError&) {
    // lost: neither rethrown nor uncancel()ed
  }
  co_return 1;
}

Coro<void> cancel_a_swallower(sim::SimLoop& loop) {
  Task<int> worker = loop.create_task(swallows_cancel(), "worker");
  co_await simloop::sleep(1ms);
  worker.cancel();
  std::vector<Task<int>> workers{worker};
  co_await simloop::wait(workers);
}

// A scenario of eight sleepers that counts how many injection cancelled.
sim::Scenario count_cancelled(std::uint32_t* most) {
  return [most](sim::SimLoop& loop) -> Coro<void> {
    std::vector<Task<void>> tasks;
    for (int i = 0; i < 8; ++i) tasks.push_back(loop.create_task(sleeper()));
    co_await simloop::wait(tasks);
    std::uint32_t cancelled = 0;
    for (const Task<void>& t : tasks) cancelled += t.cancelled() ? 1 : 0;
    *most = std::max(*most, cancelled);
  };
}

TEST(InjectionOptions, MaxCancelsBoundsInjectionsPerRun) {
  auto env_of = [](const char* cancel, const char* max) {
    return [cancel, max](const char* name) -> const char* {
      if (std::string_view(name) == "SIMLOOP_CANCEL") return cancel;
      if (std::string_view(name) == "SIMLOOP_MAX_CANCELS") return max;
      return nullptr;
    };
  };
  for (const auto& [max, expected] : {std::pair{"1", 1u}, std::pair{"3", 3u}, std::pair{"0", 0u}}) {
    sim::RunnerOptions o = sim::options_from_env({}, env_of("0.5", max));
    EXPECT_EQ(o.sim.max_injected_cancels, expected);
    o.runs = 50;
    o.log = nullptr;
    std::uint32_t most = 0;
    ASSERT_TRUE(sim::explore(count_cancelled(&most), o).ok());
    EXPECT_EQ(most, expected) << "SIMLOOP_MAX_CANCELS=" << max << ": the most cancelled in one run over 50 seeds";
  }
  EXPECT_NE(sim::describe_config(sim::options_from_env({}, env_of("0.5", "3"))).find(" cancel=0.5 max_cancels=3"),
            std::string::npos);
  EXPECT_THROW((void)sim::options_from_env({}, env_of("0.5", "many")), sim::ConfigError);
  EXPECT_THROW((void)sim::options_from_env({}, env_of("0.5", "2000000")), sim::ConfigError);
}

TEST(InjectionOptions, SwallowedCancelFailsTheRunWhenAsked) {
  sim::RunnerOptions o;
  o.runs = 5;
  o.log = nullptr;
  EXPECT_TRUE(sim::explore(&cancel_a_swallower, o).ok()) << "off by default, as asyncio";
  o.report_swallowed_cancel = true;
  const sim::ExploreResult r = sim::explore(&cancel_a_swallower, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.failure->seed, 1u);
  EXPECT_EQ(r.failure->outcome.failure, sim::FailureKind::HandlerReport);
  EXPECT_NE(r.failure->outcome.message.find("swallowed a cancel request"), std::string::npos)
      << r.failure->outcome.message;
  EXPECT_NE(r.failure->outcome.message.find("worker"), std::string::npos) << "names the task";
}

TEST(InjectionOptions, SwallowedCancelFromTheEnvironmentAndInReplayFiles) {
  auto env_of = [](const char* value) {
    return [value](const char* name) -> const char* {
      return std::string_view(name) == "SIMLOOP_REPORT_SWALLOWED_CANCEL" ? value : nullptr;
    };
  };
  EXPECT_TRUE(sim::options_from_env({}, env_of("1")).report_swallowed_cancel);
  EXPECT_FALSE(sim::options_from_env({}, env_of("0")).report_swallowed_cancel);
  EXPECT_THROW((void)sim::options_from_env({}, env_of("on")), sim::ConfigError);
  sim::RunnerOptions o = sim::options_from_env({}, env_of("1"));
  EXPECT_NE(sim::describe_config(o).find(" report_swallowed_cancel=1"), std::string::npos);
  EXPECT_NE(sim::reproduce_command(o, 3).find("SIMLOOP_REPORT_SWALLOWED_CANCEL=1"), std::string::npos)
      << "the seed alone fails only with it";

  // The replay file carries the option: replaying it (whatever the
  // environment says) fails the same way.
  simloop::testing::ScopedTempDir tmp("swallowed-cancel-replay");
  simloop::replay::ReplayEnv env;
  env.dir = (tmp.path() / "replays").string();
  env.minimize_runs = 0;
  o.runs = 1;
  o.log = nullptr;
  o.test_name = "InjectionOptions.Swallowed";
  const sim::ExploreResult r = simloop::replay::explore(&cancel_a_swallower, o, env);
  ASSERT_FALSE(r.ok());
  const simloop::replay::Trace t = simloop::replay::load_trace(r.failure->files.replay_path);
  EXPECT_NE(t.options.find("report_swallowed_cancel=1"), std::string::npos) << t.options;
  simloop::replay::ReplayEnv again = env;
  again.replay_file = r.failure->files.replay_path;
  sim::RunnerOptions plain;
  plain.log = nullptr;
  plain.test_name = o.test_name;
  const sim::ExploreResult replayed = simloop::replay::explore(&cancel_a_swallower, plain, again);
  EXPECT_EQ(replayed.replay_verdict, sim::ReplayVerdict::Reproduced);
}

}  // namespace
