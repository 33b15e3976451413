// The exploration runner: environment parsing (bad values refused, naming the
// variable), sharding, the reproduce command, each detector, the
// determinism check and the RunObserver extension point.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include <simloop/simloop.hpp>

using namespace std::chrono_literals;
using simloop::Coro;
using simloop::sim::ConfigError;
using simloop::sim::FailureKind;
using simloop::sim::RunnerOptions;
using simloop::sim::SimLoop;
using simloop::sim::Strategy;

namespace {

RunnerOptions from(const std::map<std::string, std::string>& env, RunnerOptions base = {}) {
  return simloop::sim::options_from_env(std::move(base), [&env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

std::string config_error(const std::map<std::string, std::string>& env) {
  try {
    from(env);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(accepted)";
}

RunnerOptions quiet(std::uint64_t runs = 50) {
  RunnerOptions o;
  o.runs = runs;
  o.log = nullptr;
  return o;
}

}  // namespace

TEST(SimRunnerEnv, ReadsEveryVariable) {
  RunnerOptions o = from({{"SIMLOOP_SEED", "77"},
                          {"SIMLOOP_RUNS", "5"},
                          {"SIMLOOP_STRATEGY", "pct"},
                          {"SIMLOOP_FIDELITY", "chaos"},
                          {"SIMLOOP_PCT_DEPTH", "4"},
                          {"SIMLOOP_MAX_STEPS", "1000"},
                          {"SIMLOOP_MAX_VTIME", "1500ms"},
                          {"SIMLOOP_CHECK_DETERMINISM", "1"},
                          {"SIMLOOP_CANCEL", "0.25"},
                          {"GTEST_TOTAL_SHARDS", "4"},
                          {"GTEST_SHARD_INDEX", "3"}});
  EXPECT_EQ(o.seed, 77u);
  EXPECT_EQ(o.runs, 5u);
  EXPECT_EQ(o.strategy, Strategy::Pct);
  EXPECT_EQ(o.sim.fidelity, simloop::sim::Fidelity::Chaos);
  EXPECT_EQ(o.sim.pct_depth, 4u);
  EXPECT_EQ(o.max_steps, 1000u);
  EXPECT_EQ(o.max_vtime, 1500ms);
  EXPECT_TRUE(o.check_determinism);
  EXPECT_DOUBLE_EQ(o.sim.cancel_probability, 0.25);
  EXPECT_EQ(o.total_shards, 4u);
  EXPECT_EQ(o.shard_index, 3u);
  // Unset variables keep the code's options.
  RunnerOptions base;
  base.runs = 9;
  EXPECT_EQ(from({}, base).runs, 9u);
  // SIMLOOP_* shard variables win over gtest's.
  RunnerOptions s = from({{"GTEST_TOTAL_SHARDS", "4"},
                          {"GTEST_SHARD_INDEX", "3"},
                          {"SIMLOOP_TOTAL_SHARDS", "2"},
                          {"SIMLOOP_SHARD_INDEX", "1"}});
  EXPECT_EQ(s.total_shards, 2u);
  EXPECT_EQ(s.shard_index, 1u);
}

TEST(SimRunnerEnv, BadValuesAreRefusedNamingTheVariable) {
  struct Case {
    std::map<std::string, std::string> env;
    std::string must_mention;
  };
  const Case cases[] = {
      {{{"SIMLOOP_SEED", "abc"}}, "SIMLOOP_SEED='abc'"},
      {{{"SIMLOOP_SEED", "-1"}}, "SIMLOOP_SEED"},
      {{{"SIMLOOP_SEED", "12x"}}, "SIMLOOP_SEED"},
      {{{"SIMLOOP_SEED", ""}}, "SIMLOOP_SEED"},
      {{{"SIMLOOP_SEED", "99999999999999999999999"}}, "SIMLOOP_SEED"},
      {{{"SIMLOOP_RUNS", "0"}}, "SIMLOOP_RUNS='0': must be at least 1"},
      {{{"SIMLOOP_STRATEGY", "dfs"}}, "SIMLOOP_STRATEGY='dfs': unknown strategy"},
      {{{"SIMLOOP_STRATEGY", "list"}}, "SIMLOOP_STRATEGY='list': the list strategy replays"},
      {{{"SIMLOOP_FIDELITY", "tokio"}}, "SIMLOOP_FIDELITY='tokio': unknown fidelity"},
      {{{"SIMLOOP_PCT_DEPTH", "0"}}, "SIMLOOP_PCT_DEPTH"},
      {{{"SIMLOOP_PCT_DEPTH", "1000"}}, "SIMLOOP_PCT_DEPTH"},
      {{{"SIMLOOP_MAX_STEPS", "lots"}}, "SIMLOOP_MAX_STEPS"},
      {{{"SIMLOOP_MAX_VTIME", "10 parsecs"}}, "SIMLOOP_MAX_VTIME"},
      {{{"SIMLOOP_MAX_VTIME", "5d"}}, "SIMLOOP_MAX_VTIME"},
      {{{"SIMLOOP_CHECK_DETERMINISM", "yes"}}, "SIMLOOP_CHECK_DETERMINISM"},
      {{{"SIMLOOP_CANCEL", "2"}}, "SIMLOOP_CANCEL"},
      {{{"SIMLOOP_TIME_BUDGET", "0"}}, "SIMLOOP_TIME_BUDGET='0': not a positive duration"},
      {{{"SIMLOOP_TIME_BUDGET", "soon"}}, "SIMLOOP_TIME_BUDGET='soon'"},
      {{{"GTEST_TOTAL_SHARDS", "3"}, {"GTEST_SHARD_INDEX", "3"}}, "GTEST_SHARD_INDEX=3 must be less than"},
      {{{"GTEST_TOTAL_SHARDS", "3"}}, "GTEST_SHARD_INDEX"},
      {{{"SIMLOOP_TOTAL_SHARDS", "0"}, {"SIMLOOP_SHARD_INDEX", "0"}}, "SIMLOOP_TOTAL_SHARDS"},
  };
  for (const Case& c : cases) {
    const std::string message = config_error(c.env);
    EXPECT_NE(message.find(c.must_mention), std::string::npos) << "got: " << message;
  }
}

TEST(SimRunnerEnv, Durations) {
  EXPECT_EQ(simloop::sim::parse_duration("7ns"), std::chrono::nanoseconds(7));
  EXPECT_EQ(simloop::sim::parse_duration("250us"), 250us);
  EXPECT_EQ(simloop::sim::parse_duration("3"), 3s);
  EXPECT_EQ(simloop::sim::parse_duration("2m"), 120s);
  EXPECT_EQ(simloop::sim::parse_duration("1h"), 3600s);
  EXPECT_FALSE(simloop::sim::parse_duration("h"));
  EXPECT_FALSE(simloop::sim::parse_duration("99999999999h"));
  EXPECT_EQ(simloop::sim::format_duration(1500ms), "1500ms");
}

namespace {
// Records the seeds it sees.
struct SeedSpy final : simloop::sim::RunObserver {
  std::vector<std::uint64_t> seeds;
  void on_run_start(const simloop::sim::RunContext& ctx, SimLoop&, simloop::sim::SimScheduler&) override {
    seeds.push_back(ctx.seed);
  }
};
Coro<void> nothing(SimLoop&) { co_await simloop::sleep(1ms); }
}  // namespace

TEST(SimRunner, ShardsCoverDisjointSeeds) {
  std::multiset<std::uint64_t> all;
  for (std::uint64_t shard = 0; shard < 3; ++shard) {
    SeedSpy spy;
    RunnerOptions o = quiet(10);
    o.seed = 100;
    o.total_shards = 3;
    o.shard_index = shard;
    o.observers.push_back(&spy);
    auto r = simloop::sim::explore(nothing, o);
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r.runs, spy.seeds.size());
    all.insert(spy.seeds.begin(), spy.seeds.end());
  }
  std::multiset<std::uint64_t> expected;
  for (std::uint64_t s = 100; s < 110; ++s) expected.insert(s);
  EXPECT_EQ(all, expected);
}

TEST(SimRunner, ConfigurationLineAndReproduceCommand) {
  RunnerOptions o = from({{"SIMLOOP_STRATEGY", "pct"}, {"SIMLOOP_MAX_STEPS", "500"}});
  o.test_name = "Suite.Name";
  o.program = "./tests/exploration_tests";
  o.program_args = "--gtest_filter=Suite.Name";
  const std::string config = simloop::sim::describe_config(o);
  EXPECT_NE(config.find("Suite.Name strategy=pct fidelity=asyncio pct_depth=3"), std::string::npos) << config;
  EXPECT_NE(config.find("max_steps=500"), std::string::npos) << config;
  EXPECT_EQ(simloop::sim::reproduce_command(o, 42),
            "SIMLOOP_SEED=42 SIMLOOP_RUNS=1 SIMLOOP_STRATEGY=pct SIMLOOP_FIDELITY=asyncio SIMLOOP_PCT_DEPTH=3 "
            "SIMLOOP_MAX_STEPS=500 ./tests/exploration_tests --gtest_filter=Suite.Name");
}

namespace {
Coro<void> deadlocks(SimLoop& loop) {
  auto never = simloop::Future<int>::create(loop);
  co_await never;
}
Coro<void> spins(SimLoop&) {
  for (;;) co_await simloop::sleep(0s);
}
Coro<void> ticks(SimLoop&) {
  for (;;) co_await simloop::sleep(1s);
}
Coro<void> forever(SimLoop&) { co_await simloop::sleep(24h * 365); }
Coro<void> leaves_a_task(SimLoop& loop) {
  loop.create_task(forever(loop), "orphan");
  co_await simloop::sleep(1ms);
}
Coro<void> leaves_a_timer(SimLoop& loop) {
  loop.call_later(1h, [] {});
  co_await simloop::sleep(1ms);
}
Coro<void> raises(SimLoop&) {
  co_await simloop::sleep(1ms);
  throw std::runtime_error("boom");
}
Coro<void> drops_an_exception(SimLoop& loop) {
  auto t = loop.create_task(raises(loop), "dropped");
  co_await simloop::sleep(5ms);
  (void)t;  // the task's exception is never retrieved
}
Coro<void> fails_on_seed_7(SimLoop&) {
  co_await simloop::sleep(1ms);
  if (simloop::EventLoop::running()->scheduler().choose(simloop::ChoiceKind::Test, 1000) == 7) {
    throw std::runtime_error("seven");
  }
}
}  // namespace

TEST(SimRunnerDetectors, Deadlock) {
  auto r = simloop::sim::explore(deadlocks, quiet(1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.failure->outcome.failure, FailureKind::Deadlock);
  EXPECT_NE(r.failure->outcome.task_dump.find("name='main'"), std::string::npos) << r.failure->outcome.task_dump;
  EXPECT_NE(r.failure->outcome.task_dump.find("wait_for=<Future pending"), std::string::npos);
  EXPECT_NE(r.failure->report.find("seed:     1"), std::string::npos) << r.failure->report;
  EXPECT_NE(r.failure->report.find("reproduce: SIMLOOP_SEED=1 SIMLOOP_RUNS=1"), std::string::npos);
}

TEST(SimRunnerDetectors, StepAndVirtualTimeBudgets) {
  RunnerOptions o = quiet(1);
  o.max_steps = 1000;
  auto r = simloop::sim::explore(spins, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.failure->outcome.failure, FailureKind::StepBudget);
  EXPECT_LE(r.failure->outcome.steps, 1002u);

  RunnerOptions t = quiet(1);
  t.max_steps = 0;
  t.max_vtime = 1h;
  auto r2 = simloop::sim::explore(ticks, t);
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.failure->outcome.failure, FailureKind::TimeBudget);
  EXPECT_NE(r2.failure->outcome.message.find("1h"), std::string::npos) << r2.failure->outcome.message;
}

TEST(SimRunnerDetectors, EndOfRunHygiene) {
  auto pending = simloop::sim::explore(leaves_a_task, quiet(1));
  ASSERT_FALSE(pending.ok());
  EXPECT_EQ(pending.failure->outcome.failure, FailureKind::PendingTasks);
  EXPECT_NE(pending.failure->outcome.task_dump.find("name='orphan'"), std::string::npos);

  auto timer = simloop::sim::explore(leaves_a_timer, quiet(1));
  ASSERT_FALSE(timer.ok());
  EXPECT_EQ(timer.failure->outcome.failure, FailureKind::LiveTimers);

  auto dropped = simloop::sim::explore(drops_an_exception, quiet(1));
  ASSERT_FALSE(dropped.ok());
  EXPECT_EQ(dropped.failure->outcome.failure, FailureKind::HandlerReport);
  EXPECT_NE(dropped.failure->outcome.message.find("never retrieved"), std::string::npos)
      << dropped.failure->outcome.message;
  EXPECT_NE(dropped.failure->outcome.message.find("boom"), std::string::npos);

  // Each can be turned off.
  RunnerOptions lax = quiet(1);
  lax.fail_on_pending_tasks = false;
  lax.fail_on_live_timers = false;
  lax.fail_on_handler_reports = false;
  EXPECT_TRUE(simloop::sim::explore(leaves_a_timer, lax).ok());
  EXPECT_TRUE(simloop::sim::explore(drops_an_exception, lax).ok());
}

TEST(SimRunnerDetectors, StopsAtTheFirstFailingSeed) {
  // choose(1000) == 7 happens for some seed; the runner stops there.
  RunnerOptions o = quiet(5000);
  auto r = simloop::sim::explore(fails_on_seed_7, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.failure->outcome.failure, FailureKind::Exception);
  EXPECT_EQ(r.runs, r.failure->seed - o.seed + 1);
  // The reported seed alone reproduces it.
  RunnerOptions again = quiet(1);
  again.seed = r.failure->seed;
  auto r2 = simloop::sim::explore(fails_on_seed_7, again);
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.failure->outcome.message, r.failure->outcome.message);
  // And the seed before it passes.
  again.seed = r.failure->seed - 1;
  EXPECT_TRUE(simloop::sim::explore(fails_on_seed_7, again).ok());
}

namespace {
int g_leaky_state = 0;  // state that survives between runs: nondeterminism
Coro<void> depends_on_previous_runs(SimLoop& loop) {
  auto a = loop.create_task(nothing(loop));
  if (++g_leaky_state % 2 == 0) co_await simloop::sleep(0s);
  co_await a;
}
}  // namespace

TEST(SimRunnerDetectors, DeterminismCheckNamesTheFirstDifferingStep) {
  RunnerOptions o = quiet(3);
  o.check_determinism = true;
  auto good = simloop::sim::explore(fails_on_seed_7, o);
  EXPECT_TRUE(good.ok());

  auto r = simloop::sim::explore(depends_on_previous_runs, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.failure->outcome.failure, FailureKind::Nondeterminism);
  EXPECT_NE(r.failure->outcome.message.find("first differing step: #"), std::string::npos)
      << r.failure->outcome.message;
  EXPECT_NE(r.failure->outcome.message.find("step of main"), std::string::npos) << r.failure->outcome.message;
}

namespace {
// The replay extension point: record every run's choices; replay a list.
struct Recorder final : simloop::sim::RunObserver {
  simloop::sim::ChoiceRecorder rec;
  std::vector<simloop::sim::Choice> last;
  std::string note;
  void on_run_start(const simloop::sim::RunContext&, SimLoop&, simloop::sim::SimScheduler& s) override {
    rec.clear();
    s.add_observer(&rec);
  }
  std::string on_run_end(const simloop::sim::RunContext&, const simloop::sim::RunOutcome& out) override {
    last = rec.choices();
    return out.failed() ? note : std::string();
  }
};
struct Replayer final : simloop::sim::RunObserver {
  std::vector<simloop::sim::Choice> list;
  std::unique_ptr<simloop::sim::SimScheduler> make_scheduler(const simloop::sim::RunContext&) override {
    return std::make_unique<simloop::sim::ListStrategy>(list);
  }
};
}  // namespace

TEST(SimRunner, RunObserverRecordsAndReplaysAFailure) {
  Recorder recorder;
  recorder.note = "  replay file: (would be written here)\n";
  RunnerOptions o = quiet(5000);
  o.observers.push_back(&recorder);
  auto r = simloop::sim::explore(fails_on_seed_7, o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.failure->report.find("replay file: (would be written here)"), std::string::npos);
  ASSERT_FALSE(recorder.last.empty());

  Replayer replayer;
  replayer.list = recorder.last;
  RunnerOptions rep = quiet(1);
  rep.seed = 0;  // the list decides, not the seed
  rep.observers.push_back(&replayer);
  auto again = simloop::sim::explore(fails_on_seed_7, rep);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.failure->outcome.message, r.failure->outcome.message);
}
