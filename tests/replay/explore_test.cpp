// Replay wired into the exploration runner: a racy test fails under
// exploration, writes its replay file and a minimized one, and both replay
// exactly; a changed program reports the first divergent choice.
#include <gtest/gtest.h>

#include "support/temp_dir.hpp"

#include <filesystem>
#include <fstream>

#include <simloop/replay/explore.hpp>
#include <simloop/replay/format.hpp>
#include <simloop/replay/render.hpp>
#include <simloop/simloop.hpp>

#include "replay_fixtures.hpp"

namespace {

using namespace simloop;
using namespace simloop::replay;
using replay_fixtures::Account;

Coro<void> overdraft(sim::SimLoop&) {
  Account account;
  const int balance = co_await replay_fixtures::bank(&account);
  if (balance < 0) throw sim::AssertionFailed("the account was overdrawn: balance " + std::to_string(balance));
}

Coro<void> overdraft_changed(sim::SimLoop&) {
  Account account;
  const int balance = co_await replay_fixtures::bank_changed(&account);
  if (balance < 0) throw sim::AssertionFailed("the account was overdrawn: balance " + std::to_string(balance));
}

// The same programs without the check: what a user replays after fixing the bug.
Coro<void> overdraft_unchecked(sim::SimLoop&) {
  Account account;
  co_await replay_fixtures::bank(&account);
}

Coro<void> overdraft_changed_unchecked(sim::SimLoop&) {
  Account account;
  co_await replay_fixtures::bank_changed(&account);
}

class ReplayExplore : public ::testing::Test {
 protected:
  sim::RunnerOptions options(sim::Strategy strategy = sim::Strategy::Random) const {
    sim::RunnerOptions o;
    o.test_name = "ReplayExplore.Overdraft";
    o.strategy = strategy;
    o.sim.fidelity = sim::Fidelity::Chaos;
    o.runs = 300;
    o.log = nullptr;
    return o;
  }
  ReplayEnv env(std::optional<std::string> replay_file = std::nullopt) const {
    ReplayEnv e;
    e.dir = dir_.string();
    e.replay_file = std::move(replay_file);
    e.minimize_runs = 200;
    return e;
  }
  // The replay directory does not exist until replay::explore checks it.
  simloop::testing::ScopedTempDir tmp_{"replay-explore"};
  std::filesystem::path dir_ = tmp_.path() / "replays";
};

TEST_F(ReplayExplore, FifoCannotReachTheBugAndWritesNothing) {
  const sim::ExploreResult r = replay::explore(&overdraft, options(sim::Strategy::Fifo), env());
  EXPECT_TRUE(r.ok());
  // Made (and checked writable) before the first run, but left empty.
  ASSERT_TRUE(std::filesystem::is_directory(dir_));
  EXPECT_TRUE(std::filesystem::is_empty(dir_));
}

TEST_F(ReplayExplore, AnUnwritableReplayDirectoryIsRefusedBeforeAnyRun) {
  // A file where the directory should be: nothing can be written under it.
  std::filesystem::create_directories(tmp_.path());
  std::ofstream(tmp_.path() / "not-a-dir") << "x";
  ReplayEnv e = env();
  e.dir = (tmp_.path() / "not-a-dir" / "replays").string();
  int runs = 0;
  auto counted = [&runs](sim::SimLoop& loop) {
    ++runs;
    return overdraft(loop);
  };
  try {
    replay::explore(counted, options(), e);
    ADD_FAILURE() << "an unwritable SIMLOOP_REPLAY_DIR was accepted";
  } catch (const std::invalid_argument& err) {
    EXPECT_NE(std::string(err.what()).find("SIMLOOP_REPLAY_DIR=" + e.dir), std::string::npos) << err.what();
  }
  EXPECT_EQ(runs, 0);
}

TEST_F(ReplayExplore, FailureWritesOriginalAndMinimizedFilesThatReplayExactly) {
  const sim::ExploreResult r = replay::explore(&overdraft, options(), env());
  ASSERT_FALSE(r.ok()) << "random chaos exploration missed the double withdrawal";
  const std::uint64_t seed = r.failure->seed;
  const std::string original =
      (dir_ / ("ReplayExplore.Overdraft-random-chaos-seed" + std::to_string(seed) + ".simloop-replay")).string();
  const std::string minimized =
      (dir_ / ("ReplayExplore.Overdraft-random-chaos-seed" + std::to_string(seed) + ".min.simloop-replay")).string();
  EXPECT_EQ(replay_path(dir_.string(), "ReplayExplore.Overdraft", "random", "chaos", seed, false), original);
  const std::string& report = r.failure->report;
  // The result says what the report says.
  EXPECT_EQ(r.failures, 1u);
  ASSERT_EQ(r.classes.size(), 1u);
  EXPECT_EQ(r.classes[0].first.seed, seed);
  EXPECT_EQ(r.failure->files.replay_path, original);
  EXPECT_EQ(r.failure->files.minimized_path, minimized);
  EXPECT_EQ(r.classes[0].first.files.minimized_path, minimized);
  EXPECT_NE(report.find("replay file: " + original), std::string::npos) << report;
  EXPECT_NE(report.find("SIMLOOP_REPLAY=" + original), std::string::npos) << report;
  EXPECT_NE(report.find("minimized file: " + minimized), std::string::npos) << report;

  const Trace o = load_trace(original);
  const Trace m = load_trace(minimized);
  EXPECT_EQ(o.test, "ReplayExplore.Overdraft");
  EXPECT_EQ(o.seed, seed);
  EXPECT_EQ(o.strategy, "random");
  EXPECT_EQ(o.fidelity, "chaos");
  EXPECT_NE(o.failure.find("the account was overdrawn"), std::string::npos) << o.failure;
  EXPECT_GE(o.nonzero_choices(), 1u);
  // The bug needs one out-of-order pick; the minimizer gets there.
  EXPECT_LE(m.nonzero_choices(), o.nonzero_choices());
  EXPECT_EQ(m.nonzero_choices(), 1u) << report;
  EXPECT_NE(report.find("minimized: 1 non-zero choices"), std::string::npos) << report;
  EXPECT_EQ(r.failure->files.nonzero_choices, o.nonzero_choices());
  EXPECT_EQ(r.failure->files.minimized_nonzero, 1u);
  ASSERT_EQ(r.failure->files.minimized_by_kind.size(), 1u);
  EXPECT_EQ(r.failure->files.minimized_by_kind[0].second, 1u);
  for (const replay::Choice& c : m.choices) {
    if (c.value != 0) {
      EXPECT_EQ(r.failure->files.minimized_by_kind[0].first, std::string(replay::kind_name(c.kind)));
    }
  }

  for (const std::string& file : {original, minimized}) {
    const sim::ExploreResult again = replay::explore(&overdraft, options(), env(file));
    ASSERT_FALSE(again.ok()) << file << " did not reproduce the failure";
    EXPECT_EQ(again.runs, 1u);
    EXPECT_EQ(again.failure->seed, seed);
    EXPECT_NE(again.failure->report.find("replay: reproduced exactly"), std::string::npos) << again.failure->report;
  }
}

TEST_F(ReplayExplore, PctFailuresReplayToo) {
  const sim::ExploreResult r = replay::explore(&overdraft, options(sim::Strategy::Pct), env());
  ASSERT_FALSE(r.ok()) << "pct missed the double withdrawal";
  for (bool minimized : {false, true}) {
    const std::string file = minimized ? r.failure->files.minimized_path : r.failure->files.replay_path;
    EXPECT_NE(file.find("-pct-chaos-seed"), std::string::npos) << file;
    EXPECT_EQ(load_trace(file).strategy, "pct");
    const sim::ExploreResult again = replay::explore(&overdraft, options(sim::Strategy::Random), env(file));
    ASSERT_FALSE(again.ok()) << file;
    EXPECT_NE(again.failure->report.find("replay: reproduced exactly"), std::string::npos) << again.failure->report;
  }
}

TEST_F(ReplayExplore, ChangedProgramReportsTheFirstDivergentChoice) {
  const sim::ExploreResult r = replay::explore(&overdraft, options(), env());
  ASSERT_FALSE(r.ok());
  const std::string original = r.failure->files.replay_path;
  const sim::ExploreResult changed = replay::explore(&overdraft_changed, options(), env(original));
  ASSERT_FALSE(changed.ok()) << "a divergent replay passed silently";
  const std::string& report = changed.failure->report;
  EXPECT_NE(report.find("replay diverged at step"), std::string::npos) << report;
  EXPECT_NE(report.find("running: step"), std::string::npos) << report;
  EXPECT_NE(report.find("main"), std::string::npos) << report;  // the task running
  EXPECT_EQ(report.find("reproduced exactly"), std::string::npos) << report;
  EXPECT_NE(report.find("replay: diverged from the recording (above) and still fails"), std::string::npos) << report;
  EXPECT_EQ(changed.replay_verdict, sim::ReplayVerdict::DivergedFailing);
  EXPECT_EQ(sim::exit_status(changed), 4);
}

// Each verdict has its own text and exit status, so a script can tell a
// fixed bug from a schedule that no longer applies.
TEST_F(ReplayExplore, ReplayVerdictsAreDistinctInTextAndExitStatus) {
  const sim::ExploreResult r = replay::explore(&overdraft, options(), env());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.replay_verdict, sim::ReplayVerdict::None);
  EXPECT_EQ(sim::exit_status(r), 1);
  const std::string original = r.failure->files.replay_path;

