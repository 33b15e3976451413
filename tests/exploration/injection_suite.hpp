// The injection suite: primitives with historical asyncio bugs, written as
// user code, each under a plain workload (workers using the primitive; no
// task of the workload cancels anything), beside the same workload on
// simloop's own primitive. Seeded cancellation injection alone must find
// every bug, and never fail simloop's primitives (injection_suite_test.cpp;
// the hit rates per injection kind in docs/exploration.md come from
// tools/injection_hit_rates.cpp).
//
// Every workload tolerates any worker being cancelled at any point: main
// (spared by the runner) waits for the workers with wait(), which never
// raises, then checks what must hold whoever was cancelled. A failure is
// then the primitive's: a deadlock (a wakeup lost), an assertion (a permit
// or an item lost), a swallowed cancellation (report_swallowed_cancel), or
// an error in a callback (the exception handler).
#pragma once

#include <algorithm>
#include <deque>
#include <string>
#include <vector>

#include <simloop/simloop.hpp>

namespace injection_suite {

using namespace std::chrono_literals;
using simloop::CancelledError;
using simloop::Coro;
using simloop::Duration;
using simloop::Future;
using simloop::Task;
namespace sim = simloop::sim;

// Which primitive the workload uses: the buggy user-written one, the same
// with its fix, or simloop's own.
enum class Variant { Buggy, Fixed, Simloop };

inline void check(bool ok, const std::string& what) {
  if (!ok) throw sim::AssertionFailed(what);
}

inline Future<void> new_future() { return Future<void>::create(*simloop::EventLoop::running()); }

// Waits for every task, whatever each ended with (a cancelled worker is
// part of the workload; an exception other than a cancel stays in its task
// and is reported as never retrieved).
template <class T>
Coro<void> wait_all(std::vector<Task<T>> tasks) {
  if (tasks.empty()) co_return;
  co_await simloop::wait(std::move(tasks));
}

// ---- 1. Lock: a cancelled waiter that was granted the lock does not pass it on.

// A FIFO lock that hands ownership to the first pending waiter's future
// (bpo-27585's family: the grant lands, the waiter is cancelled before its
// wakeup runs, and the buggy lock forgets that the waiter now owns it).
struct HandoffLock {
  bool fixed = false;
  bool locked = false;
  std::deque<Future<void>> waiters;

  Coro<void> acquire() {
    if (!locked) {
      locked = true;
      co_return;
    }
    Future<void> granted = new_future();
    waiters.push_back(granted);
    bool cancelled = false;
    try {
      co_await granted;
    } catch (const CancelledError&) {
      cancelled = true;
    }
    if (cancelled) {
      // Granted, then cancelled before the wakeup ran: the lock is ours to pass on.
      if (fixed && granted.done() && !granted.cancelled()) release();
      throw CancelledError();
    }
  }
  void release() {
    while (!waiters.empty()) {
      Future<void> next = waiters.front();
      waiters.pop_front();
      if (!next.done()) {
        next.set_result();
        return;
      }
    }
    locked = false;
  }
};

// Takes `p` (a lock or a semaphore) three times, holding it 1ms each time,
// and gives it back when cancelled while holding it.
template <class P>
Coro<void> hold_three_times(P* p) {
  for (int i = 0; i < 3; ++i) {
    co_await p->acquire();
    bool cancelled = false;
    try {
      co_await simloop::sleep(1ms);
    } catch (const CancelledError&) {
      cancelled = true;
    }
    p->release();
    if (cancelled) throw CancelledError();
  }
}

inline sim::Scenario lock_workload(Variant v) {
  return [v](sim::SimLoop& loop) -> Coro<void> {
    std::vector<Task<void>> workers;
    if (v == Variant::Simloop) {
      auto& lock = loop.keep<simloop::Lock>();
      for (int i = 0; i < 3; ++i) workers.push_back(loop.create_task(hold_three_times(&lock)));
      co_await wait_all(std::move(workers));
      check(!lock.locked(), "the lock is still held after every worker ended");
    } else {
      auto& lock = loop.keep<HandoffLock>();
      lock.fixed = v == Variant::Fixed;
      for (int i = 0; i < 3; ++i) workers.push_back(loop.create_task(hold_three_times(&lock)));
      co_await wait_all(std::move(workers));
      check(!lock.locked, "the lock is still held after every worker ended");
    }
  };
}

// ---- 2. Semaphore: a cancelled waiter that was handed a permit drops it.

struct HandoffSemaphore {
  bool fixed = false;
  long value = 2;
  std::deque<Future<void>> waiters;

