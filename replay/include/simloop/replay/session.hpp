// Replay in a test binary: environment variables, file names, saving a
// failure (original + minimized), and replaying a file. The runner calls
// these; each is a few lines there.
//
// Environment (read by ReplayEnv::from_environment, refused with a message
// naming the variable when malformed):
//   SIMLOOP_REPLAY=<file>         re-run that file's exact schedule
//   SIMLOOP_REPLAY_CONTINUE=0|1   on divergence, carry on under the seeded
//                                 strategy instead of natural choices
//   SIMLOOP_REPLAY_DIR=<dir>      where failing runs are written (default:
//                                 "simloop-replays" in the working directory);
//                                 a relative SIMLOOP_REPLAY not found from the
//                                 working directory is looked up there
//   SIMLOOP_MINIMIZE_RUNS=<n>     minimizer budget in runs (default 500; 0 off)
//
// Contract of RunOnce, the runner's "run the test once" function: build a
// fresh loop with rec.take_scheduler(), rec.attach(loop), run the scenario,
// rec.finish() before the loop is destroyed, and return the failure message
// ("" when the run passed). It must not throw for a failing run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <simloop/replay/format.hpp>
#include <simloop/replay/minimize.hpp>
#include <simloop/replay/recorder.hpp>

namespace simloop::replay {

struct ReplayEnv {
  std::string dir;
  std::optional<std::string> replay_file;
  bool continue_after_divergence = false;
  std::size_t minimize_runs = 500;
  // Replay a file that records another test (SIMLOOP_REPLAY_TEST: a
  // regression test replays the run its original test recorded).
  bool accept_other_test = false;

  // Raises std::invalid_argument naming the variable and the bad value.
  static ReplayEnv from_environment();
};

// The default SIMLOOP_REPLAY_DIR.
std::string default_replay_dir();
// `file` itself when absolute or found from the working directory, else
// `replay_dir`/`file` when that exists (ctest runs each test in its own
// directory), else `file` (whose load then names it as given).
std::string locate_replay_file(const std::string& file, const std::string& replay_dir);
// "<dir>/<test>-<strategy>-<fidelity>-seed<seed>.simloop-replay"
// (".min.simloop-replay" when minimized), so runs of one test in several
// modes keep their own files; characters outside [A-Za-z0-9._-] become '_'
// ("pct(3)" is written "pct_3_").
std::string replay_path(const std::string& dir, const std::string& test, const std::string& strategy,
                        const std::string& fidelity, std::uint64_t seed, bool minimized);
// A one-line shell command that replays `file` on this test binary.
std::string reproduce_command(const std::string& file, const std::string& test);
// The same for any program: `program` (empty: this binary) run with
// `program_args` (e.g. "--gtest_filter=Suite.Name"; empty: none).
std::string replay_command(const std::string& file, const std::string& program, const std::string& program_args);

using RunOnce = std::function<std::string(RunRecording& rec)>;
using MakeStrategy = std::function<std::unique_ptr<Scheduler>()>;

// An oracle for minimize(): runs each guide through `run_once` with a fresh
// `seeded()` strategy (for the choice points) and keeps runs that fail like
// `failing` (same_failure).
Oracle make_oracle(const Trace& failing, RunOnce run_once, MakeStrategy seeded);

struct SavedFailure {
  std::string original_path;
  std::string minimized_path;  // empty when minimization was off
  std::size_t original_size = 0;
  std::size_t minimized_size = 0;
  std::size_t minimize_runs = 0;
  bool budget_exhausted = false;
  std::string test;
  // Several lines: both files, the sizes, the command that replays each.
  std::string report() const;
};
// Writes the failing trace, minimizes it (unless env.minimize_runs is 0) and
// writes the minimized one. Raises std::runtime_error when a file cannot be written.
SavedFailure save_failure(const ReplayEnv& env, const Trace& failing, RunOnce run_once, MakeStrategy seeded);

struct ReplayOutcome {
  std::string failure;      // this run's failure message ("" if it passed)
  std::string problem;      // divergence / digest mismatch report ("" if exact)
  bool reproduced = false;  // failed the same way, on exactly the recorded schedule
  Trace trace;              // this run, recorded
  std::string report(const Trace& recorded) const;
};
// Replays `recorded` once. `seeded` rebuilds its strategy (choice points;
// the answers after a divergence when continuing).
ReplayOutcome replay_trace(const Trace& recorded, RunOnce run_once, std::unique_ptr<Scheduler> seeded,
                           bool continue_after_divergence);

// Loads env.replay_file for test `test`: ReplayFormatError for a bad file,
// std::invalid_argument when it records another test.
Trace load_replay_for(const std::string& file, const std::string& test);

}  // namespace simloop::replay
