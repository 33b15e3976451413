// Properties of simloop's primitives (queues, locks, events, conditions,
// gather, wait_for, timeout, shield, TaskGroup), each over many generated
// schedules; rapidcheck draws the fidelity (asyncio or chaos) unless fixed.
// Several inject seeded cancellations, so cancellation lands anywhere.
#include <algorithm>
#include <chrono>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <simloop/properties/gtest.hpp>
#include <simloop/simloop.hpp>

#include "support/cancel_plan.hpp"

#include "support/raises.hpp"

using simloop_test::CancelAt;
using simloop_test::canceller;
using simloop_test::gen_cancels;

namespace {

using namespace std::chrono_literals;
using simloop::Coro;
using simloop::Duration;
using simloop::Task;
using simloop::sim::SimLoop;
using simloop::testing::raises;
using simloop::testing::raises_sync;
namespace props = simloop::properties;

Duration us(int n) { return std::chrono::microseconds(n); }

// sleep() as a coroutine (wait_for and timeout take awaitables that are
// futures or coroutines).
Coro<void> sleep_for(Duration d) { co_await simloop::sleep(d); }

// Awaits `t`; true when it ended cancelled.
template <class T>
Coro<bool> ended_cancelled(Task<T> t) {
  const auto cancelled = co_await raises<simloop::CancelledError>(t);
  co_return cancelled.has_value();
}

// ---- Queue: every item put is got exactly once ---------------------------------

Coro<void> producer(simloop::Queue<int>* q, std::vector<int>* put, int first, int count, int gap_us) {
  for (int i = 0; i < count; ++i) {
    co_await q->put(first + i);
    put->push_back(first + i);
    co_await simloop::sleep(us(gap_us));
  }
}

Coro<void> consumer(simloop::Queue<int>* q, std::vector<int>* got, int work_us) {
  for (;;) {
    const int v = co_await q->get();
    got->push_back(v);
    q->task_done();
    co_await simloop::sleep(us(work_us));
  }
}

}  // namespace

