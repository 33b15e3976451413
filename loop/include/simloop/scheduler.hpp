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
//  - inject_cancel(kind, task_id) is asked at each opportunity of an
//    injection kind points() switches on; true cancels the task there, as a
//    cancel() from elsewhere at that moment would (docs/exploration.md):
//      Suspend:  task_id suspends at a co_await now (its future pending);
//      Granted:  the future task_id awaits has just completed with a result
//                or an exception and task_id's wakeup is queued: cancelled
//                now, it gets CancelledError although the future holds a
//                result, as when a callback queued earlier in the iteration
//                cancels it;
//      Callback: a plain callback runs between two callbacks of the ready
//                batch (asyncio's loop.call_soon(task.cancel)); task_id is 0
//                and, on true, injection_victim() names the task among the
//                pending ones;
//      Timer:    task_id has just armed a timer; on true, a cancel of it is
//                armed for the same instant, ordered against that timer by
//                the tie choice when both fire.
//    The loop knows nothing more of it: which tasks and how often is the
//    scheduler's business.
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
  Cancel,         // seeded cancellation injection: whether, at this opportunity
  Io,             // fake I/O: chunk sizes, latencies, faults
  Executor,       // fake executor: job durations
  CancelVictim,   // seeded cancellation from a callback: which pending task
};
inline constexpr int kChoiceKindCount = 11;
const char* to_string(ChoiceKind kind) noexcept;

// Where seeded cancellation injection may cancel a task (Scheduler::inject_cancel).
enum class Injection : std::uint8_t { Suspend, Granted, Callback, Timer };
inline constexpr int kInjectionCount = 4;
// "suspend", "granted", "callback", "timer".
const char* to_string(Injection kind) noexcept;
// A set of injection kinds, one bit per kind.
using InjectionSet = std::uint8_t;
constexpr InjectionSet injection_bit(Injection kind) noexcept {
  return static_cast<InjectionSet>(1u << static_cast<unsigned>(kind));
}
inline constexpr InjectionSet kAllInjections = (1u << kInjectionCount) - 1;

// Which of the loop's own choice points a scheduler takes part in.
struct ChoicePoints {
  bool ready_order = false;
  bool callback_cost = false;
  bool timer_ties = false;
  bool external_events = false;
  InjectionSet injections = 0;  // seeded cancellation injection, by kind
  bool injects(Injection kind) const noexcept { return (injections & injection_bit(kind)) != 0; }
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
  // Whether to cancel task `task_id` at this opportunity of `kind` (asked
  // only when points().injects(kind); task_id is 0 for Callback).
  virtual bool inject_cancel(Injection kind, std::uint64_t task_id) {
    (void)kind, (void)task_id;
    return false;
  }
  // After inject_cancel(Callback, 0) said yes: the index in `task_ids` (the
  // pending tasks, in creation order) of the task to cancel, or
  // task_ids.size() for none.
  virtual std::size_t injection_victim(std::span<const std::uint64_t> task_ids) { return task_ids.size(); }
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
