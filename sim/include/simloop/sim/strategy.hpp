// The choice stream: SimScheduler and its strategies (fifo, random, pct, list).
//
// Contract:
//  - Every nondeterministic decision of a simulated run goes through
//    SimScheduler::choose(kind, n) -> [0, n) or pick(kind, candidates); 0 is
//    always the natural choice (asyncio's order, no delay, zero cost). A run
//    is fully determined by its program and its list of choices.
//  - A choice with n == 1 has nothing to decide: it returns 0 and is neither
//    drawn nor reported. Every other choice is reported to each
//    ChoiceObserver as (kind, n, value), in order: that list replays the run
//    (ListStrategy) whatever strategy first produced it.
//  - The fidelity alone decides which of the loop's choice points are on, so
//    the list of choices asked does not depend on the strategy:
//      asyncio: callback cost, timer ties, external order and delay;
//      chaos:   the same plus the order of each iteration's ready batch (any
//               permutation; it can produce orders asyncio never would).
//    Cancellation injection adds the await-point choice when enabled.
//  - Strategies: fifo (always 0: CPython's order), random (seeded Prng),
//    pct (probabilistic concurrency testing, Burckhardt et al. 2010), list
//    (replays a given list), bounded (every run within K deviations from
//    the natural choices, enumerated: sim/bounded.hpp), bytes (read from a
//    fuzzer's input: sim/bytes.hpp). Timing choices (callback cost, external delay,
//    cancellation) are drawn "mostly natural": non-zero with the
//    probabilities of SimOptions, then uniform over the non-zero values.
//  - PCT's guarantee: with at most `k` scheduling decisions (picks) per run
//    and at most `n` distinct priority keys (tasks, plus callback call sites),
//    a bug that needs `d` ordering constraints (its depth) is hit by each run
//    with probability at least 1 / (n * k^(d-1)), when pct_depth >= d and
//    pct_horizon >= k. Priorities and change points come from the seed.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <source_location>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <simloop/errors.hpp>
#include <simloop/handle.hpp>
#include <simloop/scheduler.hpp>
#include <simloop/sim/random.hpp>

namespace simloop::sim {

enum class Fidelity : std::uint8_t { Asyncio, Chaos };
enum class Strategy : std::uint8_t { Fifo, Random, Pct, List, Bounded, Bytes };

const char* to_string(Fidelity f) noexcept;
const char* to_string(Strategy s) noexcept;
// "asyncio" / "chaos"; "fifo" / "random" / "pct" / "list" / "bounded" / "bytes". Nullopt if unknown.
std::optional<Fidelity> parse_fidelity(std::string_view text) noexcept;
std::optional<Strategy> parse_strategy(std::string_view text) noexcept;

// One choice as made: its kind, its range and the value taken.
struct Choice {
  ChoiceKind kind = ChoiceKind::Test;
  std::uint64_t n = 0;
  std::uint64_t value = 0;
  friend bool operator==(const Choice&, const Choice&) = default;
};
std::string to_string(const Choice& c);

// Sees every choice of a run, in order (a recorder, a digest, a tracer).
class ChoiceObserver {
 public:
  virtual ~ChoiceObserver() = default;
  virtual void on_choice(ChoiceKind kind, std::uint64_t n, std::uint64_t value) = 0;
};

// The simplest observer: keeps the whole list.
class ChoiceRecorder final : public ChoiceObserver {
 public:
  void on_choice(ChoiceKind kind, std::uint64_t n, std::uint64_t value) override {
    choices_.push_back(Choice{kind, n, value});
  }
  const std::vector<Choice>& choices() const noexcept { return choices_; }
  std::vector<Choice> take() noexcept { return std::move(choices_); }
  void clear() noexcept { choices_.clear(); }

