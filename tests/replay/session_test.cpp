// session.hpp: saving a failure (original + minimized) and replaying a trace
// with a runner of one's own (RunOnce), through the Scheduler decorator.
#include <gtest/gtest.h>

#include "support/temp_dir.hpp"

#include <filesystem>

#include <simloop/replay/session.hpp>
#include <simloop/simloop.hpp>

#include "replay_fixtures.hpp"

namespace {

using namespace simloop;
using namespace simloop::replay;

std::unique_ptr<Scheduler> chaos_random(std::uint64_t seed) {
  sim::SimOptions o;
  o.fidelity = sim::Fidelity::Chaos;
  return std::make_unique<sim::RandomStrategy>(seed, o);
}

// A runner of one's own: the bank scenario, failing when overdrawn.
std::string run_bank(RunRecording& rec, bool changed) {
  sim::SimLoop loop(rec.take_scheduler());
  rec.attach(loop);
  replay_fixtures::Account account;
  const int balance =
      loop.run_until_complete(changed ? replay_fixtures::bank_changed(&account) : replay_fixtures::bank(&account));
  rec.finish();
  return balance < 0 ? "overdrawn: balance " + std::to_string(balance) : std::string();
}

class ReplaySession : public ::testing::Test {
 protected:
  // The replay directory does not exist until something writes to it.
  simloop::testing::ScopedTempDir tmp_{"replay-session"};
  std::filesystem::path dir_ = tmp_.path() / "replays";
};

TEST_F(ReplaySession, SaveFailureMinimizesAndBothFilesReplay) {
  std::optional<Trace> failing;
  std::uint64_t seed = 1;
  for (; seed <= 200 && !failing; ++seed) {
    RunRecording rec = RunRecording::record(RunInfo{"Session.Bank", "random", "chaos", seed}, chaos_random(seed));
    const std::string failure = run_bank(rec, false);
    if (!failure.empty()) failing = rec.trace(failure);
  }
  ASSERT_TRUE(failing.has_value());
  const std::uint64_t found = failing->seed;
  ReplayEnv env;
  env.dir = dir_.string();
  env.minimize_runs = 100;
  const RunOnce once = [](RunRecording& rec) { return run_bank(rec, false); };
  const SavedFailure saved = save_failure(env, *failing, once, [found] { return chaos_random(found); });
  EXPECT_EQ(saved.original_path, replay_path(env.dir, "Session.Bank", "random", "chaos", found, false));
  EXPECT_EQ(saved.minimized_path, replay_path(env.dir, "Session.Bank", "random", "chaos", found, true));
  EXPECT_EQ(saved.original_size, failing->nonzero_choices());
  EXPECT_EQ(saved.minimized_size, 1u);
  EXPECT_LE(saved.minimize_runs, 100u);
  EXPECT_NE(saved.report().find("SIMLOOP_REPLAY=" + saved.minimized_path), std::string::npos) << saved.report();

  for (const std::string& path : {saved.original_path, saved.minimized_path}) {
    const Trace t = load_replay_for(path, "Session.Bank");
    const ReplayOutcome o = replay_trace(t, once, chaos_random(found + 7), false);
    EXPECT_TRUE(o.reproduced) << o.report(t);
    EXPECT_EQ(o.problem, "");
    EXPECT_EQ(o.trace.choices, t.choices);
    EXPECT_NE(o.report(t).find("reproduced the failure exactly"), std::string::npos);
  }
  EXPECT_THROW((void)load_replay_for(saved.original_path, "Other.Test"), std::invalid_argument);

  // The changed program diverges, and says so.
  const Trace t = load_trace(saved.original_path);
  const ReplayOutcome changed = replay_trace(
      t, [](RunRecording& rec) { return run_bank(rec, true); }, chaos_random(found), false);
  EXPECT_FALSE(changed.reproduced);
  EXPECT_NE(changed.problem.find("replay diverged at choice #"), std::string::npos) << changed.problem;
}

TEST_F(ReplaySession, MinimizationOffWritesOnlyTheOriginal) {
  Trace t;
  t.test = "Session.Off";
  t.seed = 5;
  t.failure = "x";
  ReplayEnv env;
  env.dir = dir_.string();
  env.minimize_runs = 0;
  int runs = 0;
  const SavedFailure saved = save_failure(
      env, t,
      [&runs](RunRecording&) {
        ++runs;
        return std::string("x");
      },
      [] { return std::make_unique<FifoScheduler>(); });
  EXPECT_EQ(runs, 0);
  EXPECT_TRUE(saved.minimized_path.empty());
  EXPECT_TRUE(std::filesystem::exists(saved.original_path));
}

}  // namespace
