// The bounded strategy (sim/bounded.hpp): every run within K deviations from
// asyncio's order, in a fixed order. The scenarios are small enough that
// every count below is worked out by hand from the choice tree.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <simloop/replay/explore.hpp>
#include <simloop/replay/format.hpp>
#include <simloop/sim/bounded.hpp>
#include <simloop/simloop.hpp>

#include "racy_bugs.hpp"
#include "support/temp_dir.hpp"

namespace {

using namespace std::chrono_literals;
using simloop::ChoiceKind;
using simloop::Coro;
namespace sim = simloop::sim;

// A heartbeat beats at 1, 2 and 3 ms; a watchdog checks at the same three
// instants and declares its peer dead after two checks in a row that find
// fewer beats than it expects. All six timers are armed at t = 0, each beat
// before the check of its instant, so asyncio's order runs every beat first.
// With callback costs off and no I/O, a run makes exactly three choices: the
// TimerTie(2) of each instant, where 1 (a deviation) runs the check before
// its beat. The buggy watchdog expects i beats at check i, so a deviation at
// instant i is a miss, and it fails exactly when two consecutive instants
// deviate: a bug that needs two deviations. The fixed one expects i - 1 (a
// beat due at the very instant of the check may come after it) and never
// misses.
sim::Scenario watchdog(bool fixed) {
  return [fixed](sim::SimLoop& loop) -> Coro<void> {
    int beats = 0, missed_in_row = 0, dead_at = 0;
    for (int i = 1; i <= 3; ++i) {
      loop.call_later(i * 1ms, [&beats] { ++beats; });
      loop.call_later(i * 1ms, [&beats, &missed_in_row, &dead_at, i, fixed] {
        if (beats < (fixed ? i - 1 : i)) {
          if (++missed_in_row == 2 && dead_at == 0) dead_at = i;
        } else {
          missed_in_row = 0;
        }
      });
    }
    co_await simloop::sleep(4ms);  // after the last tie, and not tied with it
    if (dead_at != 0) {
      throw sim::AssertionFailed("the watchdog declared its peer dead at check " + std::to_string(dead_at));
    }
  };
}

sim::RunnerOptions bounded(std::uint32_t k, const char* test = "Bounded.Watchdog") {
  sim::RunnerOptions o;
  o.test_name = test;
  o.strategy = sim::Strategy::Bounded;
  o.max_deviations = k;
  o.runs = UINT64_MAX;  // every run of the enumeration
  o.sim.max_callback_cost = simloop::Duration{0};
  o.log = nullptr;
  return o;
}

// The choice values of every run, in the order the runs ran.
class ValuesOfEachRun final : public sim::RunObserver {
 public:
  void on_run_start(const sim::RunContext&, sim::SimLoop&, sim::SimScheduler& scheduler) override {
    recorder_.clear();
    scheduler.add_observer(&recorder_);
  }
  std::string on_run_end(const sim::RunContext&, const sim::RunOutcome&) override {
    std::vector<std::uint64_t> values;
    for (const sim::Choice& c : recorder_.choices()) values.push_back(c.value);
    runs.push_back(std::move(values));
    return {};
  }
  std::vector<std::vector<std::uint64_t>> runs;

