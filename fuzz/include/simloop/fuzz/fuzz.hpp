// Coverage-guided fuzzing of schedules: libFuzzer's input is the choice
// stream (docs/fuzzing.md).
//
// Contract:
//  - SIMLOOP_FUZZ_TARGET(Name) { ...coroutine body given `loop`... } (or
//    SIMLOOP_FUZZ_TARGET_OPTIONS(Name, options), or SIMLOOP_FUZZ_SCENARIO(Name,
//    scenario, options) for a sim::Scenario) defines the binary's
//    LLVMFuzzerInitialize and LLVMFuzzerTestOneInput: each input runs the
//    scenario once as the main task of a fresh SimLoop whose scheduler is a
//    BytesStrategy reading the input (sim/bytes.hpp), with the runner's
//    detectors (exceptions, assertions, deadlock, budgets, liveness, pending
//    tasks, live timers, handler reports, leaks) and options: the given
//    RunnerOptions, then the SIMLOOP_* environment as everywhere (fidelity,
//    SIMLOOP_CANCEL and the injection settings, budgets, ...). Seeds, runs,
//    strategy and shards are the fuzzer's business and are not used.
//  - A failing input is run once more, recorded: its replay file and its
//    minimized run go to SIMLOOP_REPLAY_DIR, named by the input's hash, and
//    the report on stderr gives both and the command that replays them.
//    Then the process aborts: that is how libFuzzer learns of a failure, and
//    it writes the input as its crash file.
//  - On the same binary, SIMLOOP_REPLAY_INPUT=<file> runs that input alone
//    (no fuzzing): the report, the replay and minimized files, the minimized
//    run's timeline; exit status 1 when it fails, 0 when it passes, 2 for bad
//    input. SIMLOOP_REPLAY=<replay file> replays a replay file, as on a test
//    binary. SIMLOOP_FUZZ_CORPUS=<dir> writes a seed corpus instead
//    (write_corpus: SIMLOOP_STRATEGY, SIMLOOP_SEED and SIMLOOP_RUNS choose
//    the runs). A bad variable or file is a message and status 2, before any run.
//  - Determinism: with check_determinism (SIMLOOP_CHECK_DETERMINISM=1; on by
//    default where the target is compiled without NDEBUG) every input runs
//    twice and the runs must agree choice for choice and step for step:
//    libFuzzer does not say which inputs are new, so every one is checked.
//  - No state crosses inputs: each runs on a fresh loop, whose scheduler,
//    task ids and names start afresh. State the scenario keeps outside its
//    frame (statics, globals) is the user's to reset; the determinism check
//    is what catches it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <simloop/replay/session.hpp>
#include <simloop/sim/runner.hpp>

namespace simloop::fuzz {

struct Target {
  const char* name;                   // the report's and the replay files' test name
  sim::Scenario scenario;             // run once per input
  sim::RunnerOptions (*options)();    // the base options (then the environment)
  bool determinism_check_by_default;  // the target's translation unit has no NDEBUG
};

// Supplies each run's scheduler: a BytesStrategy reading `input` (put it
// first in RunnerOptions::observers).
class InputSource final : public sim::RunObserver {
 public:
  explicit InputSource(std::span<const std::uint8_t> input) : input_(input.begin(), input.end()) {}
  std::unique_ptr<sim::SimScheduler> make_scheduler(const sim::RunContext& ctx) override;

 private:
  std::vector<std::uint8_t> input_;
};

// Writes `bytes` to `path` as an input file; false when it could not.
bool write_input(const std::string& path, std::span<const std::uint8_t> bytes);

// The FNV-1a 64 hash of an input: the "seed" of its report and replay file
// names (it seeds nothing: the input is the whole schedule).
std::uint64_t input_hash(std::span<const std::uint8_t> input) noexcept;

// The whole file; std::invalid_argument naming it when it cannot be read.
std::vector<std::uint8_t> read_input(const std::string& path);

// `base` read over by the environment (sim::options_from_env; ConfigError
// names a bad variable), set up for inputs: strategy bytes, one run.
sim::RunnerOptions input_options(const Target& target, const char* program);

// One input as the fuzzer runs it: no printing, no files; run twice and
// compared under options.check_determinism.
sim::RunOutcome run_input(const sim::Scenario& scenario, const sim::RunnerOptions& options,
                          std::span<const std::uint8_t> input);

// One input run recorded, as replay::explore runs a seed: on failure the
// report (to options.log) names the replay file and the minimized file,
// and the minimized run is also written as an input ("<minimized
// file>.input" in place of ".simloop-replay") for a corpus.
sim::ExploreResult record_input(const sim::Scenario& scenario, sim::RunnerOptions options,
                                std::span<const std::uint8_t> input, replay::ReplayEnv env);

// A seed corpus: the scenario explored as `seeded` says (random, pct or
// fifo, its seeds and runs; count-all), every passing run written to `dir`
// as an input ("<strategy>-seed<seed>.input"). Failing runs are reported
// (to seeded.log) and left out: a corpus that fails at once measures
// nothing. std::invalid_argument when the directory cannot take the files.
sim::ExploreResult write_corpus(const sim::Scenario& scenario, sim::RunnerOptions seeded, const std::string& dir);

// What the macros' libFuzzer entry points call.
int initialize(const Target& target, int* argc, char*** argv);
int test_one_input(const Target& target, const std::uint8_t* data, std::size_t size);

}  // namespace simloop::fuzz

#define SIMLOOP_FUZZ_DEBUG_DEFAULT_() (SIMLOOP_FUZZ_NDEBUG_ == 0)
#ifdef NDEBUG
#define SIMLOOP_FUZZ_NDEBUG_ 1
#else
#define SIMLOOP_FUZZ_NDEBUG_ 0
#endif

#define SIMLOOP_FUZZ_SCENARIO(Name, scenario_expr, options_expr)                                    \
  static ::simloop::sim::RunnerOptions SimloopFuzzOptions_##Name() { return (options_expr); }       \
  static const ::simloop::fuzz::Target& SimloopFuzzTarget_##Name() {                                \
    static const ::simloop::fuzz::Target target{#Name, (scenario_expr), &SimloopFuzzOptions_##Name, \
                                                SIMLOOP_FUZZ_DEBUG_DEFAULT_()};                     \
    return target;                                                                                  \
  }                                                                                                 \
  extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {                                    \
    return ::simloop::fuzz::initialize(SimloopFuzzTarget_##Name(), argc, argv);                     \
  }                                                                                                 \
  extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {               \
    return ::simloop::fuzz::test_one_input(SimloopFuzzTarget_##Name(), data, size);                 \
  }

#define SIMLOOP_FUZZ_TARGET_OPTIONS(Name, options_expr)                                        \
  static ::simloop::Coro<void> SimloopFuzzBody_##Name(::simloop::sim::SimLoop& loop);          \
  SIMLOOP_FUZZ_SCENARIO(Name, ::simloop::sim::Scenario(&SimloopFuzzBody_##Name), options_expr) \
  static ::simloop::Coro<void> SimloopFuzzBody_##Name([[maybe_unused]] ::simloop::sim::SimLoop& loop)

#define SIMLOOP_FUZZ_TARGET(Name) SIMLOOP_FUZZ_TARGET_OPTIONS(Name, ::simloop::sim::RunnerOptions{})
