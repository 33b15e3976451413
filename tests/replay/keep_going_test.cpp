// Count-all mode (keep_going, SIMLOOP_KEEP_GOING=1): every seed runs,
// failures are grouped by signature, and the result carries what the report
// says: counts, the first seed of each signature, its replay files and the
// minimized run's size. Each figure is checked against seeds run one by one.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <simloop/replay/explore.hpp>
#include <simloop/replay/format.hpp>
#include <simloop/simloop.hpp>

#include "support/temp_dir.hpp"

namespace {

using namespace simloop;

Coro<void> append_after_yield(std::string* order, char name) {
  co_await sleep(Duration{0});
  order->push_back(name);
}

// Two bugs with their own signatures, each reached by some orders of three
// ready tasks, and orders that pass: "z ran first" (an assertion, whose
// message carries a number that varies by run) and "y ran before x" (an
// exception).
Coro<void> two_bugs(sim::SimLoop& loop) {
  std::string order;
  Task<void> x = loop.create_task(append_after_yield(&order, 'x'));
  Task<void> y = loop.create_task(append_after_yield(&order, 'y'));
  Task<void> z = loop.create_task(append_after_yield(&order, 'z'));
  co_await x;
  co_await y;
  co_await z;
  if (order[0] == 'z') throw sim::AssertionFailed("z ran first, at step " + std::to_string(loop.steps()));
  if (order.find('y') < order.find('x')) throw std::runtime_error("y ran before x");
}

constexpr std::uint64_t kRuns = 120;

sim::RunnerOptions options(bool keep_going) {
  sim::RunnerOptions o;
  o.test_name = "KeepGoing.TwoBugs";
  o.runs = kRuns;
  o.keep_going = keep_going;
  o.sim.fidelity = sim::Fidelity::Chaos;  // the ready order is a choice
  o.log = nullptr;
  return o;
}

// Signature -> (count, first seed), from each seed run alone.
std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> one_by_one() {
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> out;
  for (std::uint64_t seed = 1; seed <= kRuns; ++seed) {
    sim::RunnerOptions o = options(false);
    o.seed = seed;
    o.runs = 1;
    const sim::ExploreResult r = sim::explore(&two_bugs, o);
    if (r.ok()) continue;
    auto [it, fresh] = out.try_emplace(r.failure->signature, 0, seed);
    ++it->second.first;
  }
  return out;
}

TEST(KeepGoing, CountsEverySeedBySignature) {
  const auto expected = one_by_one();
  ASSERT_EQ(expected.size(), 2u) << "the scenario should show both bugs within " << kRuns << " seeds";

  const sim::ExploreResult r = sim::explore(&two_bugs, options(true));
  EXPECT_EQ(r.runs, kRuns) << "every seed ran";
  ASSERT_FALSE(r.ok());
  std::uint64_t failures = 0, lowest = UINT64_MAX;
  for (const auto& [signature, count_and_first] : expected) {
    failures += count_and_first.first;
    lowest = std::min(lowest, count_and_first.second);
  }
  EXPECT_EQ(r.failures, failures);
  EXPECT_DOUBLE_EQ(r.hit_rate(), static_cast<double>(failures) / kRuns);
  EXPECT_EQ(r.failure->seed, lowest) << "the reported failure is the first";
  ASSERT_EQ(r.classes.size(), expected.size());
  EXPECT_EQ(r.classes[0].first.seed, lowest) << "classes in order of first appearance";
  for (const sim::FailureClass& c : r.classes) {
    SCOPED_TRACE(c.first.signature);
    const auto it = expected.find(c.first.signature);
    ASSERT_NE(it, expected.end());
    EXPECT_EQ(c.count, it->second.first);
    EXPECT_EQ(c.first.seed, it->second.second);
    EXPECT_EQ(c.first.signature, sim::failure_signature(c.first.outcome));
  }
  EXPECT_EQ(r.classes[0].first.signature.find_first_of("0123456789"), std::string::npos)
      << "digits are folded: " << r.classes[0].first.signature;

  // Without keep_going the same exploration stops at the same first failure.
  const sim::ExploreResult first_only = sim::explore(&two_bugs, options(false));
  ASSERT_FALSE(first_only.ok());
  EXPECT_EQ(first_only.failure->seed, lowest);
  EXPECT_EQ(first_only.runs, lowest);
  EXPECT_EQ(first_only.failures, 1u);
  EXPECT_EQ(first_only.classes.size(), 1u);
}

TEST(KeepGoing, PrintsTheStatisticsAndEachFirstReport) {
  simloop::testing::ScopedTempDir tmp("keep-going-log");
  std::filesystem::create_directories(tmp.path());
  const std::string log_path = (tmp.path() / "log.txt").string();
  std::FILE* log = std::fopen(log_path.c_str(), "w+");
  ASSERT_NE(log, nullptr);
  sim::RunnerOptions o = options(true);
  o.log = log;
  const sim::ExploreResult r = sim::explore(&two_bugs, o);
  std::fflush(log);
  std::rewind(log);
  std::string text;
  for (int ch; (ch = std::fgetc(log)) != EOF;) text.push_back(static_cast<char>(ch));
  std::fclose(log);
  ASSERT_EQ(r.classes.size(), 2u);
  EXPECT_NE(text.find(" keep_going=1 "), std::string::npos) << text;
  EXPECT_NE(
      text.find(fmt::format("simloop: KeepGoing.TwoBugs: {} runs (seeds 1..{}), {} failed", kRuns, kRuns, r.failures)),
      std::string::npos)
      << text;
  EXPECT_NE(text.find(fmt::format("first failing seed {}; 2 distinct failure(s)", r.failure->seed)), std::string::npos)
      << text;
  std::size_t reports = 0;
  for (std::size_t at = text.find("simloop: FAILED"); at != std::string::npos;
       at = text.find("simloop: FAILED", at + 1))
    ++reports;
  EXPECT_EQ(reports, 2u) << "one full report per signature, not per failing run";
  for (const sim::FailureClass& c : r.classes) {
    EXPECT_NE(text.find(fmt::format("{:>6} x  {}", c.count, c.first.signature)), std::string::npos) << text;
  }
  EXPECT_EQ(sim::failure_report(r, o),
            r.classes[0].first.report + r.classes[1].first.report + sim::describe_statistics(r, o));
}

TEST(KeepGoing, WritesOneReplayAndOneMinimizedFilePerSignatureThatReplay) {
  simloop::testing::ScopedTempDir tmp("keep-going-replays");
  replay::ReplayEnv env;
  env.dir = (tmp.path() / "replays").string();
  env.minimize_runs = 100;
  const sim::ExploreResult r = replay::explore(&two_bugs, options(true), env);
  ASSERT_EQ(r.classes.size(), 2u);
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(env.dir)) files.push_back(entry.path().string());
  EXPECT_EQ(files.size(), 4u) << "an original and a minimized file for each of the 2 signatures, none for the other "
                              << r.failures - 2 << " failing runs";
  EXPECT_EQ(r.failure->files.replay_path, r.classes[0].first.files.replay_path);
  for (const sim::FailureClass& c : r.classes) {
    const sim::FailureFiles& f = c.first.files;
    SCOPED_TRACE(c.first.signature);
    EXPECT_EQ(f.replay_path, replay::replay_path(env.dir, "KeepGoing.TwoBugs", "random", "chaos", c.first.seed, false));
    EXPECT_EQ(f.minimized_path,
              replay::replay_path(env.dir, "KeepGoing.TwoBugs", "random", "chaos", c.first.seed, true));
    const replay::Trace original = replay::load_trace(f.replay_path);
    const replay::Trace minimized = replay::load_trace(f.minimized_path);
    EXPECT_EQ(f.nonzero_choices, original.nonzero_choices());
    EXPECT_EQ(f.minimized_nonzero, minimized.nonzero_choices());
    std::uint64_t by_kind = 0;
    for (const auto& [kind, count] : f.minimized_by_kind) by_kind += count;
    EXPECT_EQ(by_kind, f.minimized_nonzero);
    EXPECT_NE(c.first.report.find("minimized file: " + f.minimized_path), std::string::npos) << c.first.report;
    const std::string statistics = sim::describe_statistics(r, options(true));
    EXPECT_NE(statistics.find("minimized file: " + f.minimized_path), std::string::npos) << statistics;
    for (const std::string& file : {f.replay_path, f.minimized_path}) {
      replay::ReplayEnv again = env;
      again.replay_file = file;
      const sim::ExploreResult replayed = replay::explore(&two_bugs, options(false), again);
      EXPECT_EQ(replayed.replay_verdict, sim::ReplayVerdict::Reproduced) << file;
      ASSERT_FALSE(replayed.ok());
      EXPECT_EQ(replayed.failure->signature, c.first.signature) << file;
    }
  }
}

TEST(KeepGoing, ReadFromTheEnvironment) {
  auto env_of = [](const char* value) {
    return [value](const char* name) -> const char* {
      return std::string_view(name) == "SIMLOOP_KEEP_GOING" ? value : nullptr;
    };
  };
  EXPECT_TRUE(sim::options_from_env({}, env_of("1")).keep_going);
  EXPECT_FALSE(sim::options_from_env({}, env_of("0")).keep_going);
  EXPECT_FALSE(sim::options_from_env({}, env_of(nullptr)).keep_going);
  try {
    (void)sim::options_from_env({}, env_of("yes"));
    ADD_FAILURE() << "SIMLOOP_KEEP_GOING=yes was accepted";
  } catch (const sim::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("SIMLOOP_KEEP_GOING='yes'"), std::string::npos) << e.what();
  }
  sim::RunnerOptions o = sim::options_from_env({}, env_of("1"));
  EXPECT_EQ(sim::reproduce_command(o, 7).find("KEEP_GOING"), std::string::npos)
      << "a reproduce command runs one seed: " << sim::reproduce_command(o, 7);
}

}  // namespace
