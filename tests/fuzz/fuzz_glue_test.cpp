// The fuzz target's machinery without libFuzzer (fuzz/fuzz.hpp): an input
// that encodes a failing schedule fails; recorded, it leaves a replay file
// that replays exactly, a minimized file and a minimized input that fails
// the same way; the determinism check catches a scenario keeping state
// between inputs; options and reproduce lines speak of inputs, not seeds.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <simloop/fuzz/fuzz.hpp>
#include <simloop/replay/explore.hpp>
#include <simloop/replay/format.hpp>
#include <simloop/sim/bytes.hpp>

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
  EXPECT_DOUBLE_EQ(o.sim.cancel_probability, 0.05);
  EXPECT_EQ(sim::reproduce_command(o, 7), "SIMLOOP_REPLAY_INPUT=<the crash file libFuzzer writes> ./glue_fuzz");
  EXPECT_NE(sim::describe_config(o).find("strategy=bytes"), std::string::npos) << sim::describe_config(o);
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