  const sim::ExploreResult same = replay::explore(&overdraft, options(), env(original));
  EXPECT_EQ(same.replay_verdict, sim::ReplayVerdict::Reproduced);
  EXPECT_EQ(sim::exit_status(same), 1);

  const sim::ExploreResult fixed = replay::explore(&overdraft_unchecked, options(), env(original));
  EXPECT_TRUE(fixed.ok());
  EXPECT_EQ(fixed.replay_verdict, sim::ReplayVerdict::Passed);
  EXPECT_EQ(sim::exit_status(fixed), 0);

  const sim::ExploreResult moved = replay::explore(&overdraft_changed_unchecked, options(), env(original));
  EXPECT_EQ(moved.replay_verdict, sim::ReplayVerdict::DivergedPassing);
  EXPECT_EQ(sim::exit_status(moved), 5);
  ASSERT_FALSE(moved.ok()) << "a divergence is reported";
  EXPECT_NE(moved.failure->report.find("and passed: the recorded failure no longer happens"), std::string::npos)
      << moved.failure->report;
}

TEST_F(ReplayExplore, ContinueCarriesOnAfterTheDivergence) {
  const sim::ExploreResult r = replay::explore(&overdraft, options(), env());
  ASSERT_FALSE(r.ok());
  const std::string original = r.failure->files.replay_path;
  ReplayEnv e = env(original);
  e.continue_after_divergence = true;
  const sim::ExploreResult changed = replay::explore(&overdraft_changed, options(), e);
  ASSERT_FALSE(changed.ok()) << "a divergence must be reported even when the run carries on";
  EXPECT_NE(changed.failure->report.find("replay diverged at step"), std::string::npos) << changed.failure->report;
  // The run went on to the end: every step after the divergence ran.
  EXPECT_GT(changed.failure->outcome.steps, 2u);
}