  Coro<void> acquire() {
    if (value > 0 && waiters.empty()) {
      --value;
      co_return;
    }
    Future<void> permit = new_future();
    waiters.push_back(permit);
    bool cancelled = false;
    try {
      co_await permit;
    } catch (const CancelledError&) {
      cancelled = true;
    }
    if (cancelled) {
      if (fixed && permit.done() && !permit.cancelled()) release();
      // A waiter cancelled before any grant leaves the queue.
      waiters.erase(std::remove(waiters.begin(), waiters.end(), permit), waiters.end());
      throw CancelledError();
    }
  }
  void release() {
    // The permit goes straight to the first waiter, without touching value.
    while (!waiters.empty()) {
      Future<void> next = waiters.front();
      waiters.pop_front();
      if (!next.done()) {
        next.set_result();
        return;
      }
    }
    ++value;
  }
};

inline sim::Scenario semaphore_workload(Variant v) {
  return [v](sim::SimLoop& loop) -> Coro<void> {
    std::vector<Task<void>> workers;
    if (v == Variant::Simloop) {
      auto& sem = loop.keep<simloop::Semaphore>(2);
      for (int i = 0; i < 4; ++i) workers.push_back(loop.create_task(hold_three_times(&sem)));
      co_await wait_all(std::move(workers));
      check(sem.value() == 2, "a permit was lost: value " + std::to_string(sem.value()) + " of 2");
    } else {
      auto& sem = loop.keep<HandoffSemaphore>();
      sem.fixed = v == Variant::Fixed;
      for (int i = 0; i < 4; ++i) workers.push_back(loop.create_task(hold_three_times(&sem)));
      co_await wait_all(std::move(workers));
      check(sem.value == 2, "a permit was lost: value " + std::to_string(sem.value) + " of 2");
    }
  };
}

// ---- 3. Condition: a notified waiter, cancelled before its wakeup, swallows
// the notification (asyncio fixed this in 3.13: Condition.wait passes it on).

struct NotifyOne {
  bool fixed = false;
  std::deque<Future<void>> waiters;

