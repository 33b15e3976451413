// The bounded strategy: every run with at most K non-zero choices, K = 0, 1,
// 2, ... (delay-bounded scheduling, Emmi, Qadeer, Rakamarić, POPL 2011, on
// simloop's choice stream).
//
// Contract:
//  - Because 0 is always the natural choice, a run is asyncio's order plus a
//    set of deviations: (position in the choice list, non-zero value). The
//    enumeration visits every run with at most max_deviations deviations
//    over the choice tree the runs reveal, each exactly once, and ends with
//    the first failure, or (count-all mode) after the last run.
//  - Order: K = 0 (the one natural run), then every run with one deviation,
//    then two, ... Within K, runs follow their parent (the run without the
//    last deviation) in the order of level K - 1, then the new deviation's
//    position, then its value (deviation_values order). A run's number
//    (from 1) therefore does not depend on max_deviations, as long as
//    max_deviations is at least the run's K.
//  - A child deviates only after its parent's last deviation, at a choice
//    its parent made: the prefix is the parent's, so the program asks the
//    same (kind, range) there. If it does not (the program is not a function
//    of its choices), the run is flagged, answered naturally, and no
//    "exhausted" claim is made.
//  - Wide choices are bucketed (deviation_values): the orders of tied timers,
//    external events and the ready batch try every value; buggify tries 1
//    only (2 and 3 mean what 0 means); any other choice tries every value
//    when its range is at most 4, else 1, n / 2 and n - 1 (callback cost:
//    1us, 100us and the largest level by default).
//  - In the runner, a bounded run's "seed" is its run number: SIMLOOP_SEED
//    (RunnerOptions::seed) is the first run number to execute and
//    SIMLOOP_RUNS (runs) the most runs to execute, so the reproduce line
//    "SIMLOOP_SEED=<n> SIMLOOP_RUNS=1 SIMLOOP_STRATEGY=bounded" reruns run n
//    (the runs before it are re-run quietly to rebuild the tree).
//    SIMLOOP_RUNS unset in the environment means every run.
//  - Sharding: run i of the window belongs to shard i % total_shards. Every
//    shard needs the choice lists of every run with fewer than
//    max_deviations deviations to build the next level, so it re-runs the
//    other shards' runs of those levels quietly (no report, no file); the
//    last level, where the cost is, is split.
//  - Isolation (fork) is refused: the enumeration needs each run's choices
//    in this process.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <simloop/sim/runner.hpp>
#include <simloop/sim/strategy.hpp>

namespace simloop::sim {

// The non-zero values a bounded run tries for a choice of `kind` over [0, n),
// ascending (see the file header). Empty when n < 2.
std::vector<std::uint64_t> deviation_values(ChoiceKind kind, std::uint64_t n);

// One deviation from the natural choice: the choice at `index` (0-based,
// among the choices made, i.e. those with n >= 2) takes `value`; `kind` and
// `n` are what the parent run was asked there.
struct Deviation {
  std::uint64_t index = 0;
  std::uint64_t value = 0;
  ChoiceKind kind = ChoiceKind::Test;
  std::uint64_t n = 0;
  friend bool operator==(const Deviation&, const Deviation&) = default;
};

// A choice as asked (kind and range), for the enumeration's tree.
struct AskedChoice {
  ChoiceKind kind = ChoiceKind::Test;
  std::uint64_t n = 0;
};

// One bounded run: the natural choice everywhere except at its deviations
// (sorted by index). Records the choices asked after its last deviation (the
// only places its children deviate).
class BoundedStrategy final : public SimScheduler {
 public:
  BoundedStrategy(std::vector<Deviation> deviations, SimOptions options = {});
  Strategy strategy() const noexcept override { return Strategy::Bounded; }

  const std::vector<Deviation>& deviations() const noexcept { return deviations_; }
  // The choices asked after the last deviation (all of them for K = 0), in order.
  const std::vector<AskedChoice>& asked_after_last() const noexcept { return asked_; }
  // Position of asked_after_last()[0] in the run's choice list.
  std::uint64_t first_recorded_index() const noexcept { return deviations_.empty() ? 0 : deviations_.back().index + 1; }
  // Set when the run did not ask, at a deviation's index, what its parent
  // asked there (or never got there): where, and what.
  const std::optional<std::string>& mismatch() const noexcept { return mismatch_; }
  // Checks that every deviation was reached (call when the run is over).
  void check_complete();

 protected:
  std::uint64_t draw(ChoiceKind kind, std::uint64_t n) override;

 private:
  std::vector<Deviation> deviations_;
  std::size_t next_ = 0;
  std::uint64_t position_ = 0;
  std::vector<AskedChoice> asked_;
  std::optional<std::string> mismatch_;
};

// "choice #3 timer_tie(2)=1, choice #7 callback_cost(7)=3".
std::string describe_deviations(const std::vector<Deviation>& deviations);

// What a bounded exploration covered.
struct BoundedSummary {
  std::uint32_t max_deviations = 0;
  // Runs of the whole enumeration (every shard) with exactly K deviations,
  // for K = 0, 1, ... as far as the enumeration was built (a stop at a
  // failure leaves later levels unbuilt).
  std::vector<std::uint64_t> runs_per_level;
  // Every run of this shard's share of the window ran (no failure stopped
  // it, no budget cut it short) and the program stayed a function of its
  // choices: within max_deviations, nothing was left untried.
  bool exhausted = false;
  // Runs whose program did not follow its parent's choices (see mismatch()).
  std::uint64_t mismatches = 0;
  // The line printed at the end ("exhausted: ..."), empty if none.
  std::string message;
};

// explore() with options.strategy == Strategy::Bounded lands here: the
// runner's loop (explore_runs) over the enumeration, then the summary line.
// ConfigError for isolation fork, or a first run number (seed) of 0.
ExploreResult explore_bounded(const Scenario& scenario, const RunnerOptions& options,
                              BoundedSummary* summary = nullptr);

}  // namespace simloop::sim