 private:
  std::vector<Choice> choices_;
};

// Options of a simulated run's choice stream (also set by the runner).
struct SimOptions {
  Fidelity fidelity = Fidelity::Asyncio;
  // Callback cost: a callback consumes 0 or one of 1us, 10us, ... up to
  // max_callback_cost (a log scale); random and pct make it non-zero with
  // busy_probability. max_callback_cost == 0 turns the choice point off.
  Duration max_callback_cost = std::chrono::milliseconds(100);
  double busy_probability = 0.05;
  // External events (I/O, executor completions, call_soon_threadsafe) may
  // be held back up to max_external_delay iterations, with this probability.
  std::uint32_t max_external_delay = 3;
  double external_delay_probability = 0.1;
  // Seeded cancellation injection (docs/exploration.md): with probability p
  // > 0 a run makes k = min(max_injected_cancels, Binomial(H, p)) cancels,
  // at k of the first H injection opportunities, drawn uniformly, where H
  // is cancel_horizon (0: the runner counts the opportunities of one run
  // in asyncio's order; kDefaultCancelHorizon when nothing counted them).
  // An opportunity is a moment of one of the kinds in injection_kinds
  // (Scheduler::inject_cancel) for a task that is not spared.
  double cancel_probability = 0.0;
  std::uint32_t max_injected_cancels = 2;
  InjectionSet injection_kinds = kAllInjections;
  std::uint64_t cancel_horizon = 0;
  // buggify() sites may fire (when false, buggify() is always false and
  // makes no choice).
  bool buggify = true;
  // pct: the bug depth d it targets (d - 1 priority change points) and the
  // horizon k, the number of scheduling decisions over which the change
  // points are spread (see the file header).
  std::uint32_t pct_depth = 3;
  std::uint64_t pct_horizon = 100;
};

inline constexpr std::uint64_t kDefaultCancelHorizon = 100;

// "suspend,granted" for a set of injection kinds ("none" when empty).
std::string describe_injections(InjectionSet kinds);
// Parses a comma-separated list of kind names ("all" for every kind);
// nothing when a name is unknown or the list is empty.
std::optional<InjectionSet> parse_injections(std::string_view text);

// A key for a handle that is the same in every run of the same program: the
// task id for a task's step, else a hash of the call site's file name text
// and line (never an address). PCT's priorities and the runner's digests use it.
std::uint64_t stable_handle_key(const Handle& h);

// The loop's ChoicePoints for these options.
ChoicePoints choice_points(const SimOptions& options) noexcept;

// A replayed choice list and the program disagree (the code changed, or the
// list belongs to another program).
class ChoiceDivergenceError : public Error {
 public:
  using Error::Error;
};

// The base of every strategy: records, shapes and reports choices, answers
// the loop's hooks (cost, delay, cancellation) and keeps buggify's sites.
class SimScheduler : public Scheduler {
 public:
  explicit SimScheduler(SimOptions options);

  std::uint64_t choose(ChoiceKind kind, std::uint64_t n) final;
  std::size_t pick(ChoiceKind kind, std::span<Handle* const> candidates) final;
  Duration callback_cost() final;
  std::uint32_t external_delay() final;
  bool inject_cancel(Injection kind, std::uint64_t task_id) final;
  std::size_t injection_victim(std::span<const std::uint64_t> task_ids) final;

  // FoundationDB's BUGGIFY: a site (source location) is switched on with 25%
  // chance the first time it is hit in a run, then fires on 25% of its hits.
  bool buggify(const std::source_location& where);

  virtual Strategy strategy() const noexcept = 0;
  const SimOptions& options() const noexcept { return options_; }
  Fidelity fidelity() const noexcept { return options_.fidelity; }

  // Observers are not owned; they must outlive the run or be removed.
  void add_observer(ChoiceObserver* observer);
  void remove_observer(ChoiceObserver* observer) noexcept;
  // Choices made so far (those with n >= 2).
  std::uint64_t choices_made() const noexcept { return choices_made_; }
  // Cancellation injection never cancels this task (the runner spares the
  // scenario's main task: cancelling it would only end the run).
  void spare_task(std::uint64_t task_id) { spared_.push_back(task_id); }
  std::uint32_t injected_cancels() const noexcept { return injected_cancels_; }
  // Injection opportunities offered so far (a Cancel choice asked for each).
  std::uint64_t cancel_opportunities() const noexcept { return cancel_opportunities_; }
  // The callback cost a CallbackCost value stands for.
  Duration cost_of(std::uint64_t value) const noexcept;
  std::uint64_t cost_levels() const noexcept { return cost_levels_; }

 protected:
  // The strategy's answer, n >= 2; must be in [0, n).
  virtual std::uint64_t draw(ChoiceKind kind, std::uint64_t n) = 0;
  virtual std::size_t draw_pick(ChoiceKind kind, std::span<Handle* const> candidates) {
    return static_cast<std::size_t>(draw(kind, candidates.size()));
  }
  // The random shape of a choice: timing kinds mostly natural, cancels at
  // the run's planned opportunities, the rest uniform.
  std::uint64_t draw_shaped(Prng& prng, ChoiceKind kind, std::uint64_t n);

 private:
  friend class ListStrategy;
  void report(ChoiceKind kind, std::uint64_t n, std::uint64_t value);

  SimOptions options_;
  Chance busy_;
  Chance external_delay_;
  Chance cancel_;  // per opportunity of the horizon, for the plan's count
  std::uint64_t cost_levels_ = 1;
  std::vector<ChoiceObserver*> observers_;
  std::uint64_t choices_made_ = 0;
  bool spared(std::uint64_t task_id) const noexcept;
  // The opportunities (0-based, sorted) that injection cancels at, drawn
  // on the first Cancel choice of the run.
  void draw_cancel_plan(Prng& prng);
  std::vector<std::uint64_t> spared_;
  std::uint32_t injected_cancels_ = 0;
  std::uint64_t cancel_opportunities_ = 0;
  std::optional<std::vector<std::uint64_t>> cancel_plan_;
  // buggify sites by (file, line, column): compared by content, so their
  // order never depends on addresses.
  std::map<std::tuple<std::string, std::uint32_t, std::uint32_t>, bool> buggify_sites_;
};

// fifo: every choice 0, i.e. exactly CPython's asyncio order.
class FifoStrategy final : public SimScheduler {
 public:
  explicit FifoStrategy(SimOptions options = {}) : SimScheduler(options) {}
  Strategy strategy() const noexcept override { return Strategy::Fifo; }

