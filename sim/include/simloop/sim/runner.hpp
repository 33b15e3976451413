// The exploration runner: a scenario run for many seeds, each on a fresh
// SimLoop, with detectors, budgets, sharding and a one-line reproduction.
//
// Contract:
//  - explore(scenario, options) runs the scenario (a coroutine factory given
//    the loop) for seeds options.seed, options.seed + 1, ... (options.runs of
//    them, minus those of other shards), each on a fresh SimLoop whose
//    scheduler is make_strategy(options.strategy, seed, options.sim). A run is
//    a pure function of (program, strategy, options, seed).
//  - Sharding: run i (0-based) belongs to shard i % total_shards; options
//    read from the environment take GTEST_TOTAL_SHARDS / GTEST_SHARD_INDEX
//    (or SIMLOOP_TOTAL_SHARDS / SIMLOOP_SHARD_INDEX, which win), so shards
//    cover disjoint seeds.
//  - A run ends the instant the scenario's coroutine finishes (value,
//    exception, cancel): no other callback of that iteration runs (unlike
//    run_until_complete, whose stop lets the iteration finish), because the
//    scenario's locals are gone and a task resumed now could read them.
//    Tasks still pending are then destroyed without being resumed, newest
//    first, and listed in the report. A task that outlived a scenario that
//    ended normally fails the run ("task 'bob' outlived the scenario")
//    unless fail_on_pending_tasks is off (SIMLOOP_ALLOW_BACKGROUND_TASKS=1).
//    State tasks share with the scenario belongs in loop.keep<T>(...) or in
//    the scenario's frame with every task awaited (docs/loop.md, Lifetimes).
//  - It prints its configuration first, and stops at the first failing run:
//    the report names the failure, the seed, strategy, fidelity, the task
//    dump and a one-line command that reproduces it (environment variables
//    on the same program).
//  - Count-all mode (keep_going, SIMLOOP_KEEP_GOING=1) runs every seed
//    instead: failures are grouped by failure_signature(), the first run of
//    each signature is reported in full, and the result (and a printed
//    summary) gives runs, failures, the hit rate, the first failing seed and
//    each signature with its count. ExploreResult::failure is still the
//    first failure, so exit_status() and the gtest glue judge the same way.
//  - Detectors: an exception escaping the scenario; deadlock (the loop's
//    DeadlockError: nothing ready, no timer, no external event can come, the
//    main task not done); step and virtual-time budgets (livelock); end-of-run
//    hygiene: tasks still pending, live timers, anything that reached the
//    loop's exception handler (never-retrieved exceptions, exceptions in
//    callbacks); liveness (check_liveness, on by default): at every
//    iteration that finds nothing ready, and at the end of a run with no
//    wakeup in flight, no task is parked on one of simloop's primitives that
//    could admit it (EventLoop::lost_wakeups(): a free Lock, a Semaphore with
//    free permits, a set Event, a Queue with items and parked getters, or
//    with room and parked putters); with check_determinism, each seed runs twice and the choice
//    lists and per-step digests must agree (the report names the first
//    differing step, handle and task).
//  - RunObserver is the extension point for replay and tracing: it may
//    replace a run's scheduler, sees the loop and scheduler before the
//    scenario starts (to attach a ChoiceObserver), every callback, and the
//    outcome of each run; what on_run_end returns is added to a failure
//    report (e.g. the path of a replay file).
//  - Exploration on threads (jobs > 1, SIMLOOP_JOBS): seeds run in
//    batches, each run on its own loop on one of `jobs` threads, with no
//    observer; the batch's outcomes are then taken in seed order on the
//    calling thread, exactly as jobs = 1 takes them one by one: the first
//    failing run stops the exploration (later seeds of its batch are
//    dropped), count-all mode counts every signature, and each failure
//    that is reported runs again here with the observers (replay files,
//    minimization). So the report, the statistics and the files are those
//    of jobs = 1, whatever the threads' timing. The time budget is checked
//    between batches. Crash capture names the crashing thread's seed.
//  - options_from_env reads SIMLOOP_SEED, SIMLOOP_RUNS, SIMLOOP_STRATEGY,
//    SIMLOOP_FIDELITY, SIMLOOP_PCT_DEPTH, SIMLOOP_MAX_STEPS, SIMLOOP_MAX_VTIME,
//    SIMLOOP_CHECK_DETERMINISM, SIMLOOP_CANCEL, SIMLOOP_MAX_CANCELS,
//    SIMLOOP_CANCEL_KINDS, SIMLOOP_CANCEL_HORIZON,
//    SIMLOOP_ALLOW_BACKGROUND_TASKS,
//    SIMLOOP_TIME_BUDGET, SIMLOOP_KEEP_GOING, SIMLOOP_REPORT_SWALLOWED_CANCEL,
//    SIMLOOP_MAX_DEVIATIONS, SIMLOOP_CHECK_LIVENESS, SIMLOOP_JOBS and the shard variables; a bad
//    value raises ConfigError naming the variable, before any run.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <simloop/coro.hpp>
#include <simloop/errors.hpp>
#include <simloop/sim/sim_loop.hpp>
#include <simloop/sim/strategy.hpp>