// Whatever consumers (and producers) are cancelled, at chosen instants or at
// any await (seeded injection), every item that was put is got exactly once
// or is still in the queue: none lost, none duplicated.
SIMLOOP_PROPERTY(PrimitiveProperty, QueueEveryItemPutIsGotExactlyOnce, 250, ()) {
  const long maxsize = *rc::gen::inRange<long>(0, 4);
  const int producers = *rc::gen::inRange(1, 4);
  const int consumers = *rc::gen::inRange(1, 5);
  const int items = *rc::gen::inRange(1, 12);
  const int gap_us = *rc::gen::inRange(0, 50);
  const int work_us = *rc::gen::inRange(0, 50);
  const auto plan = gen_cancels(static_cast<std::size_t>(consumers), 4, 600);
  props::PropertyOptions options;
  options.inject_cancellations(20'000, 2);
  props::run(
      [&](SimLoop& loop) -> Coro<void> {
        simloop::Queue<int> q(maxsize);
        std::vector<int> put, got;
        std::vector<Task<void>> prods, cons;
        for (int p = 0; p < producers; ++p)
          prods.push_back(loop.create_task(producer(&q, &put, p * 100, items, gap_us)));
        for (int c = 0; c < consumers; ++c) cons.push_back(loop.create_task(consumer(&q, &got, work_us)));
        Task<void> cancel_task = loop.create_task(canceller(&cons, plan));
        co_await ended_cancelled(cancel_task);
        // Long enough for every producer and consumer still running to be
        // done or blocked; then stop them all (producers may be blocked on
        // a full queue whose consumers were all cancelled).
        co_await simloop::sleep(20ms);
        for (auto& p : prods) p.cancel();
        for (auto& c : cons) c.cancel();
        for (auto& p : prods) co_await ended_cancelled(p);
        for (auto& c : cons) co_await ended_cancelled(c);
        std::vector<int> seen = got;
        while (!q.empty()) seen.push_back(q.get_nowait());
        std::sort(seen.begin(), seen.end());
        std::sort(put.begin(), put.end());
        SIMLOOP_PROP_ASSERT(seen == put, "put " << put.size() << " items, got/left " << seen.size());
        SIMLOOP_PROP_ASSERT(q.getters() == 0, "a cancelled getter stayed queued");
        SIMLOOP_PROP_ASSERT(q.putters() == 0, "a cancelled putter stayed queued");
      },
      options);
}

namespace {

struct Inside {
  Inside(int* n, int* max) : n_(n) { *max = std::max(*max, ++*n_); }
  ~Inside() { --*n_; }
  Inside(const Inside&) = delete;
  Inside& operator=(const Inside&) = delete;
  int* n_;
};

template <class P>
Coro<void> section_user(P* prim, int rounds, int hold_us, int* inside, int* max_inside, int* completed) {
  for (int r = 0; r < rounds; ++r) {
    auto held = co_await prim->hold();
    Inside in(inside, max_inside);
    co_await simloop::sleep(us(hold_us));
  }
  ++*completed;
}

// Tasks take `prim` around a critical section, some cancelled by the plan or
// by injection. Checks the bound, that every task not cancelled finished all
// its rounds (no waiter stranded), and returns nothing: the caller checks
// the primitive's final state.
template <class P>
Coro<void> bounded_section(SimLoop* loop, P* prim, int bound, int tasks, int rounds, int hold_us,
                           std::vector<CancelAt> plan) {
  int inside = 0, max_inside = 0, completed = 0;
  std::vector<Task<void>> users;
  for (int i = 0; i < tasks; ++i) {
    users.push_back(loop->create_task(section_user(prim, rounds, hold_us, &inside, &max_inside, &completed)));
  }
  Task<void> cancel_task = loop->create_task(canceller(&users, std::move(plan)));
  int cancelled = 0;
  for (auto& u : users) cancelled += co_await ended_cancelled(u) ? 1 : 0;
  co_await ended_cancelled(cancel_task);
  SIMLOOP_PROP_ASSERT(max_inside <= bound, max_inside << " tasks inside at once, bound " << bound);
  SIMLOOP_PROP_ASSERT(completed + cancelled == tasks, completed << " completed + " << cancelled << " cancelled of "
                                                                << tasks << ": a waiter was stranded");
}

}  // namespace

// A lock is never held by two tasks, however tasks are cancelled; it ends
// free with no waiter, and every task not cancelled got through.
SIMLOOP_PROPERTY(PrimitiveProperty, LockIsNeverHeldByTwoTasks, 250, ()) {
  const int tasks = *rc::gen::inRange(1, 6);
  const int rounds = *rc::gen::inRange(1, 4);
  const int hold_us = *rc::gen::inRange(0, 100);
  const auto plan = gen_cancels(static_cast<std::size_t>(tasks), 3, 800);
  props::PropertyOptions options;
  options.inject_cancellations(20'000, 2);
  props::run(
      [&](SimLoop& loop) -> Coro<void> {
        simloop::Lock lock;
        co_await bounded_section(&loop, &lock, 1, tasks, rounds, hold_us, plan);
        SIMLOOP_PROP_ASSERT(!lock.locked(), "the lock ended held");
        SIMLOOP_PROP_ASSERT(lock.waiters() == 0, "the lock ended with waiters");
      },
      options);
}

// A semaphore never lets more than its bound in, never strands a waiter
// while permits are free (every task not cancelled gets through), and ends
// with all its permits back.
SIMLOOP_PROPERTY(PrimitiveProperty, SemaphoreNeverExceedsItsBoundNorStrandsAWaiter, 250, ()) {
  const int permits = *rc::gen::inRange(1, 4);
  const int tasks = *rc::gen::inRange(1, 8);
  const int rounds = *rc::gen::inRange(1, 4);
  const int hold_us = *rc::gen::inRange(0, 100);
  const auto plan = gen_cancels(static_cast<std::size_t>(tasks), 3, 800);
  const bool bounded = *rc::gen::arbitrary<bool>();
  props::PropertyOptions options;
  options.inject_cancellations(20'000, 2);
  props::run(
      [&](SimLoop& loop) -> Coro<void> {
        std::unique_ptr<simloop::Semaphore> sem = bounded ? std::make_unique<simloop::BoundedSemaphore>(permits)
                                                          : std::make_unique<simloop::Semaphore>(permits);
        co_await bounded_section(&loop, sem.get(), permits, tasks, rounds, hold_us, plan);
        SIMLOOP_PROP_ASSERT(sem->value() == permits,
                            "the semaphore ended with " << sem->value() << " permits of " << permits);
        SIMLOOP_PROP_ASSERT(sem->waiters() == 0, "the semaphore ended with waiters");
      },
      options);
}

// A BoundedSemaphore refuses a release beyond its initial value and its
// counter never exceeds it, whatever the order of acquires and releases.
SIMLOOP_PROPERTY(PrimitiveProperty, BoundedSemaphoreNeverExceedsItsInitialValue, 200, ()) {
  const int bound = *rc::gen::inRange(1, 4);
  const auto ops = *rc::gen::container<std::vector<bool>>(rc::gen::arbitrary<bool>());  // true: acquire
  props::run([&](SimLoop&) -> Coro<void> {
    simloop::BoundedSemaphore sem(bound);
    long held = 0;
    for (bool acquire : ops) {
      if (acquire) {
        if (sem.value() > 0) {
          co_await sem.acquire();
          ++held;
        }
      } else {
        const bool refused = raises_sync<simloop::TooManyReleasesError>([&] { sem.release(); }).has_value();
        SIMLOOP_PROP_ASSERT(refused == (held == 0), "release with " << held << " held: refused=" << refused);
        if (!refused) --held;
      }
      SIMLOOP_PROP_ASSERT(sem.value() <= bound && sem.value() == bound - held, "value " << sem.value());
      co_await simloop::sleep(Duration{0});
    }
  });
}

namespace {
Coro<void> event_waiter(simloop::Event* e, int* returned_before_set, const bool* set_done) {
  co_await e->wait();
  if (!*set_done) ++*returned_before_set;
}
Coro<void> event_setter(simloop::Event* e, int delay_us, bool* set_done) {
  co_await simloop::sleep(us(delay_us));
  *set_done = true;
  e->set();
}
}  // namespace

// A notify is never lost: once an Event is set, every waiter that was not
// cancelled returns, even when other waiters are cancelled around the set;
// and no waiter returns before the set.
SIMLOOP_PROPERTY(PrimitiveProperty, EventSetWakesEveryWaiterNotCancelled, 250, ()) {
  const int waiters = *rc::gen::inRange(1, 8);
  const int set_us = *rc::gen::inRange(0, 300);
  const auto plan = gen_cancels(static_cast<std::size_t>(waiters), 4, 400);
  props::run([&](SimLoop& loop) -> Coro<void> {
    simloop::Event e;
    bool set_done = false;
    int early = 0;
    std::vector<Task<void>> ws;
    for (int i = 0; i < waiters; ++i) ws.push_back(loop.create_task(event_waiter(&e, &early, &set_done)));
    Task<void> setter = loop.create_task(event_setter(&e, set_us, &set_done));
    Task<void> cancel_task = loop.create_task(canceller(&ws, plan));
    std::set<std::size_t> targeted;
    for (const auto& c : plan) targeted.insert(c.target);
    for (std::size_t i = 0; i < ws.size(); ++i) {
      const bool cancelled = co_await ended_cancelled(ws[i]);
      SIMLOOP_PROP_ASSERT(!cancelled || targeted.count(i) == 1, "waiter " << i << " was cancelled by nobody");
    }
    co_await setter;
    co_await ended_cancelled(cancel_task);
    SIMLOOP_PROP_ASSERT(early == 0, early << " waiter(s) returned before set()");
  });
}

namespace {
Coro<void> condition_waiter(simloop::Condition* c, int* entered, int* returned) {
  auto held = co_await c->hold();
  ++*entered;
  co_await c->wait();
  ++*returned;
}
Coro<void> wait_until(const int* value, int target) {
  while (*value < target) co_await simloop::sleep(Duration{0});
}
Coro<void> notifier(simloop::Condition* c, const int* entered, int waiters, int notifies, int gap_us) {
  co_await wait_until(entered, waiters);
  for (int i = 0; i < notifies; ++i) {
    co_await simloop::sleep(us(gap_us));
    auto held = co_await c->hold();
    c->notify(1);
  }
}
}  // namespace

// A Condition notification is never lost: a waiter notified and then
// cancelled passes it on, so after N notify(1) calls to W waiters of which C
// ended cancelled, at least min(N, W - C) waiters returned.
SIMLOOP_PROPERTY(PrimitiveProperty, ConditionNotifyIsNeverLost, 250, ()) {
  const int waiters = *rc::gen::inRange(1, 6);
  const int notifies = *rc::gen::inRange(1, 6);
  const int gap_us = *rc::gen::inRange(0, 50);
  const auto plan = gen_cancels(static_cast<std::size_t>(waiters), 3, 300);
  props::run([&](SimLoop& loop) -> Coro<void> {
    simloop::Condition cond;
    int entered = 0, returned = 0;
    std::vector<Task<void>> ws;
    for (int i = 0; i < waiters; ++i) ws.push_back(loop.create_task(condition_waiter(&cond, &entered, &returned)));
    co_await wait_until(&entered, waiters);
    Task<void> n = loop.create_task(notifier(&cond, &entered, waiters, notifies, gap_us));
    Task<void> cancel_task = loop.create_task(canceller(&ws, plan));
    co_await n;
    co_await ended_cancelled(cancel_task);
    co_await simloop::sleep(1ms);  // let every woken waiter re-acquire the lock and return
    int cancelled = 0;
    for (auto& w : ws) cancelled += w.cancelled() ? 1 : 0;
    SIMLOOP_PROP_ASSERT(returned >= std::min(notifies, waiters - cancelled),
                        returned << " returned after " << notifies << " notifications to " << waiters << " waiters, "
                                 << cancelled << " cancelled");
    {
      auto held = co_await cond.hold();
      cond.notify_all();
    }
    for (auto& w : ws) co_await ended_cancelled(w);
  });
}

namespace {
Coro<int> valued_child(int i, int delay_us) {
  co_await simloop::sleep(us(delay_us));
  co_return i * 10;
}
}  // namespace

// gather returns the children's results in argument order, whatever order
// they finish in.
SIMLOOP_PROPERTY(PrimitiveProperty, GatherReturnsResultsInArgumentOrder, 250, ()) {
  const auto delays = *rc::gen::container<std::vector<int>>(rc::gen::inRange(0, 500));
  props::run([&](SimLoop&) -> Coro<void> {
    std::vector<Coro<int>> children;
    for (std::size_t i = 0; i < delays.size(); ++i) children.push_back(valued_child(static_cast<int>(i), delays[i]));
    const std::vector<int> results = co_await simloop::gather(std::move(children));
    SIMLOOP_PROP_ASSERT(results.size() == delays.size());
    for (std::size_t i = 0; i < results.size(); ++i) {
      SIMLOOP_PROP_ASSERT(results[i] == static_cast<int>(i) * 10, "result " << i << " is " << results[i]);
    }
  });
}

// Cancelling a gather cancels every child not done yet; the gather then
// ends cancelled; a cancel that no child accepted leaves the results intact.
SIMLOOP_PROPERTY(PrimitiveProperty, GatherCancellationCancelsEveryPendingChild, 250, ()) {
  const auto delays = *rc::gen::nonEmpty(rc::gen::container<std::vector<int>>(rc::gen::inRange(0, 500)));
  const int cancel_us = *rc::gen::inRange(0, 600);
  props::run([&](SimLoop& loop) -> Coro<void> {
    std::vector<Task<int>> children;
    for (std::size_t i = 0; i < delays.size(); ++i) {
      children.push_back(loop.create_task(valued_child(static_cast<int>(i), delays[i])));
    }
    auto g = simloop::gather(children);
    co_await simloop::sleep(us(cancel_us));
    std::vector<bool> pending;
    for (auto& c : children) pending.push_back(!c.done());
    const bool accepted = g.cancel();
    const bool gather_cancelled = (co_await raises<simloop::CancelledError>(g)).has_value();
    SIMLOOP_PROP_ASSERT(gather_cancelled == accepted, "accepted=" << accepted << " cancelled=" << gather_cancelled);
    for (std::size_t i = 0; i < children.size(); ++i) {
      SIMLOOP_PROP_ASSERT(children[i].done(), "child " << i << " still pending after the gather ended");
      if (pending[i]) {
        SIMLOOP_PROP_ASSERT(children[i].cancelled(), "pending child " << i << " was not cancelled");
      } else {
        SIMLOOP_PROP_ASSERT(children[i].result() == static_cast<int>(i) * 10);
      }
    }
  });
}

namespace {
Coro<void> timed_producer(simloop::Queue<int>* q, std::vector<int> gaps_us, bool* done) {
  for (std::size_t i = 0; i < gaps_us.size(); ++i) {
    co_await simloop::sleep(us(gaps_us[i]));
    q->put_nowait(static_cast<int>(i));
  }
  *done = true;
}
}  // namespace

// wait_for never drops a completed result: items fetched with
// wait_for(q.get(), t) are each got exactly once or left in the queue, even
// when the timeout and the item arrive in the same iteration.
SIMLOOP_PROPERTY(PrimitiveProperty, WaitForNeverDropsACompletedResult, 250, ()) {
  const auto gaps = *rc::gen::container<std::vector<int>>(rc::gen::inRange(0, 300));
  const int timeout_us = *rc::gen::inRange(1, 300);
  props::run([&](SimLoop& loop) -> Coro<void> {
    simloop::Queue<int> q;
    bool producer_done = false;
    std::vector<int> got;
    Task<void> p = loop.create_task(timed_producer(&q, gaps, &producer_done));
    while (!producer_done) {
      try {
        got.push_back(co_await simloop::wait_for(q.get(), us(timeout_us)));
      } catch (const simloop::TimeoutError&) {
      }
    }
    co_await p;
    while (!q.empty()) got.push_back(q.get_nowait());
    std::sort(got.begin(), got.end());
    SIMLOOP_PROP_ASSERT(got.size() == gaps.size(), got.size() << " items seen of " << gaps.size());
    for (std::size_t i = 0; i < got.size(); ++i) SIMLOOP_PROP_ASSERT(got[i] == static_cast<int>(i), "item " << i);
  });
}

namespace {
// 1: the body finished in time; 2: TimeoutError.
Coro<int> wait_for_sleep(int body_us, int timeout_us) {
  const bool timed_out =
      (co_await raises<simloop::TimeoutError>(simloop::wait_for(sleep_for(us(body_us)), us(timeout_us)))).has_value();
  co_return timed_out ? 2 : 1;
}
}  // namespace

// wait_for never swallows a cancellation: a task cancelled from outside
// while inside wait_for ends cancelled, whether or not the timeout fired in
// the same iteration.
SIMLOOP_PROPERTY(PrimitiveProperty, WaitForNeverSwallowsACancellation, 300, ()) {
  const int body_us = *rc::gen::inRange(0, 400);
  const int timeout_us = *rc::gen::inRange(1, 400);
  const int cancel_us = *rc::gen::inRange(0, 400);
  props::run([&](SimLoop& loop) -> Coro<void> {
    Task<int> t = loop.create_task(wait_for_sleep(body_us, timeout_us));
    co_await simloop::sleep(us(cancel_us));
    const bool accepted = t.cancel();
    const bool cancelled = co_await ended_cancelled(t);
    SIMLOOP_PROP_ASSERT(cancelled == accepted, "cancel accepted=" << accepted << " but task cancelled=" << cancelled);
    if (!cancelled) SIMLOOP_PROP_ASSERT(t.result() == (body_us < timeout_us ? 1 : 2) || t.result() == 2);
  });
}

namespace {
Coro<void> group_child(int kind, int delay_us, int index) {
  co_await simloop::sleep(us(delay_us));
  if (kind == 0) throw std::runtime_error("child " + std::to_string(index));
  if (kind == 2) co_await simloop::sleep(std::chrono::hours(1));  // only a sibling's failure ends it
}
std::string message_of(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "<not a std::exception>";
  }
}
}  // namespace

// TaskGroup: the first failure cancels every sibling still running, and the
// ExceptionGroup reports every child that failed, exactly once.
SIMLOOP_PROPERTY(PrimitiveProperty, TaskGroupCancelsEverySiblingAndReportsEveryError, 250, ()) {
  // kind 0: fails, 1: succeeds, 2: runs until cancelled. At least one fails.
  auto kinds = *rc::gen::nonEmpty(rc::gen::container<std::vector<int>>(rc::gen::inRange(0, 3)));
  kinds[0] = 0;
  const auto delays = *rc::gen::container<std::vector<int>>(kinds.size(), rc::gen::inRange(0, 200));
  props::run([&](SimLoop&) -> Coro<void> {
    std::vector<Task<void>> children;
    std::vector<std::string> reported;
    auto start_children = [&](simloop::TaskGroup& tg) -> Coro<void> {
      for (std::size_t i = 0; i < kinds.size(); ++i) {
        children.push_back(tg.create_task(group_child(kinds[i], delays[i], static_cast<int>(i))));
      }
      co_return;
    };
    const auto group = co_await raises<simloop::ExceptionGroup>(simloop::with_task_group(start_children));
    SIMLOOP_PROP_ASSERT(group, "no ExceptionGroup although a child failed");
    for (const auto& e : group->exceptions()) reported.push_back(message_of(e));
    std::multiset<std::string> expected;
    for (std::size_t i = 0; i < children.size(); ++i) {
      SIMLOOP_PROP_ASSERT(children[i].done(), "child " << i << " still pending after the group");
      if (kinds[i] == 2) SIMLOOP_PROP_ASSERT(children[i].cancelled(), "endless child " << i << " was not cancelled");
      if (!children[i].cancelled() && children[i].exception()) expected.insert(message_of(children[i].exception()));
    }
    SIMLOOP_PROP_ASSERT(!expected.empty());
    SIMLOOP_PROP_ASSERT(std::multiset<std::string>(reported.begin(), reported.end()) == expected,
                        reported.size() << " errors reported, " << expected.size() << " children failed");
  });
}

// timeout(d) never fires before its deadline, and always fires when the
// body outlasts it (sleep(s) with s > d).
SIMLOOP_PROPERTY(PrimitiveProperty, TimeoutNeverFiresEarlyAndAlwaysWhenTheBodyOutlastsIt, 300, ()) {
  const int body_us = *rc::gen::inRange(0, 1000);
  const int timeout_us = *rc::gen::inRange(1, 1000);
  props::run([&](SimLoop& loop) -> Coro<void> {
    const Duration start = loop.time();
    const bool timed_out =
        (co_await raises<simloop::TimeoutError>(simloop::timeout(us(timeout_us), sleep_for(us(body_us))))).has_value();
    if (timed_out) {
      SIMLOOP_PROP_ASSERT(loop.time() >= start + us(timeout_us), "timed out early");
    } else {
      SIMLOOP_PROP_ASSERT(loop.time() >= start + us(body_us), "the body returned early");
    }
    if (body_us > timeout_us) SIMLOOP_PROP_ASSERT(timed_out, "the body outlasted the timeout but it did not fire");
  });
}

namespace {
Coro<int> shielded_waiter(Task<int> inner) { co_return co_await simloop::shield(inner); }
}  // namespace

// shield: cancelling the task awaiting a shielded task never cancels the
// inner one, which still delivers its value.
SIMLOOP_PROPERTY(PrimitiveProperty, ShieldKeepsTheInnerTaskRunning, 300, ()) {
  const int inner_us = *rc::gen::inRange(0, 400);
  const int cancel_us = *rc::gen::inRange(0, 400);
  props::run([&](SimLoop& loop) -> Coro<void> {
    Task<int> inner = loop.create_task(valued_child(7, inner_us));
    Task<int> outer = loop.create_task(shielded_waiter(inner));
    co_await simloop::sleep(us(cancel_us));
    const bool accepted = outer.cancel();
    const bool outer_cancelled = co_await ended_cancelled(outer);
    SIMLOOP_PROP_ASSERT(outer_cancelled == accepted);
    const int v = co_await inner;
    SIMLOOP_PROP_ASSERT(v == 70 && !inner.cancelled(), "the shielded task was disturbed");
    if (!outer_cancelled) SIMLOOP_PROP_ASSERT(outer.result() == 70);
  });
}
