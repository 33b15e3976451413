// Scheduler: the loop's source of every nondeterministic decision.
//
// Contract:
//  - choose(kind, n) returns a value in [0, n). 0 is always the natural
//    choice: the order and timing CPython's asyncio would produce. A
//    scheduler that always answers 0 reproduces asyncio exactly.
//  - The loop consults the scheduler only in run_once, its single choke
//    point (the await-point hook below runs inside a callback run_once
//    called), and only at the choice points points() switches on; a point
//    that is off is never asked, so the list of choices is the same whichever
//    strategy answers them (what replay relies on).
//  - external_delay() is asked once per external event as it arrives (when
//    external_events is on): the event reaches the ready queue that many
//    iterations later. Events released in the same iteration are then ordered
//    with pick(ExternalOrder, ...), earlier arrivals first in natural order.
//  - cancel_at_await(task_id) is asked each time a task suspends at a
//    co_await (when cancel_at_await is on); true cancels that task there, as
//    if another task had called cancel() on it right after it suspended.
//    The loop knows nothing more of it: which tasks and how often is the
//    scheduler's business.
//  - cancel_after_grant(task_id) is asked when a future a task awaits
//    completes with a result or an exception and the task's wakeup is
//    queued (when cancel_after_grant is on); true cancels the task before
//    that wakeup runs, as a callback queued earlier in the iteration could:
//    the task then gets CancelledError although its future holds a result.
//  - pick(kind, candidates) chooses among handles (the ready batch, tied
//    timers, external events); the default asks choose(kind, size). Strategies
//    that rank tasks (pct) override it.
#pragma once

#include <cstdint>
#include <span>

#include <simloop/handle.hpp>

namespace simloop {

enum class ChoiceKind : std::uint8_t {
  ReadyOrder,     // which handle of the ready batch runs next (chaos fidelity only)
  CallbackCost,   // virtual time one callback consumes
  TimerTie,       // which of the timers due at the same instant fires first
  ExternalOrder,  // which simultaneously arrived external event goes first
  ExternalDelay,  // how many iterations an external event is held back
  Test,           // a choice made by the test itself (sim::choose, coin, duration)
  Buggify,        // buggify(): site enabled, site fires
  Cancel,         // seeded cancellation injection at an await point
  Io,             // fake I/O: chunk sizes, latencies, faults
  Executor,       // fake executor: job durations
};
inline constexpr int kChoiceKindCount = 10;
const char* to_string(ChoiceKind kind) noexcept;

// Which of the loop's own choice points a scheduler takes part in.
struct ChoicePoints {
  bool ready_order = false;
  bool callback_cost = false;
  bool timer_ties = false;
  bool external_events = false;
  bool cancel_at_await = false;     // seeded cancellation injection at a suspension
  bool cancel_after_grant = false;  // ... after the awaited future completed
};

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  virtual std::uint64_t choose(ChoiceKind kind, std::uint64_t n) = 0;
  virtual std::size_t pick(ChoiceKind kind, std::span<Handle* const> candidates) {
    return static_cast<std::size_t>(choose(kind, candidates.size()));
  }
  // Virtual time charged to the callback that just ran (asked only when
  // points().callback_cost is on). Zero means none.
  virtual Duration callback_cost() { return Duration{0}; }
  // Iterations an external event that just arrived is held back (asked only
  // when points().external_events is on). Zero means none.
  virtual std::uint32_t external_delay() { return 0; }
  // Whether task `task_id`, suspending at a co_await now, is cancelled there
  // (asked only when points().cancel_at_await is on).
  virtual bool cancel_at_await(std::uint64_t task_id) {
    (void)task_id;
    return false;
  }
  // Whether task `task_id`, whose awaited future just completed (its
  // wakeup queued), is cancelled before it runs (asked only when
  // points().cancel_after_grant is on).
  virtual bool cancel_after_grant(std::uint64_t task_id) {
    (void)task_id;
    return false;
  }
  const ChoicePoints& points() const noexcept { return points_; }

 protected:
  ChoicePoints points_;
};

// asyncio's own order and nothing else: no choice point is on.
class FifoScheduler final : public Scheduler {
 public:
  std::uint64_t choose(ChoiceKind, std::uint64_t) override { return 0; }
};

}  // namespace simloop
