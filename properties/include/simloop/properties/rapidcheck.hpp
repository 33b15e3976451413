// rapidcheck drives the schedule: property tests whose inputs AND schedule are
// generated, shrunk and reproduced together.
//
// Contract:
//  - RapidcheckStrategy is a SimScheduler whose every choice (ready order,
//    callback cost, timer ties, external order and delay, injected
//    cancellations, the test's own sim::choose / coin / duration, buggify)
//    is drawn inside the running rapidcheck property as `*choice(...)`: one
//    rapidcheck value per choice. When the property fails, rapidcheck's own
//    shrinker shrinks those values with the property's inputs, each toward
//    0, the natural choice (asyncio's order, no delay, no cost); and
//    RC_PARAMS="reproduce=..." replays inputs and schedule alike. It must be
//    used inside a property (RC_GTEST_PROP, SIMLOOP_PROPERTY, rc::check).
//  - Bias: each choice is natural (0) unless a deviation is drawn, with a
//    per-kind probability (Bias): mostly natural schedules with rare
//    deviations, so a failing schedule has few non-zero choices and shrinking
//    converges fast. A deviation is uniform over [1, n) and shrinks toward 0
//    (0 first, then halving). A value rapidcheck reuses for a choice with a
//    smaller range (its path changed while shrinking) is clamped to n - 1.
//  - The fidelity decides the choice points as everywhere in sim/
//    (strategy.hpp): asyncio = callback cost, timer ties, external events;
//    chaos = also the order of each iteration's ready batch. Left unset in
//    PropertyOptions, the fidelity itself is a generated input (asyncio or
//    chaos, half each) that shrinks toward asyncio, so a failure is reported
//    under asyncio's contract whenever it also fails there.
//  - run(scenario, options) runs one scenario (a coroutine factory given a
//    fresh SimLoop) on one generated schedule, with the exploration runner's
//    detectors (exception, assertion, deadlock, step / virtual-time budget,
//    pending tasks, live timers, exceptions nobody retrieved). On failure it
//    fails the property (RC_FAIL) with the runner's failure, the task dump,
//    the size of the schedule (choices, non-zero choices) and the path of
//    the run's replay file; check() returns the outcome instead.
//  - Replay file: each failing run is written to SIMLOOP_REPLAY_DIR as
//    "<test>-seed0.simloop-replay" (overwritten), so once shrinking is over
//    the file holds the shrunk run (the last failing run rapidcheck makes is
//    its final counterexample): simloop-trace show / convert render it.
//    Reproduce with RC_PARAMS (inputs and schedule); the file is the record.
//  - Inside the scenario, check with SIMLOOP_PROP_ASSERT (an AssertionFailed
//    the runner reports with its message): RC_ASSERT / RC_PRE throw
//    rapidcheck's own result type, which the runner can only report as an
//    exception of unknown type. Use RC_PRE before run(), never inside.
//  - Run counts: resolve_runs(runs) is what SIMLOOP_PROPERTY (gtest.hpp)
//    checks: SIMLOOP_PROPERTY_RUNS=<n> in the environment replaces every
//    property's own count with n (soak runs); otherwise an explicit
//    RC_PARAMS max_success does; otherwise the property's own count.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include <rapidcheck.h>

#include <simloop/scheduler.hpp>
#include <simloop/sim/runner.hpp>
#include <simloop/sim/strategy.hpp>

namespace simloop::sim {
// How rapidcheck shows a generated fidelity in a counterexample.
void showValue(Fidelity f, std::ostream& os);
}  // namespace simloop::sim

namespace simloop::properties {

// The name every schedule choice carries in a rapidcheck counterexample;
// compact_schedule() folds those entries into one, "simloop schedule: 143
// choices, 2 non-zero: #5=2 #17=1" (the index in the run's list of choices
// and the value), where rapidcheck would print one entry per choice.
inline constexpr const char* kScheduleChoiceName = "simloop schedule choice";
void compact_schedule(rc::detail::Example& example);

// Per-kind probability, in parts per million, that a choice deviates from
// the natural one. kUniform: the choice is uniform over [0, n) (still
// shrinking toward 0), for choices with no natural answer (the test's own).
struct Bias {
  static constexpr std::uint32_t kUniform = 0xffffffffu;
  std::array<std::uint32_t, kChoiceKindCount> ppm{};

