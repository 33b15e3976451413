// A cancellation plan for property tests: which task to cancel and when,
// drawn by rapidcheck, carried out from plain callbacks
// (loop.call_soon(task.cancel)) so a cancel can land between a wakeup and
// the woken task's next step, not only where a task suspends.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

#include <rapidcheck.h>

#include <simloop/simloop.hpp>

namespace simloop_test {

// Cancel task `target` `delay_us` microseconds after the canceller starts.
struct CancelAt {
  std::size_t target;
  int delay_us;
};

// Up to `max` cancels of tasks in [0, targets), each within `max_us`.
inline std::vector<CancelAt> gen_cancels(std::size_t targets, std::size_t max, int max_us) {
  std::vector<CancelAt> out;
  if (targets == 0) return out;
  const auto n = *rc::gen::inRange<std::size_t>(0, max + 1);
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(CancelAt{*rc::gen::inRange<std::size_t>(0, targets), *rc::gen::inRange(0, max_us)});
  }
  return out;
}

// Carries out `plan` on `*tasks` (which must outlive the canceller).
template <class T>
simloop::Coro<void> canceller(std::vector<simloop::Task<T>>* tasks, std::vector<CancelAt> plan) {
  std::stable_sort(plan.begin(), plan.end(),
                   [](const CancelAt& a, const CancelAt& b) { return a.delay_us < b.delay_us; });
  simloop::EventLoop& loop = simloop::EventLoop::running_or_throw("canceller");
  const simloop::Duration start = loop.time();
  for (const CancelAt& c : plan) {
    const simloop::Duration when = start + std::chrono::microseconds(c.delay_us);
    if (when > loop.time()) co_await simloop::sleep(when - loop.time());
    simloop::Task<T> t = (*tasks)[c.target];
    loop.call_soon([t] { t.cancel(); });
  }
}

}  // namespace simloop_test