TEST_F(ReplayExplore, ReplayOfAnotherTestOrABadFileIsRefusedBeforeRunning) {
  const sim::ExploreResult r = replay::explore(&overdraft, options(), env());
  ASSERT_FALSE(r.ok());
  const std::string original = r.failure->files.replay_path;
  sim::RunnerOptions other = options();
  other.test_name = "Other.Test";
  EXPECT_THROW(replay::explore(&overdraft, other, env(original)), std::invalid_argument);
  const std::string bad = (dir_ / "bad.simloop-replay").string();
  {
    std::string text = serialize(load_trace(original));
    text[text.size() / 2] ^= 0x01;
    std::ofstream(bad, std::ios::binary) << text;
  }
  try {
    replay::explore(&overdraft, options(), env(bad));
    FAIL() << "replayed a corrupted file";
  } catch (const ReplayFormatError& e) {
    EXPECT_EQ(e.file(), bad);
  }
}

TEST_F(ReplayExplore, OptionsRoundTrip) {
  sim::RunnerOptions o = options();
  o.sim.cancel_probability = 0.125;
  o.sim.max_callback_cost = std::chrono::microseconds(70);
  o.sim.buggify = false;
  o.max_steps = 77;
  sim::RunnerOptions back;
  apply_options(format_options(o), back);
  EXPECT_EQ(format_options(back), format_options(o));
  EXPECT_EQ(back.sim.cancel_probability, 0.125);
  EXPECT_EQ(back.max_steps, 77u);
  EXPECT_THROW(apply_options("warp_drive=1", back), std::invalid_argument);
  EXPECT_THROW(apply_options("cancel_probability=2", back), std::invalid_argument);
  EXPECT_THROW(apply_options("max_steps=-1", back), std::invalid_argument);
}

