// The fuzz target's machinery without libFuzzer (fuzz/fuzz.hpp): an input
// that encodes a failing schedule fails; recorded, it leaves a replay file
// that replays exactly, a minimized file and a minimized input that fails
// the same way; the determinism check catches a scenario keeping state
// between inputs; options and reproduce lines speak of inputs, not seeds.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <simloop/fuzz/fuzz.hpp>
#include <simloop/replay/explore.hpp>
#include <simloop/replay/format.hpp>
#include <simloop/sim/bytes.hpp>

#include "deep_bug.hpp"
#include "support/temp_dir.hpp"
#include "workloads.hpp"

namespace {

namespace sim = simloop::sim;
namespace fuzz = simloop::fuzz;
namespace replay = simloop::replay;
using simloop::Coro;

const fuzz_workloads::Workload& lock_bug() {
  static const fuzz_workloads::Workload w = fuzz_workloads::workloads().front();
  return w;
}

sim::RunnerOptions input_run_options(const fuzz_workloads::Workload& w) {
  sim::RunnerOptions o = w.options;
  o.strategy = sim::Strategy::Bytes;
  o.test_name = "FuzzGlue." + w.name;
  o.log = nullptr;
  return o;
}

// The first failing random seed's schedule, as an input.
std::vector<std::uint8_t> failing_input(const fuzz_workloads::Workload& w) {
  sim::RunnerOptions o = w.options;
  o.strategy = sim::Strategy::Random;
  o.runs = 10'000;
  o.sim.cancel_horizon = 40;
  const sim::ExploreResult found = sim::explore(w.scenario, o);
  if (!found.failure) throw std::runtime_error(w.name + ": no failing seed in 10000");
  std::vector<sim::Choice> choices;
  o.runs = 1;
  (void)sim::run_one(w.scenario, o, sim::RunContext{&o, found.failure->seed, 0, 1}, &choices);
  return sim::encode_choices(choices, o.sim);
}

TEST(FuzzGlue, AnInputEncodingAFailingScheduleFails) {
  const std::vector<std::uint8_t> input = failing_input(lock_bug());
  const sim::RunOutcome out = fuzz::run_input(lock_bug().scenario, input_run_options(lock_bug()), input);
  EXPECT_EQ(out.failure, sim::FailureKind::Deadlock) << out.message;
  EXPECT_GT(out.injected_cancels, 0u);
  // And the empty input, asyncio's order, passes.
  EXPECT_FALSE(fuzz::run_input(lock_bug().scenario, input_run_options(lock_bug()), {}).failed());
}

TEST(FuzzGlue, ARecordedFailingInputReplaysAndMinimizes) {
  simloop::testing::ScopedTempDir dir("fuzz-record");
  replay::ReplayEnv env;
  env.dir = dir.path().string();
  const std::vector<std::uint8_t> input = failing_input(lock_bug());
  sim::RunnerOptions o = input_run_options(lock_bug());
  o.fuzz_input = "crash-1234";
  const sim::ExploreResult r = fuzz::record_input(lock_bug().scenario, o, input, env);
  ASSERT_TRUE(r.failure);
  EXPECT_EQ(r.failure->seed, fuzz::input_hash(input));
  const std::string& report = r.failure->report;
  EXPECT_NE(report.find("input:    crash-1234"), std::string::npos) << report;
  EXPECT_NE(report.find("reproduce: SIMLOOP_REPLAY_INPUT=crash-1234"), std::string::npos) << report;
  const sim::FailureFiles& files = r.failure->files;
  ASSERT_FALSE(files.replay_path.empty()) << report;
  ASSERT_FALSE(files.minimized_path.empty()) << report;
  EXPECT_NE(files.replay_path.find("-bytes-asyncio-seed"), std::string::npos) << files.replay_path;

  // The replay file is a simloop replay like any other: exactly reproduced.
  const replay::Trace t = replay::load_trace(files.replay_path);
  EXPECT_EQ(t.strategy, "bytes");
  EXPECT_GT(t.injections.size(), 0u);
  replay::ReplayEnv replaying = env;
  replaying.replay_file = files.replay_path;
  sim::RunnerOptions again = input_run_options(lock_bug());
  const sim::ExploreResult replayed = replay::explore(lock_bug().scenario, again, replaying);
  EXPECT_EQ(replayed.replay_verdict, sim::ReplayVerdict::Reproduced);

  // The minimized run, written as an input, fails the same way and is no bigger.
  std::string min_input = files.minimized_path;
  min_input.replace(min_input.rfind(".simloop-replay"), std::string::npos, ".input");
  ASSERT_TRUE(std::filesystem::exists(min_input)) << report;
  const std::vector<std::uint8_t> smaller = fuzz::read_input(min_input);
  const sim::RunOutcome out = fuzz::run_input(lock_bug().scenario, input_run_options(lock_bug()), smaller);
  EXPECT_EQ(sim::failure_signature(out), r.failure->signature);
  EXPECT_LE(files.minimized_nonzero, files.nonzero_choices);
}

// State kept outside the scenario's frame makes one input run two ways.
Coro<void> remembers_earlier_runs(sim::SimLoop&) {
  static int runs = 0;
  ++runs;
  co_await simloop::sleep(std::chrono::milliseconds(runs % 2 == 0 ? 1 : 2));
}

TEST(FuzzGlue, TheDeterminismCheckCatchesStateKeptBetweenInputs) {
  sim::RunnerOptions o;
  o.strategy = sim::Strategy::Bytes;
  o.log = nullptr;
  o.check_determinism = true;
  const sim::RunOutcome out = fuzz::run_input(remembers_earlier_runs, o, {});
  EXPECT_EQ(out.failure, sim::FailureKind::Nondeterminism) << out.message;
  o.check_determinism = false;
  EXPECT_FALSE(fuzz::run_input(remembers_earlier_runs, o, {}).failed());
}

sim::RunnerOptions base_options() {
  sim::RunnerOptions o;
  o.sim.cancel_probability = 0.05;
  return o;
}

TEST(FuzzGlue, InputOptionsAreTheRunnersForOneInput) {
  const fuzz::Target target{"Glue", lock_bug().scenario, &base_options, true};
  const sim::RunnerOptions o = fuzz::input_options(target, "./glue_fuzz");
  EXPECT_EQ(o.strategy, sim::Strategy::Bytes);
  EXPECT_EQ(o.test_name, "Glue");
  EXPECT_EQ(o.runs, 1u);
  EXPECT_TRUE(o.check_determinism);
  // The target's options, then the environment (which a sweep may set).
  const char* cancel = std::getenv("SIMLOOP_CANCEL");
  EXPECT_DOUBLE_EQ(o.sim.cancel_probability, cancel == nullptr ? 0.05 : std::strtod(cancel, nullptr));
  const std::string cmd = sim::reproduce_command(o, 7);
  EXPECT_EQ(cmd.rfind("SIMLOOP_REPLAY_INPUT=<the crash file libFuzzer writes> ", 0), 0u) << cmd;
  EXPECT_TRUE(cmd.ends_with(" ./glue_fuzz")) << cmd;
  EXPECT_EQ(cmd.find("SIMLOOP_SEED"), std::string::npos) << cmd;
  EXPECT_NE(sim::describe_config(o).find("strategy=bytes"), std::string::npos) << sim::describe_config(o);
}

TEST(FuzzGlue, ASeedCorpusHoldsThePassingRunsAsInputs) {
  simloop::testing::ScopedTempDir dir("fuzz-corpus");
  const fuzz_workloads::Workload fixed = fuzz_workloads::workloads(fuzz_workloads::Variant::Fixed).front();
  sim::RunnerOptions seeded = fixed.options;
  seeded.strategy = sim::Strategy::Random;
  seeded.runs = 12;
  seeded.log = nullptr;
  const std::string corpus = (dir.path() / "corpus").string();
  EXPECT_TRUE(fuzz::write_corpus(fixed.scenario, seeded, corpus).ok());
  // The cancellation horizon explore counted: the opportunities of one fifo run.
  sim::RunnerOptions natural = seeded;
  natural.strategy = sim::Strategy::Fifo;
  const std::uint64_t horizon =
      sim::run_one(fixed.scenario, natural, sim::RunContext{&natural, 1, 0, 1}).cancel_opportunities;
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(corpus)) {
    ++files;
    // Each input is its seed's run: the same steps as the seed ran.
    const std::string name = entry.path().filename().string();
    ASSERT_EQ(name.rfind("random-seed", 0), 0u) << name;
    const std::uint64_t seed = std::stoull(name.substr(std::string("random-seed").size()));
    sim::RunnerOptions o = seeded;
    o.sim.cancel_horizon = horizon;
    const sim::RunOutcome by_seed = sim::run_one(fixed.scenario, o, sim::RunContext{&o, seed, 0, 1});
    const sim::RunOutcome by_input =
        fuzz::run_input(fixed.scenario, input_run_options(fixed), fuzz::read_input(entry.path().string()));
    EXPECT_EQ(by_input.steps, by_seed.steps) << name;
    EXPECT_EQ(by_input.choices, by_seed.choices) << name;
    EXPECT_EQ(by_input.injected_cancels, by_seed.injected_cancels) << name;
  }
  EXPECT_EQ(files, 12u);

