// SIMLOOP_JOBS: seeds on threads give the exploration of one thread, seed
// for seed (each run's outcome and final digest), in its report, its
// count-all statistics and its replay files, byte for byte.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <simloop/replay/explore.hpp>
#include <simloop/sim/gtest.hpp>

#include "injection_suite.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace sim = simloop::sim;
using injection_suite::Variant;

struct Sweep {
  sim::ExploreResult result;
  std::vector<sim::RunRecord> records;
};

Sweep sweep(const sim::Scenario& scenario, sim::RunnerOptions o, std::uint32_t jobs) {
  Sweep s;
  o.jobs = jobs;
  o.run_records = &s.records;
  s.result = sim::explore(scenario, o);
  return s;
}

void expect_same(const Sweep& one, const Sweep& two, const std::string& what) {
  ASSERT_EQ(one.records.size(), two.records.size()) << what;
  for (std::size_t i = 0; i < one.records.size(); ++i) {
    ASSERT_EQ(one.records[i], two.records[i]) << what << ": run " << i << " (seed " << one.records[i].seed << ")";
  }
  EXPECT_EQ(one.result.runs, two.result.runs) << what;
  EXPECT_EQ(one.result.failures, two.result.failures) << what;
  ASSERT_EQ(one.result.classes.size(), two.result.classes.size()) << what;
  for (std::size_t c = 0; c < one.result.classes.size(); ++c) {
    EXPECT_EQ(one.result.classes[c].count, two.result.classes[c].count) << what;
    EXPECT_EQ(one.result.classes[c].first.seed, two.result.classes[c].first.seed) << what;
    EXPECT_EQ(one.result.classes[c].first.report, two.result.classes[c].first.report) << what;
  }
}

TEST(Jobs, CountAllSweepsAreTheSameSeedForSeed) {
  std::uint64_t failures = 0;
  for (const injection_suite::Bug& bug : injection_suite::bugs()) {
    for (sim::Strategy strategy : {sim::Strategy::Random, sim::Strategy::Pct}) {
      sim::RunnerOptions o = injection_suite::suite_options(strategy, 600);
      o.keep_going = true;
      o.print_statistics = false;
      const Sweep one = sweep(bug.workload(Variant::Buggy), o, 1);
      const Sweep two = sweep(bug.workload(Variant::Buggy), o, 2);
      const Sweep three = sweep(bug.workload(Variant::Buggy), o, 3);
      expect_same(one, two, std::string(bug.name) + " jobs 2");
      expect_same(one, three, std::string(bug.name) + " jobs 3");
      EXPECT_EQ(sim::describe_statistics(one.result, o), sim::describe_statistics(two.result, o));
      failures += one.result.failures;
    }
  }
  EXPECT_GT(failures, 100u);  // the sweeps compared failing runs, not only passing ones
}

TEST(Jobs, TheFirstFailureIsTheLowestFailingSeed) {
  for (const injection_suite::Bug& bug : injection_suite::bugs()) {
    sim::RunnerOptions o = injection_suite::suite_options(sim::Strategy::Random, 10'000);
    o.check_determinism = true;  // two runs per seed, compared, on whichever thread
    const Sweep one = sweep(bug.workload(Variant::Buggy), o, 1);
    const Sweep two = sweep(bug.workload(Variant::Buggy), o, 2);
    ASSERT_TRUE(one.result.failure) << bug.name;
    ASSERT_TRUE(two.result.failure) << bug.name;
    EXPECT_EQ(one.result.failure->seed, two.result.failure->seed) << bug.name;
    EXPECT_EQ(one.result.failure->report, two.result.failure->report) << bug.name;
    expect_same(one, two, bug.name);
  }
}

std::map<std::string, std::string> files_in(const std::filesystem::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    out[entry.path().filename().string()] = bytes.str();
  }
  return out;
}

TEST(Jobs, ReplayFilesAreTheSameBytes) {
  const injection_suite::Bug& bug = injection_suite::bugs()[1];
  simloop::testing::ScopedTempDir one("jobs-1"), two("jobs-2");
  for (std::uint32_t jobs : {1u, 2u}) {
    sim::RunnerOptions o = injection_suite::suite_options(sim::Strategy::Random, 3'000);
    o.test_name = "Jobs.ReplayFiles";
    o.keep_going = true;
    o.print_statistics = false;
    o.jobs = jobs;
    simloop::replay::ReplayEnv env;
    env.dir = (jobs == 1 ? one : two).path().string();
    const sim::ExploreResult r = simloop::replay::explore(bug.workload(Variant::Buggy), o, env);
    ASSERT_FALSE(r.ok());
  }
  const auto a = files_in(one.path());
  const auto b = files_in(two.path());
  EXPECT_GE(a.size(), 2u);  // an original and a minimized file at least
  EXPECT_EQ(a, b);
}

// An observer that must see every run keeps the exploration on one thread.
class CountsRuns final : public sim::RunObserver {
 public:
  std::string on_run_end(const sim::RunContext&, const sim::RunOutcome&) override {
    ++runs;
    return {};
  }
  std::uint64_t runs = 0;
};

TEST(Jobs, AnObserverOfEveryRunSeesEveryRun) {
  CountsRuns counter;
  sim::RunnerOptions o = injection_suite::suite_options(sim::Strategy::Random, 200);
  o.jobs = 4;
  o.observers = {&counter};
  const sim::ExploreResult r = sim::explore(injection_suite::bugs()[0].workload(Variant::Fixed), o);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(counter.runs, 200u);
}

TEST(Jobs, TheVariableIsReadAndChecked) {
  auto with = [](const char* value) {
    return sim::options_from_env({}, [value](const char* name) -> const char* {
      return std::string_view(name) == "SIMLOOP_JOBS" ? value : nullptr;
    });
  };
  EXPECT_EQ(with("3").jobs, 3u);
  EXPECT_GE(with("0").jobs, 1u);  // one per CPU
  EXPECT_THROW(with("1025"), sim::ConfigError);
  EXPECT_THROW(with("two"), sim::ConfigError);
  sim::RunnerOptions o = with("2");
  o.program = "./t";
  EXPECT_EQ(sim::reproduce_command(o, 5).find("SIMLOOP_JOBS"), std::string::npos) << "one seed needs no threads";
  EXPECT_NE(sim::describe_config(o).find(" jobs=2"), std::string::npos);
}

// A SIMLOOP_TEST whose body uses gtest's EXPECT_* passes on threads: each
// run's assertions judge that run alone.
SIMLOOP_TEST_OPTIONS(Jobs, GtestAssertionsJudgeTheirOwnRun, [] {
  sim::RunnerOptions o;
  o.jobs = 2;
  o.runs = 300;
  return o;
}()) {
  const std::uint64_t pick = sim::choose(3);
  co_await simloop::sleep(std::chrono::milliseconds(pick));
  EXPECT_LT(pick, 3u);
  SIMLOOP_ASSERT(loop.time() >= std::chrono::milliseconds(pick));  // callbacks may cost virtual time too
}

}  // namespace
