// Every replay file simloop writes is one the parser accepts and that
// replays: failures of a scenario on the fake network, under every strategy
// and fidelity, with and without cancellation injection, each written
// (original and minimized), validated, and replayed. The fake network makes
// choices while the loop is torn down; they once reached minimized files
// with step 0 ("choice steps go backwards").
#include <gtest/gtest.h>

#include "support/temp_dir.hpp"

#include <filesystem>
#include <string>

#include <simloop/fakes/fakes.hpp>
#include <simloop/replay/explore.hpp>
#include <simloop/replay/format.hpp>
#include <simloop/simloop.hpp>

#include "fakes/programs.hpp"

namespace {

using namespace simloop;

// Echoes over the fake network, then fails at about one seed in six: a
// failure whose schedule holds I/O choices (and injected cancels, when on).
Coro<void> echo_then_maybe_fail(sim::SimLoop&) {
  const std::vector<std::string> transcript = co_await programs::echo_program(2, 2);
  if (transcript != programs::expected_echo(2, 2)) throw std::runtime_error("the echo lost data");
  if (sim::choose(6) == 0) throw sim::AssertionFailed("seeded failure after the echo");
}

struct Config {
  sim::Strategy strategy;
  sim::Fidelity fidelity;
  double cancel;
};

std::string name_of(const Config& c) {
  return std::string(sim::to_string(c.strategy)) + "-" + sim::to_string(c.fidelity) + (c.cancel > 0 ? "-cancel" : "");
}

}  // namespace

TEST(EveryReplayFile, IsValidAndReplaysUnderEveryStrategyFidelityAndInjection) {
  simloop::testing::ScopedTempDir tmp{"every-replay-file"};
  int files = 0;
  for (sim::Strategy strategy : {sim::Strategy::Random, sim::Strategy::Pct}) {
    for (sim::Fidelity fidelity : {sim::Fidelity::Asyncio, sim::Fidelity::Chaos}) {
      for (double cancel : {0.0, 0.05}) {
        const Config c{strategy, fidelity, cancel};
        for (std::uint64_t first_seed : {1u, 101u, 201u}) {
          sim::RunnerOptions o;
          o.test_name = "EveryReplayFile." + name_of(c);
          o.strategy = strategy;
          o.sim.fidelity = fidelity;
          o.sim.cancel_probability = cancel;
          o.seed = first_seed;
          o.runs = 100;
          o.log = nullptr;
          o = fakes::runner_with_fakes(o);
          replay::ReplayEnv env;
          env.dir = (tmp.path() / name_of(c)).string();
          env.minimize_runs = 100;
          const sim::ExploreResult r = replay::explore(&echo_then_maybe_fail, o, env);
          ASSERT_FALSE(r.ok()) << name_of(c) << ": no failure from seed " << first_seed;
          for (bool minimized : {false, true}) {
            const std::string file = minimized ? r.failure->files.minimized_path : r.failure->files.replay_path;
            SCOPED_TRACE(file);
            ASSERT_NO_THROW((void)replay::load_trace(file)) << r.failure->report;
            replay::ReplayEnv again = env;
            again.replay_file = file;
            const sim::ExploreResult replayed = replay::explore(&echo_then_maybe_fail, o, again);
            EXPECT_EQ(replayed.replay_verdict, sim::ReplayVerdict::Reproduced)
                << (replayed.failure ? replayed.failure->report : std::string("passed"));
            ++files;
          }
          std::filesystem::remove_all(env.dir);
        }
      }
    }
  }
  EXPECT_EQ(files, 2 * 2 * 2 * 3 * 2);
}

namespace {

Coro<void> spins_then_fails(sim::SimLoop&) {
  for (int i = 0; i < 25'000; ++i) co_await simloop::sleep(std::chrono::seconds(0));
  throw sim::AssertionFailed("failed after a long run");
}

}  // namespace

// A long (or runaway) run keeps its whole choice list but only the last
// kTimelineEvents handles of its timeline, so its memory and file stay bounded.
TEST(EveryReplayFile, ALongRunKeepsTheLastEventsAndStillReplays) {
  simloop::testing::ScopedTempDir tmp{"long-run"};
  sim::RunnerOptions o;
  o.test_name = "EveryReplayFile.LongRun";
  o.runs = 1;
  o.log = nullptr;
  replay::ReplayEnv env;
  env.dir = tmp.path().string();
  env.minimize_runs = 0;
  const sim::ExploreResult r = replay::explore(&spins_then_fails, o, env);
  ASSERT_FALSE(r.ok());
  const std::string file = r.failure->files.replay_path;
  const replay::Trace t = replay::load_trace(file);
  ASSERT_EQ(t.events.size(), replay::kTimelineEvents);
  EXPECT_EQ(t.events.back().step, r.failure->outcome.steps);
  EXPECT_EQ(t.events.front().step, r.failure->outcome.steps - replay::kTimelineEvents + 1);
  EXPECT_GT(t.choices.size(), 25'000u);
  replay::ReplayEnv again = env;
  again.replay_file = file;
  EXPECT_EQ(replay::explore(&spins_then_fails, o, again).replay_verdict, sim::ReplayVerdict::Reproduced);
}