 private:
  sim::ChoiceRecorder recorder_;
};

using Runs = std::vector<std::vector<std::uint64_t>>;

TEST(Bounded, DeviationValuesBucketWideChoices) {
  using V = std::vector<std::uint64_t>;
  EXPECT_EQ(sim::deviation_values(ChoiceKind::Test, 1), V{});
  EXPECT_EQ(sim::deviation_values(ChoiceKind::Test, 2), (V{1}));
  EXPECT_EQ(sim::deviation_values(ChoiceKind::Test, 4), (V{1, 2, 3}));
  EXPECT_EQ(sim::deviation_values(ChoiceKind::Test, 5), (V{1, 2, 4}));
  EXPECT_EQ(sim::deviation_values(ChoiceKind::Test, 1000), (V{1, 500, 999}));
  // Default callback cost: 7 levels (0, 1us .. 100ms): 1us, 100us, 100ms.
  EXPECT_EQ(sim::deviation_values(ChoiceKind::CallbackCost, 7), (V{1, 3, 6}));
  EXPECT_EQ(sim::deviation_values(ChoiceKind::ExternalDelay, 4), (V{1, 2, 3}));
  // Orders are never bucketed.
  EXPECT_EQ(sim::deviation_values(ChoiceKind::TimerTie, 6), (V{1, 2, 3, 4, 5}));
  EXPECT_EQ(sim::deviation_values(ChoiceKind::ReadyOrder, 5), (V{1, 2, 3, 4}));
  EXPECT_EQ(sim::deviation_values(ChoiceKind::ExternalOrder, 5), (V{1, 2, 3, 4}));
  // buggify: only 1 differs from the natural 0.
  EXPECT_EQ(sim::deviation_values(ChoiceKind::Buggify, 4), (V{1}));
}

TEST(Bounded, RunsInLevelOrderWithBucketedValues) {
  // Two test choices, choose(100) (bucketed to 1, 50, 99) then choose(3)
  // (1 and 2). K = 0: the natural run. K = 1: 3 values at choice #0 and 2 at
  // choice #1, 5 runs. K = 2: a child deviates after its parent's last
  // deviation, so only the 3 runs deviating at #0 have children, 2 each: 6.
  // 1 + 5 + 6 = 12 = every run of the bucketed tree (4 x 3 values).
  std::vector<std::pair<std::uint64_t, std::uint64_t>> seen;
  auto scenario = [&seen](sim::SimLoop&) -> Coro<void> {
    const std::uint64_t a = sim::choose(100);
    const std::uint64_t b = sim::choose(3);
    seen.emplace_back(a, b);
    co_return;
  };
  sim::BoundedSummary summary;
  const sim::ExploreResult r = sim::explore_bounded(scenario, bounded(2), &summary);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.runs, 12u);
  EXPECT_TRUE(summary.exhausted);
  EXPECT_EQ(summary.runs_per_level, (std::vector<std::uint64_t>{1, 5, 6}));
  const std::vector<std::pair<std::uint64_t, std::uint64_t>> expected = {
      {0, 0},                                                // K = 0
      {1, 0}, {50, 0}, {99, 0}, {0, 1},  {0, 2},             // K = 1: by position, then value
      {1, 1}, {1, 2},  {50, 1}, {50, 2}, {99, 1}, {99, 2}};  // K = 2: by parent, then position, value
  EXPECT_EQ(seen, expected);
}

TEST(Bounded, TwoDeviationBugIsMissedAtOneAndFoundAtTwo) {
  // K <= 1: the natural run and one deviation at each of the 3 ties: 4 runs,
  // none with two consecutive misses.
  sim::BoundedSummary one;
  const sim::ExploreResult r1 = sim::explore_bounded(watchdog(false), bounded(1), &one);
  EXPECT_TRUE(r1.ok()) << sim::failure_report(r1, bounded(1));
  EXPECT_EQ(r1.runs, 4u);
  EXPECT_TRUE(one.exhausted);
  EXPECT_EQ(one.runs_per_level, (std::vector<std::uint64_t>{1, 3}));
  EXPECT_EQ(one.message,
            "simloop: Bounded.Watchdog: exhausted: no failure within 1 deviation from asyncio's order (4 runs; K = "
            "0, 1: 1 + 3)");

  // K = 2 runs, in order: #5 = ties {1, 2} deviated (the children of #2,
  // which deviated at tie 1), #6 = {1, 3}, #7 = {2, 3}. #5 misses at checks
  // 1 and 2: the first failure, at run 5, with two deviations.
  sim::BoundedSummary two;
  const sim::ExploreResult r2 = sim::explore_bounded(watchdog(false), bounded(2), &two);
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.runs, 5u);
  EXPECT_EQ(r2.failure->seed, 5u) << "a bounded run's seed is its run number";
  EXPECT_EQ(r2.failure->outcome.message, "the watchdog declared its peer dead at check 2");
  EXPECT_NE(r2.failure->report.find("bounded: run #5, 2 deviation(s) from asyncio's order: choice #0 timer_tie(2)=1, "
                                    "choice #1 timer_tie(2)=1"),
            std::string::npos)
      << r2.failure->report;
  EXPECT_FALSE(two.exhausted);
  EXPECT_NE(r2.failure->reproduce.find("SIMLOOP_SEED=5 SIMLOOP_RUNS=1 SIMLOOP_STRATEGY=bounded"), std::string::npos)
      << r2.failure->reproduce;
  EXPECT_NE(r2.failure->reproduce.find("SIMLOOP_MAX_DEVIATIONS=2"), std::string::npos) << r2.failure->reproduce;
}