  // The buggy code's failing runs are left out of its corpus.
  simloop::testing::ScopedTempDir dir2("fuzz-corpus-buggy");
  seeded.runs = 40;
  const sim::ExploreResult r = fuzz::write_corpus(lock_bug().scenario, seeded, dir2.path().string());
  ASSERT_GT(r.failures, 0u);
  std::size_t kept = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir2.path())) ++kept;
  EXPECT_EQ(kept, 40u - r.failures);
}

// The deep workload's bug is there to be found: its one history corrupts
// the view, a leader out of turn starts the history over, and asyncio's
// order (replica 0 always first) never gets past the second round.
TEST(FuzzGlue, TheDeepBugSitsAtTheEndOfOneHistory) {
  const int history[deep_bug::kRounds] = {0, 2, 1, 1, 0, 2, 2, 1, 0, 1, 2, 0};
  deep_bug::Membership m;
  for (int leader : history) m.on_leader(leader);
  EXPECT_TRUE(m.corrupted);
  deep_bug::Membership off_by_one;
  for (int i = 0; i < deep_bug::kRounds; ++i) off_by_one.on_leader(i == 6 ? 1 : history[i]);
  EXPECT_FALSE(off_by_one.corrupted);
  EXPECT_LT(off_by_one.stage, 6);
  sim::RunnerOptions o;
  o.strategy = sim::Strategy::Fifo;
  o.log = nullptr;
  o.runs = 1;
  EXPECT_TRUE(sim::explore(deep_bug::leader_history, o).ok());
}

TEST(FuzzGlue, InputsAreReadWhole) {
  simloop::testing::ScopedTempDir dir("fuzz-read");
  const std::string path = (dir.path() / "input").string();
  std::ofstream(path, std::ios::binary) << std::string("\x00\xff\x01", 3);
  EXPECT_EQ(fuzz::read_input(path), (std::vector<std::uint8_t>{0x00, 0xff, 0x01}));
  try {
    fuzz::read_input((dir.path() / "missing").string());
    ADD_FAILURE() << "a missing input was read";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("missing"), std::string::npos) << e.what();
  }
  EXPECT_NE(fuzz::input_hash(std::vector<std::uint8_t>{1}), fuzz::input_hash(std::vector<std::uint8_t>{2}));
}

}  // namespace