  // Mostly natural: ready order 10%, callback cost 3%, timer ties 25%,
  // external order 25%, external delay 10%, cancellation 2%, fake I/O and
  // executor 10%; test choices and buggify uniform (buggify keeps its own
  // 25% rules on top).
  static Bias mostly_natural();
  // Every choice uniform over its range (the "random" shape, no bias).
  static Bias uniform();
  Bias& set(ChoiceKind kind, std::uint32_t parts_per_million) {
    ppm[static_cast<std::size_t>(kind)] = parts_per_million;
    return *this;
  }
  std::uint32_t of(ChoiceKind kind) const noexcept { return ppm[static_cast<std::size_t>(kind)]; }
};

// The rapidcheck generator of one choice in [0, n), n >= 2: 0 unless a
// deviation is drawn (probability ppm / 10^6), then uniform over [1, n);
// shrinks toward 0. ppm == Bias::kUniform: uniform over [0, n).
rc::Gen<std::uint64_t> choice(std::uint64_t n, std::uint32_t ppm);

// asyncio or chaos, half each, shrinking toward asyncio.
rc::Gen<sim::Fidelity> fidelity();

class RapidcheckStrategy final : public sim::SimScheduler {
 public:
  RapidcheckStrategy(sim::SimOptions options, Bias bias) : SimScheduler(options), bias_(bias) {}
  // Its choices form a list that rapidcheck supplies (and a replay file
  // records as a list).
  sim::Strategy strategy() const noexcept override { return sim::Strategy::List; }
  std::uint64_t nonzero() const noexcept { return nonzero_; }

 protected:
  std::uint64_t draw(ChoiceKind kind, std::uint64_t n) override;

 private:
  Bias bias_;
  std::uint64_t nonzero_ = 0;
};

struct PropertyOptions {
  // Unset: drawn by rapidcheck (both fidelities; shrinks toward asyncio).
  std::optional<sim::Fidelity> fidelity;
  // Choice-point settings (callback cost range, external delay range,
  // cancellation injection, buggify). Its fidelity is replaced by the one
  // above; its probabilities are replaced by `bias` (rapidcheck draws).
  sim::SimOptions sim;
  Bias bias = Bias::mostly_natural();
  std::uint64_t max_steps = 200'000;
  Duration max_vtime = std::chrono::hours(24);
  bool fail_on_pending_tasks = true;
  bool fail_on_live_timers = true;
  bool fail_on_handler_reports = true;
  // Write each failing run as a replay file (see the header).
  bool save_replay = true;
  // For reports and the replay file's name; empty: the running gtest test
  // ("Suite.Name"), else "property".
  std::string name;

  // Seeded cancellation injection: at each co_await, the awaiting task (not
  // the scenario's main task) may be cancelled, at most `max` times per run,
  // each deviation drawn with probability ppm / 10^6.
  PropertyOptions& inject_cancellations(std::uint32_t ppm, std::uint32_t max = 1);
};

struct PropertyRun {
  sim::RunOutcome outcome;
  sim::Fidelity fidelity = sim::Fidelity::Asyncio;
  std::vector<sim::Choice> choices;  // every choice made (n >= 2), in order
  std::uint64_t nonzero = 0;         // how many of them deviate from 0
  std::string replay_file;           // written when the run failed and save_replay
  // Several lines: the failure, fidelity, schedule size, task dump, replay file.
  std::string report() const;
};

// One run of `scenario` on a schedule drawn by rapidcheck; never fails the
// property itself. Must be called inside a property.
PropertyRun check(const sim::Scenario& scenario, const PropertyOptions& options = {});
// check(), then RC_FAIL with the report if the run failed.
PropertyRun run(const sim::Scenario& scenario, const PropertyOptions& options = {});

// The number of cases for a property whose own count is `runs`
// (SIMLOOP_PROPERTY_RUNS, RC_PARAMS max_success; see the header).
// Raises sim::ConfigError naming SIMLOOP_PROPERTY_RUNS when it is malformed.
int resolve_runs(int runs);

// The rapidcheck seed for the test `id`: `configured` when RC_PARAMS gives
// a seed, else a hash of `id`, mixed with SIMLOOP_SEED when that is set (a
// malformed SIMLOOP_SEED raises sim::ConfigError naming it).
std::uint64_t resolve_seed(const std::string& id, std::uint64_t configured);

namespace detail {
// The name run() uses when PropertyOptions::name is empty (set by
// SIMLOOP_PROPERTY for the duration of its test).
void set_current_name(std::string name);
const std::string& current_name();
}  // namespace detail

}  // namespace simloop::properties

// Inside a scenario: stops the run with an assertion failure (and its
// message) when `cond` is false. Extra arguments are streamed into the message.
#define SIMLOOP_PROP_ASSERT(cond, ...)                                                                \
  do {                                                                                                \
    if (!(cond)) {                                                                                    \
      std::ostringstream simloop_prop_msg_;                                                           \
      simloop_prop_msg_ << "SIMLOOP_PROP_ASSERT(" #cond ") failed at " << __FILE__ << ":" << __LINE__ \
                        << " " __VA_OPT__(<< __VA_ARGS__);                                            \
      throw ::simloop::sim::AssertionFailed(simloop_prop_msg_.str());                                 \
    }                                                                                                 \
  } while (false)
