// Reusable invariant checkers for simloop's primitives, for unit tests and
// for property tests that run them under many schedules.
//
// Each checker builds a small concurrent scenario on the loop it is given
// (any EventLoop: a SimLoop with any Scheduler), delivers cancellations at
// the chosen points, runs it to completion and checks an invariant:
//  - check_queue_exactly_once: producers and consumers over a bounded
//    Queue, consumers cancelled at chosen points; every item put is got
//    exactly once (by a consumer, or drained at the end), no item is left
//    stranded while a consumer waits (no lost wakeup), the queue keeps no
//    cancelled waiter, and task_done/join balance.
//  - check_lock_mutual_exclusion: tasks take a Lock around a critical
//    section; never two inside at once; the lock ends free with no waiter;
//    every task not cancelled finishes all its rounds (no stranded waiter).
//  - check_semaphore_bound: the same with a Semaphore of k permits: never
//    more than k inside; the counter ends back at k.
// A cancellation point {task, after, via_callback, delay} cancels task number
// `task` after the canceller task has slept `delay`, then yielded `after` times (sleep(0): one
// loop iteration each). The canceller is created after the workers, so in
// each iteration it runs after their steps: a direct cancel lands in the
// window between a wakeup (a release, a put) and the woken task's next step,
// where primitives lose wakeups unless they hand them on. With via_callback
// the cancel is a plain callback (call_soon(task.cancel)) one iteration later.
// Each returns a CheckResult whose `message` explains the first violation.
#pragma once

#include <algorithm>
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <simloop/simloop.hpp>

