// Replay wired into the exploration runner (sim/runner.hpp).
//
// Contract:
//  - replay::explore(scenario, options) is sim::explore with replay:
//      * every run is recorded in memory (choices through the strategy's
//        ChoiceObserver, the timeline and digests through the runner's
//        RunObserver callbacks); nothing is written for a passing run;
//      * the first failing run is written to SIMLOOP_REPLAY_DIR as
//        "<test>-<strategy>-<fidelity>-seed<seed>.simloop-replay" (see
//        replay_path), and the failure report gains the file's path and the
//        one-line command that replays it; in count-all mode (keep_going)
//        the first run of each failure signature is written, and no other;
//      * then the failure is minimized (SIMLOOP_MINIMIZE_RUNS runs at most;
//        under keep_going, each signature's) and the smallest failing run is
//        written beside it with ".min" before ".simloop-replay"; the report
//        gains its path, its size (non-zero choices, before and after) and
//        its command;
//      * the result's Failure (and each FailureClass) carries the files:
//        paths, sizes, the minimized run's non-zero choices by kind;
//      * under SIMLOOP_REPLAY=<file>, the file's run alone is replayed: its
//        seed, strategy, fidelity and options replace the configured ones,
//        and its choices are served by a ListStrategy, checked kind by kind
//        and range by range, with its digests checked as the run reaches
//        them. The report says whether the run followed the recording exactly
//        and failed the same way; a divergence names the first divergent
//        choice (position, step, expected and actual, the task and handle
//        running). SIMLOOP_REPLAY_CONTINUE=1 carries on under the seeded
//        strategy after a divergence (a continued run that then fails on
//        its own is saved as "<test>-seed<seed>.continued.simloop-replay");
//        a bounded file carries on with natural choices, as bounded runs do
//        past their deviations, and replays without enumerating (the file's
//        run number and K give its reproduce line).
//  - A bad variable or a bad replay file is refused before any run
//    (std::invalid_argument or ReplayFormatError naming it).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <simloop/replay/session.hpp>
#include <simloop/sim/runner.hpp>

namespace simloop::replay {

// The settings a Trace's `options` field carries, and back. parse raises
// std::invalid_argument naming the bad pair.
std::string format_options(const sim::RunnerOptions& options);
void apply_options(const std::string& text, sim::RunnerOptions& options);

// The RunObserver behind replay::explore; usable alone with sim::explore
// (then minimize_and_save() after a failure).
class ReplayObserver final : public sim::RunObserver {
 public:
  // Loads env.replay_file if set and rewrites `options` to replay it.
  ReplayObserver(sim::RunnerOptions& options, ReplayEnv env);

  bool replaying() const noexcept { return replay_.has_value(); }
  // A failing run written to a replay file: the first of its signature.
  struct SavedRun {
    std::string signature;  // sim::failure_signature of the run
    Trace trace;
    sim::FailureKind kind = sim::FailureKind::None;
    std::string path;  // empty if it could not be written
  };
  // In order of first appearance.
  const std::vector<SavedRun>& saved() const noexcept { return saved_; }
  // The first failing run, as written to original_path() (after a failure).
  const Trace* failing() const noexcept { return saved_.empty() ? nullptr : &saved_.front().trace; }
  std::string original_path() const { return saved_.empty() ? std::string() : saved_.front().path; }
  // Replay mode: the verdict on the replayed run (after it ran).
  const std::optional<std::string>& replay_verdict() const noexcept { return verdict_; }
  sim::ReplayVerdict verdict() const noexcept { return verdict_kind_; }
  bool reproduced() const noexcept { return reproduced_; }

  // Minimizes the saved run of `signature` (the first failure's when
  // empty) with `scenario` and writes the minimized file; returns the lines
  // to add to the report (empty if there is no such run) and fills `files`
  // (if given) with both files.
  std::string minimize_and_save(const sim::Scenario& scenario, const sim::RunnerOptions& options,
                                const std::string& signature = {}, sim::FailureFiles* files = nullptr);

  bool supplies_every_run() const override { return replaying(); }
  // It writes failing runs only: SIMLOOP_JOBS may run the others without it.
  bool failing_runs_suffice() const override { return !replaying(); }
  std::unique_ptr<sim::SimScheduler> make_scheduler(const sim::RunContext& ctx) override;
  void on_run_start(const sim::RunContext& ctx, sim::SimLoop& loop, sim::SimScheduler& scheduler) override;
  void before_callback(const EventLoop& loop, const Handle& handle, std::uint64_t step) override {
    recorder_.before_callback(loop, handle, step);
  }
  void after_callback(const EventLoop& loop, const Handle& handle, std::uint64_t step) override {
    recorder_.after_callback(loop, handle, step);
  }
  void on_injected_cancel(const EventLoop& loop, const simloop::InjectedCancel& injected) override {
    recorder_.on_injected_cancel(loop, injected);
  }
  std::string on_run_end(const sim::RunContext& ctx, const sim::RunOutcome& outcome) override;
  std::string on_run_crashed(const sim::RunContext& ctx, const sim::RunOutcome& outcome) override;

 private:
  ReplayEnv env_;
  std::optional<Trace> replay_;
  Recorder recorder_;
  RunInfo info_;
  sim::ListStrategy* list_ = nullptr;  // replay mode, during a run
  std::string divergence_context_;
  std::uint64_t divergence_step_ = 0;
  std::vector<SavedRun> saved_;
  const SavedRun* saved_of(const std::string& signature) const;
  std::optional<std::string> verdict_;
  sim::ReplayVerdict verdict_kind_ = sim::ReplayVerdict::None;
  bool reproduced_ = false;

  // Crash capture (sim/crash.hpp): what the handler needs to write this
  // run's replay file, formatted before the run.
  struct CrashFile {
    bool ready = false;
    std::string prefix;                         // the file's lines before "seed"
    std::string path_before;                    // "<dir>/<test>-seed"
    std::string path_after;                     // ".simloop-replay"
    std::string command_before, command_after;  // the replay command, around the path's seed
    std::string replaying;                      // replay mode: the lines to print instead
  };
  void prepare_crash_file(const sim::RunnerOptions& options);
  static void write_crash_file(void* self, const char* failure, std::uint64_t seed);
  CrashFile crash_;
};

// sim::explore with replay (see the file header). `env` defaults to the environment.
sim::ExploreResult explore(const sim::Scenario& scenario, sim::RunnerOptions options);
sim::ExploreResult explore(const sim::Scenario& scenario, sim::RunnerOptions options, ReplayEnv env);

}  // namespace simloop::replay