  Coro<void> wait() {
    Future<void> woken = new_future();
    waiters.push_back(woken);
    bool cancelled = false;
    try {
      co_await woken;
    } catch (const CancelledError&) {
      cancelled = true;
    }
    if (cancelled) {
      waiters.erase(std::remove(waiters.begin(), waiters.end(), woken), waiters.end());
      if (fixed && woken.done() && !woken.cancelled()) notify(1);
      throw CancelledError();
    }
  }
  void notify(int n) {
    while (n > 0 && !waiters.empty()) {
      Future<void> next = waiters.front();
      waiters.pop_front();
      if (!next.done()) {
        next.set_result();
        --n;
      }
    }
  }
};

struct Mailbox {
  std::deque<int> items;
  bool closed = false;
};

// The producer hands over one item at a time: it waits until a consumer
// took it (`taken`) before the next. Main closes the mailbox at the end.
inline Coro<void> condition_consumer(NotifyOne* cond, Mailbox* box, simloop::Event* taken) {
  while (true) {
    while (box->items.empty() && !box->closed) co_await cond->wait();
    if (box->items.empty()) co_return;
    box->items.pop_front();
    taken->set();
  }
}
inline Coro<void> condition_producer(NotifyOne* cond, Mailbox* box, simloop::Event* taken) {
  for (int i = 0; i < 4; ++i) {
    box->items.push_back(i);
    taken->clear();
    cond->notify(1);
    co_await taken->wait();
  }
}

inline Coro<void> simloop_condition_consumer(simloop::Condition* cond, Mailbox* box, simloop::Event* taken) {
  auto held = co_await cond->hold();
  while (true) {
    while (box->items.empty() && !box->closed) co_await cond->wait();
    if (box->items.empty()) co_return;
    box->items.pop_front();
    taken->set();
  }
}
inline Coro<void> simloop_condition_producer(simloop::Condition* cond, Mailbox* box, simloop::Event* taken) {
  for (int i = 0; i < 4; ++i) {
    {
      auto held = co_await cond->hold();
      box->items.push_back(i);
      taken->clear();
      cond->notify(1);
    }
    co_await taken->wait();
  }
}

inline sim::Scenario condition_workload(Variant v) {
  return [v](sim::SimLoop& loop) -> Coro<void> {
    auto& box = loop.keep<Mailbox>();
    auto& taken = loop.keep<simloop::Event>();
    std::vector<Task<void>> consumers;
    if (v == Variant::Simloop) {
      auto& cond = loop.keep<simloop::Condition>();
      for (int i = 0; i < 3; ++i)
        consumers.push_back(loop.create_task(simloop_condition_consumer(&cond, &box, &taken)));
      std::vector<Task<void>> producer;
      producer.push_back(loop.create_task(simloop_condition_producer(&cond, &box, &taken)));
      co_await wait_all(std::move(producer));
      {
        auto held = co_await cond.hold();
        box.closed = true;
        cond.notify_all();
      }
    } else {
      auto& cond = loop.keep<NotifyOne>();
      cond.fixed = v == Variant::Fixed;
      for (int i = 0; i < 3; ++i) consumers.push_back(loop.create_task(condition_consumer(&cond, &box, &taken)));
      std::vector<Task<void>> producer;
      producer.push_back(loop.create_task(condition_producer(&cond, &box, &taken)));
      co_await wait_all(std::move(producer));
      box.closed = true;
      cond.notify(3);
    }
    co_await wait_all(std::move(consumers));
  };
}

// ---- 4. Queue: put() hands the item to a parked getter's future; a getter
// cancelled before its wakeup loses the item.

struct HandoffQueue {
  bool fixed = false;
  std::deque<int> items;
  std::deque<Future<int>> getters;