 protected:
  std::uint64_t draw(ChoiceKind, std::uint64_t) override { return 0; }
};

// random: each choice drawn from a Prng seeded with the run's seed.
class RandomStrategy final : public SimScheduler {
 public:
  RandomStrategy(std::uint64_t seed, SimOptions options = {}) : SimScheduler(options), prng_(seed) {}
  Strategy strategy() const noexcept override { return Strategy::Random; }

 protected:
  std::uint64_t draw(ChoiceKind kind, std::uint64_t n) override { return draw_shaped(prng_, kind, n); }

 private:
  Prng prng_;
};

// pct: random priorities per key (a task's steps share its task's key; other
// callbacks share their call site's), the highest-priority candidate goes
// first (candidates tied at the top, i.e. of one key, are picked by the seed);
// at d - 1 change points, drawn uniformly over the first pct_horizon picks,
// the candidate about to go first drops below every initial priority. Other
// choices are drawn as by random.
class PctStrategy final : public SimScheduler {
 public:
  PctStrategy(std::uint64_t seed, SimOptions options = {});
  Strategy strategy() const noexcept override { return Strategy::Pct; }
  // The change points (pick numbers, from 1), for tests and reports.
  const std::vector<std::uint64_t>& change_points() const noexcept { return change_points_; }

 protected:
  std::uint64_t draw(ChoiceKind kind, std::uint64_t n) override { return draw_shaped(prng_, kind, n); }
  std::size_t draw_pick(ChoiceKind kind, std::span<Handle* const> candidates) override;

 private:
  std::uint64_t priority_of(const Handle& h);
  Prng prng_;
  std::vector<std::uint64_t> change_points_;  // sorted
  std::size_t next_change_ = 0;
  std::uint64_t picks_ = 0;
  std::map<std::uint64_t, std::uint64_t> priorities_;  // key -> priority (looked up, never iterated)
};

// list: replays a given list of choices. With kinds and ranges (a recorded
// run), each choice asked must match the next entry's kind and range, and its
// value must be in range; otherwise the run has diverged (the code changed, or
// the list belongs to another program). A divergence is recorded, never
// thrown inside the loop (the loop must stay consistent): divergence() tells
// where (position, what was recorded, what was asked), the divergence
// callback, if set, hears it at once (e.g. to stop the loop), and from then
// on a fallback strategy answers, if one is set (replay's "carry on under
// the seeded strategy"), or else every choice is 0.
// With values only (from_values), kinds are not checked and a value >= n is
// taken as n - 1 (so shrinking values toward 0 stays valid). Past the end of
// the list every choice is 0 (natural), so a shortened list still runs.
class ListStrategy final : public SimScheduler {
 public:
  struct Divergence {
    std::size_t index = 0;               // position in the list
    std::optional<Choice> expected;      // the recorded entry
    ChoiceKind kind = ChoiceKind::Test;  // what the program asked
    std::uint64_t n = 0;
    std::string describe() const;
  };

  ListStrategy(std::vector<Choice> choices, SimOptions options = {});
  static std::unique_ptr<ListStrategy> from_values(std::vector<std::uint64_t> values, SimOptions options = {});
  Strategy strategy() const noexcept override { return Strategy::List; }

  void set_fallback(std::unique_ptr<SimScheduler> fallback) { fallback_ = std::move(fallback); }
  void on_divergence(std::function<void(const Divergence&)> callback) { on_divergence_ = std::move(callback); }
  const std::optional<Divergence>& divergence() const noexcept { return divergence_; }
  std::size_t position() const noexcept { return position_; }
  bool exhausted() const noexcept { return position_ >= choices_.size(); }

 protected:
  std::uint64_t draw(ChoiceKind kind, std::uint64_t n) override;

 private:
  ListStrategy(SimOptions options) : SimScheduler(options) {}
  std::vector<Choice> choices_;
  bool check_kinds_ = true;
  std::size_t position_ = 0;
  std::unique_ptr<SimScheduler> fallback_;
  std::optional<Divergence> divergence_;
  std::function<void(const Divergence&)> on_divergence_;
};

// A strategy by kind. `seed` seeds random and pct; list, bounded and bytes
// are refused here (build a ListStrategy from its list, a BytesStrategy
// from its input; a bounded run is built by its enumeration, explore_bounded).
std::unique_ptr<SimScheduler> make_strategy(Strategy strategy, std::uint64_t seed, const SimOptions& options);

}  // namespace simloop::sim