namespace simloop::sim {

// A scenario: given a fresh loop, the coroutine to run as the main task.
// The function object lives for the whole exploration, so a capturing
// lambda coroutine is safe here.
using Scenario = std::function<Coro<void>(SimLoop&)>;

class RunObserver;
struct RunRecord;

// A bad configuration (an environment variable, an option).
class ConfigError : public Error {
 public:
  using Error::Error;
};

// Raised by SIMLOOP_ASSERT* (and by the gtest glue when a gtest assertion
// failed during a run). Like CancelledError it does not derive from
// std::exception, so user code catching std::exception does not swallow it.
class AssertionFailed {
 public:
  explicit AssertionFailed(std::string message) : message_(std::move(message)) {}
  const std::string& message() const noexcept { return message_; }

 private:
  std::string message_;
};

// Where each run executes: in this process, or in a forked child whose
// death by a signal is a failure like any other (SIMLOOP_ISOLATE=fork).
enum class Isolation : std::uint8_t { None, Fork };

struct RunnerOptions {
  std::uint64_t seed = 1;    // the first seed (SIMLOOP_SEED)
  std::uint64_t runs = 100;  // seeds to run, over all shards (SIMLOOP_RUNS)
  // bounded: seed is the first run number and runs the most runs
  // (sim/bounded.hpp); from the environment, SIMLOOP_RUNS unset means all.
  Strategy strategy = Strategy::Random;
  // bounded: the most non-zero choices per run, K (SIMLOOP_MAX_DEVIATIONS).
  std::uint32_t max_deviations = 2;
  SimOptions sim;                                     // fidelity, pct depth, cancellation, ...
  std::uint64_t max_steps = 1'000'000;                // callbacks per run; 0: no limit
  Duration max_vtime = std::chrono::hours(24 * 365);  // virtual time per run; 0: no limit
  // co_awaits that complete without suspending, within one task step
  // (EventLoop::set_max_sync_resumes; SIMLOOP_MAX_SYNC_RESUMES); 0: no limit.
  std::uint64_t max_sync_resumes = 10'000'000;
  bool check_determinism = false;
  // The liveness detector (SIMLOOP_CHECK_LIVENESS): a task parked on a
  // primitive that could admit it, with no wakeup in flight, fails the run
  // (FailureKind::LostWakeup) the moment the loop finds nothing ready, and
  // at the end of the run. Off, a deadlock's report still names it.
  bool check_liveness = true;
  Isolation isolation = Isolation::None;
  // A task still pending when the scenario ended normally fails the run.
  // Off (deliberate background tasks): they are destroyed unresumed, and
  // live timers are not checked while such tasks remain (they may own them).
  bool fail_on_pending_tasks = true;
  bool fail_on_live_timers = true;
  bool fail_on_handler_reports = true;  // never-retrieved exceptions, errors in callbacks
  // A task that caught its CancelledError and finished normally, without
  // uncancel(), is reported to the exception handler (so fails the run
  // while fail_on_handler_reports): EventLoop::set_report_swallowed_cancel,
  // SIMLOOP_REPORT_SWALLOWED_CANCEL.
  bool report_swallowed_cancel = false;
  std::uint64_t total_shards = 1;
  std::uint64_t shard_index = 0;
  // Wall-clock bound on how many seeds run (SIMLOOP_TIME_BUDGET), for soak
  // jobs: no run starts once it is spent, and no run is ever cut short, so
  // each run stays a function of its seed alone. The seeds covered are
  // printed, and ExploreResult::next_seed says where the next job goes on.
  std::optional<std::chrono::nanoseconds> time_budget;
  // Run every seed, counting failures by signature, instead of stopping at
  // the first (SIMLOOP_KEEP_GOING).
  bool keep_going = false;
  // keep_going: print describe_statistics() at the end (replay::explore
  // turns it off and prints it itself once the replay files are written).
  bool print_statistics = true;
  // For reports and the reproduce command.
  std::string test_name;
  std::string program;       // the test binary; empty: "<test binary>"
  std::string program_args;  // e.g. "--gtest_filter=Suite.Name"
  // Where the configuration line and failure report go (null: silent).
  std::FILE* log = stdout;
  // Print the failure report to `log` too (the gtest glue reports it
  // through the test's failure instead).
  bool log_failure = true;
  std::vector<RunObserver*> observers;  // not owned
  // Builds each run's loop around its scheduler; empty: a plain SimLoop (no
  // simulated I/O). fakes::runner_with_fakes() sets a FakeSelector and a
  // FakeExecutor here and their leak check below.
  std::function<std::unique_ptr<SimLoop>(std::unique_ptr<SimScheduler>)> make_loop;
  // Checks run when the main task finished cleanly; each returned line is a
  // leak (an unclosed transport, an executor job never finished) and fails the run.
  std::function<std::vector<std::string>(SimLoop&)> find_leaks;
  // Variables taken from the environment (NAME=value), repeated in the
  // reproduce command.
  std::vector<std::string> from_env;
  // Threads that run seeds side by side (SIMLOOP_JOBS; 0 from the
  // environment means one per CPU). Results are those of jobs = 1 (see
  // "Exploration on threads" in the file header); 1 whenever an observer
  // needs every run (failing_runs_suffice() false), or under fork isolation.
  std::uint32_t jobs = 1;
  // When set, one RunRecord per run, in run order (seed order), whatever
  // jobs is: for comparing explorations seed by seed.
  std::vector<RunRecord>* run_records = nullptr;
  // Strategy bytes (a fuzz target, docs/fuzzing.md): the file holding the
  // run's input, for the report and the reproduce command
  // (SIMLOOP_REPLAY_INPUT=<file>); empty while fuzzing, when libFuzzer has
  // yet to write the input as its crash file.
  std::string fuzz_input;
};

// Reads the environment over `base`; see the file header. ConfigError names
// the variable and what is wrong. `getenv` is injectable for tests.
RunnerOptions options_from_env(RunnerOptions base = {});
RunnerOptions options_from_env(RunnerOptions base, const std::function<const char*(const char*)>& getenv);
// For each SIMLOOP_* name in `names` that no part of simloop reads, a
// warning naming the closest known variable (sorted; options_from_env()
// prints them to stderr once per process).
std::vector<std::string> unknown_variable_warnings(const std::vector<std::string>& names);
// "1500ms", "2s", "10m", "1h", "250us", "7ns"; a bare number is seconds.
std::optional<Duration> parse_duration(std::string_view text);
std::string format_duration(Duration d);

enum class FailureKind : std::uint8_t {
  None,
  Exception,       // an exception escaped the scenario
  Assertion,       // SIMLOOP_ASSERT or a gtest assertion failed
  Deadlock,        // nothing can ever run again, the main task not done
  StepBudget,      // more than max_steps callbacks
  TimeBudget,      // virtual time beyond max_vtime
  PendingTasks,    // tasks still pending when the main task finished
  LiveTimers,      // timers still armed when the main task finished
  HandlerReport,   // something reached the loop's exception handler
  Nondeterminism,  // the same seed ran differently twice
  Divergence,      // a replayed list did not match the program
  Leaks,           // find_leaks reported what the run left behind
  Crash,           // the run's process died of a signal (isolation: fork)
  SyncBudget,      // a task step went on without suspending past max_sync_resumes
  LostWakeup,      // a task parked on a primitive that could admit it, no wakeup in flight
};
const char* to_string(FailureKind kind) noexcept;

struct RunContext {
  const RunnerOptions* options = nullptr;
  std::uint64_t seed = 0;
  std::uint64_t run_index = 0;  // over all shards
  int attempt = 1;              // 2: the determinism check's second run
};

struct RunOutcome {
  FailureKind failure = FailureKind::None;
  std::string message;    // what went wrong (empty when it passed)
  std::string task_dump;  // the loop's pending tasks at the failure
  std::uint64_t steps = 0;
  Duration vtime{0};
  std::uint64_t choices = 0;
  std::uint32_t injected_cancels = 0;
  std::uint64_t cancel_opportunities = 0;  // injection opportunities the run offered
  std::string injections;                  // one line per injected cancel: kind, step, time, victim, where
  std::string notes;                       // what observers added (on_run_end)
  bool failed() const noexcept { return failure != FailureKind::None; }
};

// One run as the runner judged it (RunnerOptions::run_records).
struct RunRecord {
  std::uint64_t seed = 0;
  FailureKind failure = FailureKind::None;
  std::string message;
  std::uint64_t steps = 0;
  Duration vtime{0};
  std::uint64_t choices = 0;
  std::uint64_t digest = 0;  // the chained per-step digest after the last step (as check_determinism compares)
  friend bool operator==(const RunRecord&, const RunRecord&) = default;
};

class RunObserver {
 public:
  virtual ~RunObserver() = default;
  // True when the observer needs only the runs that fail: with jobs > 1 the
  // passing runs then run on other threads without it, and each failing
  // run that is reported runs again on the calling thread, with every
  // observer (a run is a function of its seed). replay::ReplayObserver
  // says yes (it writes failing runs only); an observer that must see
  // every run (a tracer, a corpus writer) keeps the default, and with it
  // jobs = 1.
  virtual bool failing_runs_suffice() const { return false; }
  // The scheduler for this run; null keeps the runner's own strategy (a
  // replayer returns a ListStrategy here).
  virtual std::unique_ptr<SimScheduler> make_scheduler(const RunContext& ctx) {
    (void)ctx;
    return nullptr;
  }
  // True when make_scheduler gives every run's scheduler (a replay): explore
  // then runs the configured seeds with it, even under strategy bounded,
  // instead of enumerating bounded runs around it.
  virtual bool supplies_every_run() const { return false; }
  // Whether run ctx.run_index exists: the runner stops at the first run for
  // which an observer says no (the bounded enumeration ends before `runs`).
  virtual bool has_run(const RunContext& ctx) {
    (void)ctx;
    return true;
  }
  // The loop is built, the scenario not yet started.
  virtual void on_run_start(const RunContext& ctx, SimLoop& loop, SimScheduler& scheduler) {
    (void)ctx, (void)loop, (void)scheduler;
  }
  virtual void before_callback(const EventLoop& loop, const Handle& handle, std::uint64_t step) {
    (void)loop, (void)handle, (void)step;
  }
  virtual void after_callback(const EventLoop& loop, const Handle& handle, std::uint64_t step) {
    (void)loop, (void)handle, (void)step;
  }
  // Seeded injection has just cancelled a task (LoopObserver::on_injected_cancel).
  virtual void on_injected_cancel(const EventLoop& loop, const InjectedCancel& injected) { (void)loop, (void)injected; }
  // The run is over (the loop still open). Returned text is appended to the
  // failure report, if this run's failure is reported.
  virtual std::string on_run_end(const RunContext& ctx, const RunOutcome& outcome) {
    (void)ctx, (void)outcome;
    return {};
  }
  // Isolation fork: the run's child died of a signal (its own crash handler
  // reported it, and wrote what it could); this process's observers saw
  // nothing of the run. Returned text is added to the report.
  virtual std::string on_run_crashed(const RunContext& ctx, const RunOutcome& outcome) {
    (void)ctx, (void)outcome;
    return {};
  }
};

// "<kind>: <the message's first line>" with every run of digits written as
// '#': runs failing with one signature are taken for one bug (a step number,
// a virtual time or a task's number in the message do not make another).
// replay::same_failure compares the same way.
std::string failure_signature(const RunOutcome& outcome);
// The same for a failure's text ("<kind>: <message>", as replay files hold it).
std::string failure_signature(std::string_view failure_text);

// The replay files of a failing run, filled in by the replay layer
// (replay::explore); empty without it, or when a file could not be written
// (the report then says why).
struct FailureFiles {
  std::string replay_path;
  std::uint64_t nonzero_choices = 0;  // in replay_path
  std::string minimized_path;         // empty when not minimized
  std::uint64_t minimized_nonzero = 0;
  // The minimized run's non-zero choices per kind ("Ready", "Timer", ...),
  // kinds in ChoiceKind order, only those present.
  std::vector<std::pair<std::string, std::uint64_t>> minimized_by_kind;
};

struct Failure {
  std::uint64_t seed = 0;
  RunOutcome outcome;
  std::string reproduce;  // the one-line command
  std::string report;     // the full, printed report
  std::string signature;  // failure_signature(outcome)
  FailureFiles files;
};

// Failures sharing one signature (count-all mode): the first of them in full.
struct FailureClass {
  Failure first;
  std::uint64_t count = 0;
};

// What a replay (SIMLOOP_REPLAY=<file>) concluded; set by replay::explore.
enum class ReplayVerdict : std::uint8_t {
  None,               // not a replay
  Reproduced,         // the recorded schedule, the recorded failure
  FailedDifferently,  // the recorded schedule, another failure
  Passed,             // the recorded schedule, and the run passed: fixed
  DivergedFailing,    // the program left the recorded schedule and still fails
  DivergedPassing,    // it left the schedule and passed: the recorded failure no longer happens
};
const char* to_string(ReplayVerdict verdict) noexcept;

struct ExploreResult {
  std::uint64_t runs = 0;  // runs done by this shard
  // The time budget ran out before the last seed: runs with index
  // [shard_index, next_run) of this shard ran, and the next job continues
  // with SIMLOOP_SEED=next_seed (with the same shards).
  bool budget_spent = false;
  std::uint64_t next_seed = 0;
  // The first failing run (the lowest failing seed of this shard).
  std::optional<Failure> failure;
  // Failing runs: 0 or 1, or under keep_going all of them.
  std::uint64_t failures = 0;
  // One per failure signature, in order of first appearance (classes[0]
  // is `failure`'s).
  std::vector<FailureClass> classes;
  ReplayVerdict replay_verdict = ReplayVerdict::None;
  bool ok() const noexcept { return !failure; }
  double hit_rate() const noexcept {
    return runs == 0 ? 0.0 : static_cast<double>(failures) / static_cast<double>(runs);
  }
};

// What a test reports: the failure's report, or under keep_going every
// class's report followed by the summary; empty when no run failed.
std::string failure_report(const ExploreResult& result, const RunnerOptions& options);
// The count-all summary: runs, failures, hit rate, first failing seed and
// each signature with its count, first seed and replay files.
std::string describe_statistics(const ExploreResult& result, const RunnerOptions& options);

// The exit status a program should end with (docs/exploration.md, "Exit
// status"): 0 no failure (a replay: the recorded schedule passed), 1 a
// failure found (a replay: reproduced exactly), 3 a replay on the recorded
// schedule that failed differently, 4 a replay that diverged and still
// fails, 5 a replay that diverged and passed. 2 is left for bad input
// (ConfigError, a bad replay file), which programs catch themselves.
int exit_status(const ExploreResult& result) noexcept;
inline constexpr int kExitBadInput = 2;

// One line: "simloop: <test> strategy=... fidelity=... seeds=... shard=...".
std::string describe_config(const RunnerOptions& options);
// The command that reruns `seed` alone.
std::string reproduce_command(const RunnerOptions& options, std::uint64_t seed);

ExploreResult explore(const Scenario& scenario, const RunnerOptions& options);
// The runner's loop itself, whatever the strategy: explore() is this, except
// that strategy bounded goes through explore_bounded (sim/bounded.hpp),
// which drives this loop over its enumeration.
ExploreResult explore_runs(const Scenario& scenario, const RunnerOptions& options);

// Runs `run` in a forked child and returns its outcome; a child killed by a
// signal (or ending without reporting) gives FailureKind::Crash naming the
// signal. Observers called inside `run` act in the child.
RunOutcome run_in_child(const std::function<RunOutcome()>& run);

// One seed as the runner runs it: run_one, or with check_determinism two
// runs whose choices, per-step digests and outcomes must agree (else the
// outcome is FailureKind::Nondeterminism naming the first difference).
// `final_digest`, when given, receives the chained digest after the last step.
RunOutcome run_checked(const Scenario& scenario, const RunnerOptions& options, const RunContext& ctx,
                       std::uint64_t* final_digest = nullptr);

// True on a thread while it runs a seed of a parallel batch (jobs > 1),
// without the exploration's observers: the gtest glue then keeps a run's
// GoogleTest failures to that run (the reported rerun shows them).
bool in_parallel_batch() noexcept;

// The runner's failure report: failure, seed, run, injections, tasks,
// notes and the reproduce line.
std::string build_report(const RunnerOptions& options, std::uint64_t seed, std::uint64_t runs_done,
                         const RunOutcome& outcome, const std::string& reproduce);

// One run of one seed (no determinism check, no printing).
RunOutcome run_one(const Scenario& scenario, const RunnerOptions& options, const RunContext& ctx,
                   std::vector<Choice>* choices = nullptr, std::vector<std::uint64_t>* digests = nullptr,
                   std::vector<std::string>* step_names = nullptr);

}  // namespace simloop::sim