  void put(int item) {
    while (!getters.empty()) {
      Future<int> g = getters.front();
      getters.pop_front();
      if (!g.done()) {
        g.set_result(item);
        return;
      }
    }
    items.push_back(item);
  }
  Coro<int> get() {
    if (!items.empty()) {
      const int item = items.front();
      items.pop_front();
      co_return item;
    }
    Future<int> g = Future<int>::create(*simloop::EventLoop::running());
    getters.push_back(g);
    bool cancelled = false;
    try {
      co_return co_await g;
    } catch (const CancelledError&) {
      cancelled = true;
    }
    getters.erase(std::remove(getters.begin(), getters.end(), g), getters.end());
    // The fix: an item handed over to a getter that will never return it goes back.
    if (fixed && cancelled && g.done() && !g.cancelled()) put(g.result());
    throw CancelledError();
  }
};

struct Tally {
  int produced = 0;
  int consumed = 0;
};

template <class Q>
Coro<void> queue_consumer(Q* q, Tally* tally) {
  while (true) {
    const int item = co_await q->get();
    if (item < 0) co_return;  // the end-of-work sentinel
    ++tally->consumed;
  }
}

inline sim::Scenario queue_workload(Variant v) {
  return [v](sim::SimLoop& loop) -> Coro<void> {
    auto& tally = loop.keep<Tally>();
    std::vector<Task<void>> consumers;
    if (v == Variant::Simloop) {
      auto& q = loop.keep<simloop::Queue<int>>();
      for (int i = 0; i < 3; ++i) consumers.push_back(loop.create_task(queue_consumer(&q, &tally)));
      for (int i = 0; i < 6; ++i) {
        q.put_nowait(i);
        ++tally.produced;
        co_await simloop::sleep(1ms);
      }
      for (int i = 0; i < 3; ++i) q.put_nowait(-1);
      co_await wait_all(std::move(consumers));
      while (!q.empty()) {
        if (q.get_nowait() >= 0) ++tally.consumed;  // left for consumers that were cancelled
      }
    } else {
      auto& q = loop.keep<HandoffQueue>();
      q.fixed = v == Variant::Fixed;
      for (int i = 0; i < 3; ++i) consumers.push_back(loop.create_task(queue_consumer(&q, &tally)));
      for (int i = 0; i < 6; ++i) {
        q.put(i);
        ++tally.produced;
        co_await simloop::sleep(1ms);
      }
      for (int i = 0; i < 3; ++i) q.put(-1);
      co_await wait_all(std::move(consumers));
      for (int item : q.items) {
        if (item >= 0) ++tally.consumed;
      }
    }
    check(tally.consumed == tally.produced, "items lost: " + std::to_string(tally.produced) + " put, " +
                                                std::to_string(tally.consumed) + " taken or still queued");
  };
}

// ---- 5. gather: when the gathering task is cancelled after every child has
// finished, the cancel reaches no child; the buggy gather then reports
// success (returns the results) and the caller's cancel is swallowed.

inline Coro<int> child(int k) {
  co_await simloop::sleep(std::chrono::milliseconds(k));
  co_return k;
}

inline Coro<int> user_gather(std::vector<Task<int>> children, bool fixed) {
  int sum = 0;
  for (Task<int>& c : children) {
    bool cancelled = false;
    try {
      sum += co_await c;
    } catch (const CancelledError&) {
      cancelled = true;
    }
    if (!cancelled) continue;
    bool any = false;
    for (Task<int>& other : children) {
      if (other.cancel()) any = true;
    }
    if (any || fixed) throw CancelledError();
    // No child took the cancel: the bug calls that success.
    for (Task<int>& other : children) {
      if (!other.cancelled()) sum += other.result();
    }
    co_return sum;
  }
  co_return sum;
}

inline Coro<void> gathering_task(Variant v, std::vector<Task<int>> children) {
  if (v == Variant::Simloop) {
    std::vector<int> results = co_await simloop::gather(std::move(children));
    (void)results;
  } else {
    co_await user_gather(std::move(children), v == Variant::Fixed);
  }
}

// Main owns the children too: a gather that failed at its first cancelled
// child leaves the others running, and main waits for them at the end.
inline sim::Scenario gather_workload(Variant v) {
  return [v](sim::SimLoop& loop) -> Coro<void> {
    std::vector<Task<void>> gatherers;
    std::vector<Task<int>> all;
    for (int i = 0; i < 2; ++i) {
      std::vector<Task<int>> children;
      for (int k = 1; k <= 3; ++k) children.push_back(loop.create_task(child(k)));
      all.insert(all.end(), children.begin(), children.end());
      gatherers.push_back(loop.create_task(gathering_task(v, std::move(children))));
    }
    co_await wait_all(std::move(gatherers));
    co_await wait_all(std::move(all));
  };
}

// ---- 6. wait_for: when the caller is cancelled just as the inner task
// completes, the buggy wait_for returns the result and swallows the
// caller's cancel (asyncio's wait_for did until 3.12, gh-86296).

inline Coro<int> user_wait_for(Task<int> inner, Duration timeout, bool fixed) {
  bool cancelled = false;
  std::vector<Task<int>> awaited;
  awaited.push_back(inner);
  try {
    co_await simloop::wait(std::move(awaited), timeout);
  } catch (const CancelledError&) {
    cancelled = true;
  }
  if (cancelled) {
    if (!fixed && inner.done() && !inner.cancelled()) co_return inner.result();
    inner.cancel();
    throw CancelledError();
  }
  if (!inner.done()) {
    inner.cancel();
    throw simloop::TimeoutError("user_wait_for: timed out");
  }
  co_return inner.result();
}

inline Coro<void> waiting_task(Variant v, Task<int> inner) {
  try {
    if (v == Variant::Simloop) {
      (void)co_await simloop::wait_for(inner, 10ms);
    } else {
      (void)co_await user_wait_for(inner, 10ms, v == Variant::Fixed);
    }
  } catch (const simloop::TimeoutError&) {
    // Busy callbacks can make the inner task late: timing out is wait_for's job.
  }
}

// Main owns the inner tasks too, and waits for those a cancel or a timeout
// left cancelling.
inline sim::Scenario wait_for_workload(Variant v) {
  return [v](sim::SimLoop& loop) -> Coro<void> {
    std::vector<Task<void>> waiters;
    std::vector<Task<int>> inners;
    for (int k = 1; k <= 3; ++k) {
      inners.push_back(loop.create_task(child(k)));
      waiters.push_back(loop.create_task(waiting_task(v, inners.back())));
    }
    co_await wait_all(std::move(waiters));
    co_await wait_all(std::move(inners));
  };
}

// ---- 7. sleep: the timer sets the result of the sleep's future even when
// the sleeping task was cancelled in the same iteration, before the timer
// ran (asyncio's sleep uses _set_result_unless_cancelled for this).

inline Coro<void> user_sleep(Duration d, bool fixed) {
  simloop::EventLoop& loop = *simloop::EventLoop::running();
  Future<void> done = new_future();
  auto wake = [done, fixed]() mutable {
    if (fixed && done.done()) return;
    done.set_result();  // raises InvalidStateError on a cancelled future
  };
  simloop::TimerHandleRef timer = loop.call_later(d, std::move(wake));
  bool cancelled = false;
  try {
    co_await done;
  } catch (const CancelledError&) {
    cancelled = true;
  }
  timer.cancel();
  if (cancelled) throw CancelledError();
}

inline Coro<void> sleeper(Variant v, int k) {
  for (int i = 0; i < 3; ++i) {
    const Duration d = std::chrono::milliseconds(k + i);
    if (v == Variant::Simloop) {
      co_await simloop::sleep(d);
    } else {
      co_await user_sleep(d, v == Variant::Fixed);
    }
  }
}

inline sim::Scenario sleep_workload(Variant v) {
  return [v](sim::SimLoop& loop) -> Coro<void> {
    std::vector<Task<void>> sleepers;
    for (int k = 1; k <= 3; ++k) sleepers.push_back(loop.create_task(sleeper(v, k)));
    co_await wait_all(std::move(sleepers));
  };
}

// ---- the suite ------------------------------------------------------------------

struct Bug {
  const char* name;
  const char* primitive;  // simloop's primitive the same workload uses
  sim::Scenario (*workload)(Variant);
  const char* symptom;  // what its failure report must say
};

inline const std::vector<Bug>& bugs() {
  static const std::vector<Bug> all = {
      {"lock_drops_grant", "Lock", lock_workload, "deadlock"},
      {"semaphore_drops_permit", "Semaphore", semaphore_workload, "a permit was lost"},
      {"condition_swallows_notify", "Condition", condition_workload, "deadlock"},
      {"queue_loses_handed_item", "Queue", queue_workload, "items lost"},
      {"gather_cancel_reports_success", "gather", gather_workload, "swallowed a cancel request"},
      {"wait_for_swallows_cancel", "wait_for", wait_for_workload, "swallowed a cancel request"},
      {"sleep_sets_cancelled_future", "sleep", sleep_workload,
       "set_result: the future is already done (<Future cancelled>)"},
  };
  return all;
}

// The options of every suite run: injection alone (SIMLOOP_CANCEL=0.05 and
// its defaults), asyncio fidelity, swallowed cancels reported.
inline sim::RunnerOptions suite_options(sim::Strategy strategy, std::uint64_t runs,
                                        simloop::InjectionSet kinds = simloop::kAllInjections) {
  sim::RunnerOptions o;
  o.strategy = strategy;
  o.runs = runs;
  o.sim.cancel_probability = 0.05;
  o.sim.injection_kinds = kinds;
  o.report_swallowed_cancel = true;
  o.log = nullptr;
  return o;
}

}  // namespace injection_suite