// A worker that must never see a cancel: any injected cancel fails the run.
Coro<void> cancel_intolerant(sim::SimLoop& loop) {
  auto worker = [](int k) -> Coro<void> {
    for (int i = 0; i < 3; ++i) co_await simloop::sleep(std::chrono::milliseconds(k));
  };
  std::vector<Task<void>> workers;
  for (int k = 1; k <= 2; ++k) workers.push_back(loop.create_task(worker(k), "worker-" + std::to_string(k)));
  co_await simloop::wait(workers);
  for (Task<void>& t : workers) {
    if (t.cancelled()) throw sim::AssertionFailed("a worker was cancelled");
  }
}

// Each injected cancel is in the replay file and on the timeline, with its
// kind, victim and where it was; the file replays exactly.
TEST_F(ReplayExplore, InjectedCancelsAreRecordedAndShownOnTheTimeline) {
  sim::RunnerOptions o = options();
  o.test_name = "ReplayExplore.Injection";
  o.sim.fidelity = sim::Fidelity::Asyncio;
  o.sim.cancel_probability = 0.2;
  const sim::ExploreResult r = replay::explore(&cancel_intolerant, o, env());
  ASSERT_FALSE(r.ok());
  const Trace t = load_trace(r.failure->files.replay_path);
  ASSERT_EQ(t.injections.size(), r.failure->outcome.injected_cancels) << r.failure->report;
  ASSERT_FALSE(t.injections.empty());
  const InjectionRecord& first = t.injections.front();
  EXPECT_TRUE(first.task == "worker-1" || first.task == "worker-2") << first.task;
  EXPECT_FALSE(first.where.empty());
  const std::string line = "injected cancel (" + first.kind + "): task '" + first.task + "' " + first.where;
  EXPECT_NE(timeline(t).find(line), std::string::npos) << timeline(t);
  EXPECT_NE(r.failure->report.find(first.kind + " at step " + std::to_string(first.step)), std::string::npos)
      << r.failure->report;

  const sim::ExploreResult again = replay::explore(&cancel_intolerant, o, env(r.failure->files.replay_path));
  ASSERT_TRUE(again.failure);
  EXPECT_NE(again.failure->report.find("reproduced exactly"), std::string::npos) << again.failure->report;
}

TEST(ReplayEnvTest, RefusesBadValuesNamingTheVariable) {
  ::setenv("SIMLOOP_REPLAY_CONTINUE", "yes", 1);
  try {
    (void)ReplayEnv::from_environment();
    ADD_FAILURE() << "accepted SIMLOOP_REPLAY_CONTINUE=yes";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("SIMLOOP_REPLAY_CONTINUE"), std::string::npos);
  }
  ::unsetenv("SIMLOOP_REPLAY_CONTINUE");
  ::setenv("SIMLOOP_MINIMIZE_RUNS", "lots", 1);
  EXPECT_THROW((void)ReplayEnv::from_environment(), std::invalid_argument);
  ::unsetenv("SIMLOOP_MINIMIZE_RUNS");
  const ReplayEnv e = ReplayEnv::from_environment();
  EXPECT_FALSE(e.replay_file.has_value());
  EXPECT_EQ(e.dir, std::filesystem::absolute(default_replay_dir()).string());
  EXPECT_EQ(default_replay_dir(), "simloop-replays");  // under the test's working directory, never the build tree
  EXPECT_EQ(replay_path("d", "Suite.Name/1 x", "pct(3)", "asyncio", 7, true),
            "d/Suite.Name_1_x-pct_3_-asyncio-seed7.min.simloop-replay");
}

}  // namespace

namespace {

TEST(ReplayEnvironment, ARelativeReplayFileIsFoundInTheReplayDirectory) {
  simloop::testing::ScopedTempDir tmp{"relative-replay"};
  std::filesystem::create_directories(tmp.path());
  std::ofstream(tmp.path() / "saved.simloop-replay") << "x";
  ::setenv("SIMLOOP_REPLAY_DIR", tmp.path().c_str(), 1);
  ::setenv("SIMLOOP_REPLAY", "saved.simloop-replay", 1);
  const ReplayEnv e = ReplayEnv::from_environment();
  ::unsetenv("SIMLOOP_REPLAY");
  ::unsetenv("SIMLOOP_REPLAY_DIR");
  ASSERT_TRUE(e.replay_file.has_value());
  EXPECT_EQ(*e.replay_file, (tmp.path() / "saved.simloop-replay").string());
}

}  // namespace