namespace simloop::testing {

struct CancelPoint {
  std::size_t task;           // index of the task to cancel (consumers for the queue)
  std::size_t after;          // iterations to wait (after `delay`) before cancelling
  bool via_callback = false;  // cancel from a call_soon callback instead of the canceller's step
  Duration delay{0};          // virtual time to sleep first (iterations alone never advance time)
};

struct CheckResult {
  bool ok = true;
  std::string message;
  std::size_t max_inside = 0;  // lock / semaphore: the most tasks inside at once
  std::size_t cancelled = 0;   // tasks that ended cancelled
  std::vector<int> got;        // queue: items got by consumers, in order
  std::vector<int> drained;    // queue: items left, drained at the end
  void fail(std::string m) {
    if (ok) message = std::move(m);
    ok = false;
  }
};

namespace detail {
// Cancels `t` after `after` iterations, from a plain callback.
template <class T>
Coro<void> cancel_later(Task<T> t, CancelPoint cp) {
  if (cp.delay > Duration{0}) co_await sleep(cp.delay);
  for (std::size_t i = 0; i < cp.after; ++i) co_await sleep(Duration{0});
  if (cp.via_callback) {
    EventLoop::running_or_throw("cancel_later").call_soon([t] { t.cancel(); });
  } else {
    t.cancel();
  }
}
}  // namespace detail

// ---- queue: every item got exactly once ------------------------------------

struct QueueScenario {
  std::size_t producers = 2;
  std::size_t consumers = 3;
  std::size_t items_per_producer = 5;
  long maxsize = 2;
  Duration produce_gap{0};  // sleep between puts (0: one iteration)
  std::vector<CancelPoint> cancels;
};

inline CheckResult check_queue_exactly_once(EventLoop& loop, const QueueScenario& s) {
  CheckResult r;
  Queue<int> q(s.maxsize);
  std::vector<int> put_items;
  auto producer = [&](std::size_t p) -> Coro<void> {
    for (std::size_t i = 0; i < s.items_per_producer; ++i) {
      int item = static_cast<int>(p * 1000 + i);
      co_await q.put(item);
      put_items.push_back(item);
      co_await sleep(s.produce_gap);
    }
  };
  auto consumer = [&]() -> Coro<void> {
    for (;;) {
      int item = 0;
      try {
        item = co_await q.get();
      } catch (const QueueShutDown&) {
        co_return;
      }
      r.got.push_back(item);
      q.task_done();
      co_await sleep(Duration{0});
    }
  };
  auto main = [&]() -> Coro<void> {
    std::vector<Task<void>> producers;
    std::vector<Task<void>> consumers;
    for (std::size_t p = 0; p < s.producers; ++p) producers.push_back(create_task(producer(p)));
    for (std::size_t c = 0; c < s.consumers; ++c) consumers.push_back(create_task(consumer()));
    std::vector<Task<void>> cancellers;
    for (const CancelPoint& cp : s.cancels) {
      if (cp.task < consumers.size()) cancellers.push_back(create_task(detail::cancel_later(consumers[cp.task], cp)));
    }
    // Keep producers going even if every consumer was cancelled.
    auto all_done = [](const std::vector<Task<void>>& ts) {
      return std::all_of(ts.begin(), ts.end(), [](const Task<void>& t) { return t.done(); });
    };
    while (!all_done(producers)) {
      co_await sleep(std::chrono::milliseconds(1));
      if (all_done(consumers)) {
        while (!q.empty()) {
          r.drained.push_back(q.get_nowait());
          q.task_done();
        }
      }
    }
    for (auto& t : cancellers) co_await t;
    // Quiescent point: a consumer still waiting while an item sits in the
    // queue means a wakeup was lost (e.g. a woken getter was cancelled and
    // did not pass it on).
    co_await sleep(std::chrono::milliseconds(1));
    co_await sleep(std::chrono::milliseconds(1));
    if (!q.empty() && q.getters() > 0) {
      r.fail(fmt::format("{} items stranded in the queue while {} getters wait", q.qsize(), q.getters()));
    }
    q.shutdown(false);  // consumers take what is left, then stop
    co_await gather(return_exceptions, consumers);
    while (!q.empty()) {
      r.drained.push_back(q.get_nowait());
      q.task_done();
    }
    co_await q.join();
    for (auto& t : consumers) r.cancelled += t.cancelled() ? 1 : 0;
  };
  loop.run_until_complete(main());

  std::vector<int> seen = r.got;
  seen.insert(seen.end(), r.drained.begin(), r.drained.end());
  std::sort(seen.begin(), seen.end());
  std::vector<int> expected = put_items;
  std::sort(expected.begin(), expected.end());
  if (expected.size() != s.producers * s.items_per_producer) {
    r.fail(fmt::format("only {} of {} items were put", expected.size(), s.producers * s.items_per_producer));
  }
  if (std::adjacent_find(seen.begin(), seen.end()) != seen.end()) r.fail("an item was got twice");
  if (seen != expected) r.fail(fmt::format("items got {} != items put {}", seen.size(), expected.size()));
  if (q.getters() != 0 || q.putters() != 0) {
    r.fail(fmt::format("waiters left in the queue: {} getters, {} putters", q.getters(), q.putters()));
  }
  if (q.unfinished_tasks() != 0) r.fail(fmt::format("{} unfinished tasks after join", q.unfinished_tasks()));
  return r;
}

// ---- lock / semaphore: bounded critical section ---------------------------

struct LockScenario {
  std::size_t tasks = 3;
  std::size_t rounds = 2;
  Duration hold{std::chrono::milliseconds(1)};  // time inside the critical section
  std::vector<CancelPoint> cancels;
};

struct SemaphoreScenario {
  long permits = 2;
  std::size_t tasks = 4;
  std::size_t rounds = 2;
  Duration hold{std::chrono::milliseconds(1)};
  std::vector<CancelPoint> cancels;
};

namespace detail {
// Runs `tasks` workers that enter a section guarded by acquire()/release()
// of `prim`, checking at most `bound` inside at once.
template <class P>
CheckResult check_bounded_section(EventLoop& loop, P& prim, std::size_t bound, std::size_t tasks, std::size_t rounds,
                                  Duration hold, const std::vector<CancelPoint>& cancels) {
  CheckResult r;
  std::size_t inside = 0;
  std::vector<std::size_t> finished_rounds(tasks, 0);
  auto worker = [&](std::size_t id) -> Coro<void> {
    for (std::size_t i = 0; i < rounds; ++i) {
      co_await prim.acquire();
      ++inside;
      r.max_inside = std::max(r.max_inside, inside);
      if (inside > bound) r.fail(fmt::format("{} tasks inside a section bounded by {}", inside, bound));
      std::exception_ptr error;
      try {
        co_await sleep(hold);
      } catch (const CancelledError&) {
        error = std::current_exception();
      }
      --inside;
      prim.release();
      if (error) std::rethrow_exception(error);
      ++finished_rounds[id];
    }
  };
  auto main = [&]() -> Coro<void> {
    std::vector<Task<void>> workers;
    for (std::size_t i = 0; i < tasks; ++i) workers.push_back(create_task(worker(i)));
    std::vector<Task<void>> cancellers;
    for (const CancelPoint& cp : cancels) {
      if (cp.task < workers.size()) cancellers.push_back(create_task(cancel_later(workers[cp.task], cp)));
    }
    co_await gather(return_exceptions, workers);
    for (auto& t : cancellers) co_await t;
    for (std::size_t i = 0; i < tasks; ++i) {
      if (workers[i].cancelled()) {
        ++r.cancelled;
      } else if (finished_rounds[i] != rounds) {
        r.fail(fmt::format("task {} finished {} of {} rounds", i, finished_rounds[i], rounds));
      }
    }
  };
  try {
    loop.run_until_complete(main());
  } catch (const DeadlockError& e) {
    r.fail(fmt::format("deadlock (a waiter was stranded): {}", e.what()));
  }
  if (inside != 0) r.fail(fmt::format("{} tasks still inside at the end", inside));
  if (prim.waiters() != 0) r.fail(fmt::format("{} waiters left", prim.waiters()));
  return r;
}
}  // namespace detail

inline CheckResult check_lock_mutual_exclusion(EventLoop& loop, const LockScenario& s) {
  Lock lock;
  CheckResult r = detail::check_bounded_section(loop, lock, 1, s.tasks, s.rounds, s.hold, s.cancels);
  if (lock.locked()) r.fail("the lock is still held at the end");
  return r;
}

inline CheckResult check_semaphore_bound(EventLoop& loop, const SemaphoreScenario& s) {
  Semaphore sem(s.permits);
  CheckResult r = detail::check_bounded_section(loop, sem, static_cast<std::size_t>(s.permits), s.tasks, s.rounds,
                                                s.hold, s.cancels);
  if (sem.value() != s.permits) r.fail(fmt::format("the semaphore ends at {} of {} permits", sem.value(), s.permits));
  return r;
}

}  // namespace simloop::testing