TEST(Bounded, FixedVersionIsExhaustedAtTwo) {
  // 1 + 3 + 3 = 7 runs: every schedule of the three ties but the one that
  // deviates at all three.
  ValuesOfEachRun values;
  sim::RunnerOptions o = bounded(2, "Bounded.Fixed");
  o.observers = {&values};
  sim::BoundedSummary summary;
  const sim::ExploreResult r = sim::explore_bounded(watchdog(true), o, &summary);
  EXPECT_TRUE(r.ok()) << sim::failure_report(r, o);
  EXPECT_EQ(r.runs, 7u);
  EXPECT_TRUE(summary.exhausted);
  EXPECT_EQ(summary.message,
            "simloop: Bounded.Fixed: exhausted: no failure within 2 deviations from asyncio's order (7 runs; K = 0, "
            "1, 2: 1 + 3 + 3)");
  const Runs expected = {{0, 0, 0}, {1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {1, 1, 0}, {1, 0, 1}, {0, 1, 1}};
  EXPECT_EQ(values.runs, expected);

  // K = 5 goes past the tree: 1 + 3 + 3 + 1 = 8 = 2^3 runs, the whole tree.
  sim::BoundedSummary all;
  const sim::ExploreResult r5 = sim::explore_bounded(watchdog(true), bounded(5, "Bounded.Fixed"), &all);
  EXPECT_TRUE(r5.ok());
  EXPECT_EQ(r5.runs, 8u);
  EXPECT_TRUE(all.exhausted);
  EXPECT_EQ(all.runs_per_level, (std::vector<std::uint64_t>{1, 3, 3, 1}));
  EXPECT_NE(all.message.find("the whole tree: no run has more than 3 deviation(s)"), std::string::npos) << all.message;
}

TEST(Bounded, ExploreDispatchesOnTheStrategy) {
  // sim::explore (what SIMLOOP_TEST and SIMLOOP_STRATEGY=bounded use) is
  // explore_bounded for strategy bounded: the same 7 runs, with
  // determinism checking on (each run twice, the same strategy both times).
  sim::RunnerOptions o = bounded(2, "Bounded.Fixed");
  o.check_determinism = true;
  const sim::ExploreResult r = sim::explore(watchdog(true), o);
  EXPECT_TRUE(r.ok()) << sim::failure_report(r, o);
  EXPECT_EQ(r.runs, 7u);
}

TEST(Bounded, CountAllGroupsTheFailuresBySignature) {
  // K = 2 with keep_going: all 7 runs; #5 (ties 1, 2) and #7 (ties 2, 3)
  // fail, dead at check 2 and at check 3: one signature (digits are not part
  // of it), counted twice, first at run 5. K = 3 adds #8 (all three), dead
  // at check 2: 3 of 8.
  sim::RunnerOptions o = bounded(2);
  o.keep_going = true;
  sim::BoundedSummary summary;
  const sim::ExploreResult r = sim::explore_bounded(watchdog(false), o, &summary);
  EXPECT_EQ(r.runs, 7u);
  EXPECT_EQ(r.failures, 2u);
  ASSERT_EQ(r.classes.size(), 1u);
  EXPECT_EQ(r.classes[0].count, 2u);
  EXPECT_EQ(r.classes[0].first.seed, 5u);
  EXPECT_TRUE(summary.exhausted);
  EXPECT_EQ(summary.message,
            "simloop: Bounded.Watchdog: exhausted: 2 of the runs within 2 deviations from asyncio's order failed, 1 "
            "distinct (7 runs; K = 0, 1, 2: 1 + 3 + 3)");

  o.max_deviations = 3;
  const sim::ExploreResult r3 = sim::explore_bounded(watchdog(false), o);
  EXPECT_EQ(r3.runs, 8u);
  EXPECT_EQ(r3.failures, 3u);
}

TEST(Bounded, TwoShardsTogetherRunExactlyTheRunsOfOne) {
  // Run i (0-based) belongs to shard i % 2: shard 0 runs #1, #3, #5, #7
  // (failing: #5, #7), shard 1 runs #2, #4, #6 (none failing). Shard 1
  // re-runs #1 and #3 (levels below K) quietly to build the tree, but only
  // its own runs are counted and observed.
  auto run = [](std::uint64_t total, std::uint64_t index, ValuesOfEachRun& values) {
    sim::RunnerOptions o = bounded(2);
    o.keep_going = true;
    o.total_shards = total;
    o.shard_index = index;
    o.observers = {&values};
    sim::BoundedSummary summary;
    sim::ExploreResult r = sim::explore_bounded(watchdog(false), o, &summary);
    EXPECT_TRUE(summary.exhausted) << summary.message;
    return r;
  };
  ValuesOfEachRun whole, first, second;
  const sim::ExploreResult all = run(1, 0, whole);
  const sim::ExploreResult s0 = run(2, 0, first);
  const sim::ExploreResult s1 = run(2, 1, second);
  EXPECT_EQ(all.runs, 7u);
  EXPECT_EQ(s0.runs, 4u);
  EXPECT_EQ(s1.runs, 3u);
  EXPECT_EQ(s0.failures, 2u);
  EXPECT_EQ(s1.failures, 0u);
  EXPECT_EQ(first.runs, (Runs{{0, 0, 0}, {0, 1, 0}, {1, 1, 0}, {0, 1, 1}}));
  EXPECT_EQ(second.runs, (Runs{{1, 0, 0}, {0, 0, 1}, {1, 0, 1}}));
  std::multiset<std::vector<std::uint64_t>> together(first.runs.begin(), first.runs.end());
  together.insert(second.runs.begin(), second.runs.end());
  const std::multiset<std::vector<std::uint64_t>> one(whole.runs.begin(), whole.runs.end());
  EXPECT_EQ(together, one) << "the shards' runs are disjoint and cover the single shard's";
}

TEST(Bounded, TheReproduceLineRerunsOneRun) {
  // SIMLOOP_SEED=5 SIMLOOP_RUNS=1: run #5 alone (runs #1..#4 are re-run
  // quietly to rebuild the tree), failing as in the full exploration; #4 alone passes.
  sim::RunnerOptions o = bounded(2);
  o.seed = 5;
  o.runs = 1;
  const sim::ExploreResult r = sim::explore(watchdog(false), o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.runs, 1u);
  EXPECT_EQ(r.failure->seed, 5u);
  EXPECT_EQ(r.failure->outcome.message, "the watchdog declared its peer dead at check 2");
  o.seed = 4;
  EXPECT_TRUE(sim::explore(watchdog(false), o).ok());

  // A window that ends before the enumeration does is not exhaustive, and says where to go on.
  sim::RunnerOptions fixed = bounded(2, "Bounded.Fixed");
  fixed.runs = 4;
  sim::BoundedSummary summary;
  const sim::ExploreResult w = sim::explore_bounded(watchdog(true), fixed, &summary);
  EXPECT_TRUE(w.ok());
  EXPECT_EQ(w.runs, 4u);
  EXPECT_FALSE(summary.exhausted);
  EXPECT_NE(summary.message.find("continue with SIMLOOP_SEED=5"), std::string::npos) << summary.message;
  fixed.seed = 5;
  fixed.runs = UINT64_MAX - 4;
  const sim::ExploreResult rest = sim::explore_bounded(watchdog(true), fixed, &summary);
  EXPECT_EQ(rest.runs, 3u) << "runs #5..#7";
  EXPECT_TRUE(summary.exhausted) << summary.message;
}

TEST(Bounded, FindsEachRacyProgramWithOneDeviation) {
  // The racy programs of racy_bugs.hpp, at their default options (callback
  // costs on): K = 0 is asyncio's own order, which none of them fails in;
  // each needs one deviation (a tie broken the other way, an event held
  // back, a slow callback, a cancel), so K = 1 finds each.
  struct Case {
    const char* name;
    sim::Scenario scenario;
    sim::Fidelity fidelity;
    double cancel;
  };
  const std::vector<Case> cases = {
      {"double withdrawal", racy::double_withdrawal, sim::Fidelity::Asyncio, 0.0},
      {"lost update", racy::lost_update, sim::Fidelity::Asyncio, 0.0},
      {"dropped item", racy::dropped_item, sim::Fidelity::Asyncio, 0.0},
      {"busy-loop expiry", racy::busy_loop_expiry, sim::Fidelity::Asyncio, 0.0},
      {"start order", racy::start_order, sim::Fidelity::Chaos, 0.0},
      {"leaky pool", racy::leaky_pool, sim::Fidelity::Asyncio, 0.2},
  };
  for (const Case& c : cases) {
    sim::RunnerOptions o;
    o.test_name = c.name;
    o.strategy = sim::Strategy::Bounded;
    o.runs = UINT64_MAX;
    o.sim.fidelity = c.fidelity;
    o.sim.cancel_probability = c.cancel;
    o.log = nullptr;
    o.max_deviations = 0;
    sim::BoundedSummary natural;
    EXPECT_TRUE(sim::explore_bounded(c.scenario, o, &natural).ok()) << c.name;
    EXPECT_EQ(natural.runs_per_level, (std::vector<std::uint64_t>{1})) << c.name;
    o.max_deviations = 1;
    const sim::ExploreResult r = sim::explore_bounded(c.scenario, o);
    ASSERT_FALSE(r.ok()) << c.name << " was not found within 1 deviation";
    EXPECT_NE(r.failure->report.find(", 1 deviation(s) from asyncio's order"), std::string::npos) << r.failure->report;
    std::printf("  bounded finds %s at run #%llu\n", c.name, static_cast<unsigned long long>(r.failure->seed));
  }
}

TEST(Bounded, AFailureLeavesAReplayFileThatReproducesIt) {
  simloop::testing::ScopedTempDir dir("bounded-replay");
  simloop::replay::ReplayEnv env;
  env.dir = dir.path().string();
  env.minimize_runs = 50;
  const sim::ExploreResult r = simloop::replay::explore(watchdog(false), bounded(2), env);
  ASSERT_FALSE(r.ok());
  const sim::FailureFiles& files = r.failure->files;
  ASSERT_FALSE(files.replay_path.empty()) << r.failure->report;
  EXPECT_EQ(std::filesystem::path(files.replay_path).filename().string(),
            "Bounded.Watchdog-bounded-asyncio-seed5.simloop-replay");
  EXPECT_EQ(files.nonzero_choices, 2u) << "run #5 deviates at two choices";
  const simloop::replay::Trace t = simloop::replay::load_trace(files.replay_path);
  EXPECT_EQ(t.strategy, "bounded");
  EXPECT_EQ(t.seed, 5u);

  simloop::replay::ReplayEnv again = env;
  again.replay_file = files.replay_path;
  const sim::ExploreResult replayed = simloop::replay::explore(watchdog(false), bounded(2), again);
  EXPECT_EQ(replayed.replay_verdict, sim::ReplayVerdict::Reproduced);
  EXPECT_EQ(replayed.runs, 1u);
  ASSERT_FALSE(replayed.ok());
  EXPECT_EQ(replayed.failure->outcome.message, "the watchdog declared its peer dead at check 2");
  EXPECT_NE(
      replayed.failure->reproduce.find(
          "SIMLOOP_SEED=5 SIMLOOP_RUNS=1 SIMLOOP_STRATEGY=bounded SIMLOOP_FIDELITY=asyncio SIMLOOP_MAX_DEVIATIONS=2"),
      std::string::npos)
      << replayed.failure->reproduce;
  // The file keeps the exploration's K: run #5 is that run for K >= 2 only,
  // so a replay configured with K = 1 still reproduces it as K = 2.
  const sim::ExploreResult under_one = simloop::replay::explore(watchdog(false), bounded(1), again);
  EXPECT_EQ(under_one.replay_verdict, sim::ReplayVerdict::Reproduced);
  ASSERT_FALSE(under_one.ok());
  EXPECT_NE(under_one.failure->reproduce.find("SIMLOOP_MAX_DEVIATIONS=2"), std::string::npos)
      << under_one.failure->reproduce;
  // The fixed program follows the recorded schedule and passes.
  const sim::ExploreResult fixed = simloop::replay::explore(watchdog(true), bounded(2), again);
  EXPECT_EQ(fixed.replay_verdict, sim::ReplayVerdict::Passed);
}

TEST(Bounded, AProgramThatIsNotAFunctionOfItsChoicesIsNotCalledExhausted) {
  // Every other run asks choose(3) where the run before asked choose(2):
  // children do not find their parent's choice where they deviate.
  int calls = 0;
  auto scenario = [&calls](sim::SimLoop&) -> Coro<void> {
    (void)sim::choose(2 + static_cast<std::uint64_t>(calls++ % 2));
    (void)sim::choose(2);
    co_return;
  };
  sim::BoundedSummary summary;
  const sim::ExploreResult r = sim::explore_bounded(scenario, bounded(2), &summary);
  EXPECT_TRUE(r.ok());
  EXPECT_GT(summary.mismatches, 0u);
  EXPECT_FALSE(summary.exhausted);
  EXPECT_NE(summary.message.find("not a function of its choices"), std::string::npos) << summary.message;
}

TEST(Bounded, EnvironmentSettings) {
  auto env = [](std::vector<std::pair<std::string, std::string>> vars) {
    return [vars](const char* name) -> const char* {
      for (const auto& [k, v] : vars) {
        if (k == name) return v.c_str();
      }
      return nullptr;
    };
  };
  const sim::RunnerOptions o = sim::options_from_env({}, env({{"SIMLOOP_STRATEGY", "bounded"}}));
  EXPECT_EQ(o.strategy, sim::Strategy::Bounded);
  EXPECT_EQ(o.max_deviations, 2u) << "the documented default";
  EXPECT_EQ(o.runs, UINT64_MAX) << "SIMLOOP_RUNS unset: every run";
  const sim::RunnerOptions capped = sim::options_from_env(
      {}, env({{"SIMLOOP_STRATEGY", "bounded"}, {"SIMLOOP_RUNS", "10"}, {"SIMLOOP_MAX_DEVIATIONS", "3"}}));
  EXPECT_EQ(capped.runs, 10u);
  EXPECT_EQ(capped.max_deviations, 3u);
  EXPECT_NE(sim::describe_config(capped).find("strategy=bounded"), std::string::npos);
  EXPECT_NE(sim::describe_config(capped).find("max_deviations=3 runs=#1..#10"), std::string::npos)
      << sim::describe_config(capped);
  for (const char* bad : {"abc", "-1", "65", ""}) {
    try {
      (void)sim::options_from_env({}, env({{"SIMLOOP_MAX_DEVIATIONS", bad}}));
      ADD_FAILURE() << "SIMLOOP_MAX_DEVIATIONS='" << bad << "' was accepted";
    } catch (const sim::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("SIMLOOP_MAX_DEVIATIONS='") + bad + "'"), std::string::npos)
          << e.what();
    }
  }
  EXPECT_THROW((void)sim::options_from_env({}, env({{"SIMLOOP_STRATEGY", "bounded"}, {"SIMLOOP_ISOLATE", "fork"}})),
               sim::ConfigError);
  EXPECT_THROW((void)sim::options_from_env({}, env({{"SIMLOOP_STRATEGY", "bounded"}, {"SIMLOOP_SEED", "0"}})),
               sim::ConfigError);
  sim::RunnerOptions forked = bounded(2);
  forked.isolation = sim::Isolation::Fork;
  EXPECT_THROW((void)sim::explore(watchdog(true), forked), sim::ConfigError);
  sim::RunnerOptions zero = bounded(2);
  zero.seed = 0;
  EXPECT_THROW((void)sim::explore(watchdog(true), zero), sim::ConfigError);
}

}  // namespace
