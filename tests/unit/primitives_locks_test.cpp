// Event, Lock, Semaphore, BoundedSemaphore, Condition, Barrier: every
// operation, every misuse error, and cancellation at each await point.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <simloop/simloop.hpp>

#include "support/primitive_checkers.hpp"
#include "support/raises.hpp"

using namespace std::chrono_literals;
using simloop::Coro;
using simloop::Future;
using simloop::Task;
using simloop::sim::SimLoop;
using simloop::testing::raises;

namespace {
// Runs a body coroutine built by `make` to completion on a fresh SimLoop.
template <class F>
void run(SimLoop& loop, F make) {
  loop.run_until_complete(make());
}
}  // namespace

// ---- Lock --------------------------------------------------------------------

TEST(PrimitivesLock, AcquireReleaseAndFifoOrder) {
  SimLoop loop;
  simloop::Lock lock;
  std::vector<std::string> log;
  auto worker = [&](std::string name) -> Coro<void> {
    co_await lock.acquire();
    log.push_back(name + " in");
    co_await simloop::sleep(1ms);
    log.push_back(name + " out");
    lock.release();
  };
  auto body = [&]() -> Coro<void> {
    EXPECT_FALSE(lock.locked());
    auto a = simloop::create_task(worker("a"));
    auto b = simloop::create_task(worker("b"));
    auto c = simloop::create_task(worker("c"));
    co_await simloop::sleep(0ms);
    EXPECT_TRUE(lock.locked());
    EXPECT_EQ(lock.waiters(), 2u);
    EXPECT_EQ(lock.repr(), "<Lock [locked, waiters:2]>");
    co_await a;
    co_await b;
    co_await c;
  };
  run(loop, body);
  EXPECT_EQ(log, (std::vector<std::string>{"a in", "a out", "b in", "b out", "c in", "c out"}));
  EXPECT_FALSE(lock.locked());
  EXPECT_EQ(lock.repr(), "<Lock [unlocked]>");
}

TEST(PrimitivesLock, ReleaseUnlockedRaises) {
  simloop::Lock lock;
  EXPECT_THROW(lock.release(), simloop::LockNotAcquiredError);
}

TEST(PrimitivesLock, HoldReleasesOnScopeExit) {
  SimLoop loop;
  simloop::Lock lock;
  auto body = [&]() -> Coro<void> {
    {
      auto held = co_await lock.hold();
      EXPECT_TRUE(lock.locked());
      EXPECT_TRUE(held.owns());
    }
    EXPECT_FALSE(lock.locked());
  };
  run(loop, body);
}

TEST(PrimitivesLock, ForeignLoopRaises) {
  SimLoop loop1;
  SimLoop loop2;
  simloop::Lock lock;
  auto hold_forever = [&]() -> Coro<void> { co_await lock.acquire(); };
  auto contend = [&]() -> Coro<void> {
    co_await lock.acquire();  // bound to loop1 by the first waiter
  };
  loop1.run_until_complete(hold_forever());
  auto waiter = loop1.create_task(contend());
  loop1.run_once();  // the waiter binds the lock to loop1
  EXPECT_THROW(loop2.run_until_complete(contend()), simloop::ForeignLoopError);
  lock.release();
  loop1.run_until_complete(Future<void>(waiter));
}

// A waiter woken by release() and cancelled before it runs passes the lock on:
// the lock is never held twice and never left free with a waiter stranded.
TEST(PrimitivesLock, WokenThenCancelledWaiterPassesTheLockOn) {
  SimLoop loop;
  simloop::Lock lock;
  std::vector<std::string> log;
  auto waiter = [&](std::string name) -> Coro<void> {
    co_await lock.acquire();
    log.push_back(name);
    lock.release();
  };
  auto body = [&]() -> Coro<void> {
    co_await lock.acquire();
    auto b = simloop::create_task(waiter("b"));
    auto c = simloop::create_task(waiter("c"));
    co_await simloop::sleep(0ms);
    lock.release();  // b's future is now done; b's wakeup is queued
    b.cancel();      // ... and b is cancelled before it runs
    co_await simloop::sleep(0ms);
    co_await simloop::sleep(0ms);
    EXPECT_TRUE(b.cancelled());
    co_await c;
  };
  run(loop, body);
  EXPECT_EQ(log, (std::vector<std::string>{"c"}));
  EXPECT_FALSE(lock.locked());
  EXPECT_EQ(lock.waiters(), 0u);
}

TEST(PrimitivesLock, CancelledWaiterWhileQueuedIsRemoved) {
  SimLoop loop;
  simloop::Lock lock;
  auto waiter = [&]() -> Coro<void> { co_await lock.acquire(); };
  auto body = [&]() -> Coro<void> {
    co_await lock.acquire();
    auto b = simloop::create_task(waiter());
    co_await simloop::sleep(0ms);
    EXPECT_EQ(lock.waiters(), 1u);
    b.cancel();
    co_await simloop::sleep(0ms);
    EXPECT_TRUE(b.cancelled());
    EXPECT_EQ(lock.waiters(), 0u);
    EXPECT_TRUE(lock.locked());
    lock.release();
    // Fast path again: nobody waits.
    co_await lock.acquire();
    lock.release();
  };
  run(loop, body);
}

TEST(PrimitivesLock, MutualExclusionUnderCancellationAtEveryPoint) {
  for (std::size_t at = 0; at < 24; ++at) {
    SimLoop loop;
    simloop::testing::LockScenario s;
    s.tasks = 3;
    s.rounds = 2;
    s.hold = at % 2 == 0 ? 0ms : 1ms;
    s.cancels = {{1, at / 2}, {2, at / 2 + 1, true}};
    auto r = simloop::testing::check_lock_mutual_exclusion(loop, s);
    EXPECT_TRUE(r.ok) << "cancel at " << at << ": " << r.message;
    EXPECT_EQ(r.max_inside, 1u);
  }
}

// ---- Event -------------------------------------------------------------------

TEST(PrimitivesEvent, SetWakesEveryWaiterAndClearResets) {
  SimLoop loop;
  simloop::Event ev;
  int woken = 0;
  auto waiter = [&]() -> Coro<void> {
    EXPECT_TRUE(co_await ev.wait());
    ++woken;
  };
  auto body = [&]() -> Coro<void> {
    auto a = simloop::create_task(waiter());
    auto b = simloop::create_task(waiter());
    co_await simloop::sleep(0ms);
    EXPECT_EQ(ev.waiters(), 2u);
    EXPECT_EQ(ev.repr(), "<Event [unset, waiters:2]>");
    ev.set();
    ev.set();  // idempotent
    EXPECT_TRUE(ev.is_set());
    co_await a;
    co_await b;
    EXPECT_EQ(ev.waiters(), 0u);
    co_await ev.wait();  // set: returns at once
    ev.clear();
    EXPECT_FALSE(ev.is_set());
    EXPECT_EQ(ev.repr(), "<Event [unset]>");
  };
  run(loop, body);
  EXPECT_EQ(woken, 2);
}

TEST(PrimitivesEvent, CancelledWaiterLeavesNoTrace) {
  SimLoop loop;
  simloop::Event ev;
  auto waiter = [&]() -> Coro<void> { co_await ev.wait(); };
  auto body = [&]() -> Coro<void> {
    auto a = simloop::create_task(waiter());
    co_await simloop::sleep(0ms);
    a.cancel();
    co_await simloop::sleep(0ms);
    EXPECT_TRUE(a.cancelled());
    EXPECT_EQ(ev.waiters(), 0u);
    // Set then cancelled before running: still cancelled, nothing to hand on.
    auto b = simloop::create_task(waiter());
    co_await simloop::sleep(0ms);
    ev.set();
    b.cancel();
    co_await simloop::sleep(0ms);
    co_await simloop::sleep(0ms);
    EXPECT_TRUE(b.cancelled());
    EXPECT_EQ(ev.waiters(), 0u);
  };
  run(loop, body);
}

// ---- Semaphore ---------------------------------------------------------------

TEST(PrimitivesSemaphore, CountsPermitsAndServesFifo) {
  SimLoop loop;
  simloop::Semaphore sem(2);
  std::vector<int> order;
  auto worker = [&](int i) -> Coro<void> {
    co_await sem.acquire();
    order.push_back(i);
    co_await simloop::sleep(1ms);
    sem.release();
  };
  auto body = [&]() -> Coro<void> {
    EXPECT_FALSE(sem.locked());
    EXPECT_EQ(sem.repr(), "<Semaphore [unlocked, value:2]>");
    std::vector<Task<void>> ts;
    for (int i = 0; i < 5; ++i) ts.push_back(simloop::create_task(worker(i)));
    co_await simloop::sleep(0ms);
    EXPECT_TRUE(sem.locked());
    EXPECT_EQ(sem.value(), 0);
    EXPECT_EQ(sem.waiters(), 3u);
    for (auto& t : ts) co_await t;
  };
  run(loop, body);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(sem.value(), 2);
}

TEST(PrimitivesSemaphore, NegativeValueRaises) {
  EXPECT_THROW(simloop::Semaphore(-1), simloop::InvalidArgumentError);
  EXPECT_NO_THROW(simloop::Semaphore(0));
}

TEST(PrimitivesSemaphore, BoundedSemaphoreReleasedTooManyTimesRaises) {
  SimLoop loop;
  simloop::BoundedSemaphore sem(1);
  EXPECT_THROW(sem.release(), simloop::TooManyReleasesError);
  auto body = [&]() -> Coro<void> {
    co_await sem.acquire();
    sem.release();
    EXPECT_THROW(sem.release(), simloop::TooManyReleasesError);
  };
  run(loop, body);
  EXPECT_EQ(sem.value(), 1);
}

// A waiter granted a permit then cancelled before running gives it back and
// the next waiter gets it: free permits never strand a waiter.
TEST(PrimitivesSemaphore, GrantedThenCancelledWaiterHandsThePermitOn) {
  SimLoop loop;
  simloop::Semaphore sem(0);
  std::vector<std::string> log;
  auto waiter = [&](std::string name) -> Coro<void> {
    co_await sem.acquire();
    log.push_back(name);
  };
  auto body = [&]() -> Coro<void> {
    auto b = simloop::create_task(waiter("b"));
    auto c = simloop::create_task(waiter("c"));
    co_await simloop::sleep(0ms);
    sem.release();  // granted to b
    b.cancel();     // b cancelled before it runs
    co_await simloop::sleep(0ms);
    co_await simloop::sleep(0ms);
    co_await c;
    EXPECT_TRUE(b.cancelled());
  };
  run(loop, body);
  EXPECT_EQ(log, (std::vector<std::string>{"c"}));
  EXPECT_EQ(sem.value(), 0);
  EXPECT_EQ(sem.waiters(), 0u);
}

TEST(PrimitivesSemaphore, BoundHoldsUnderCancellationAtEveryPoint) {
  for (std::size_t at = 0; at < 24; ++at) {
    SimLoop loop;
    simloop::testing::SemaphoreScenario s;
    s.permits = 2;
    s.tasks = 4;
    s.rounds = 2;
    s.hold = at % 2 == 0 ? 0ms : 1ms;
    s.cancels = {{0, at / 2}, {3, at / 2 + 2, true}};
    auto r = simloop::testing::check_semaphore_bound(loop, s);
    EXPECT_TRUE(r.ok) << "cancel at " << at << ": " << r.message;
    EXPECT_LE(r.max_inside, 2u);
    EXPECT_EQ(r.max_inside, 2u) << "two permits are used at once at some point";
  }
}

// ---- Condition ---------------------------------------------------------------

TEST(PrimitivesCondition, WaitNotifyAndNotifyAll) {
  SimLoop loop;
  simloop::Condition cond;
  std::vector<std::string> log;
  auto waiter = [&](std::string name) -> Coro<void> {
    co_await cond.acquire();
    co_await cond.wait();
    EXPECT_TRUE(cond.locked());
    log.push_back(name);
    cond.release();
  };
  auto body = [&]() -> Coro<void> {
    auto a = simloop::create_task(waiter("a"));
    auto b = simloop::create_task(waiter("b"));
    auto c = simloop::create_task(waiter("c"));
    co_await simloop::sleep(0ms);
    EXPECT_EQ(cond.waiters(), 3u);
    co_await cond.acquire();
    cond.notify(1);
    cond.release();
    co_await simloop::sleep(1ms);
    EXPECT_EQ(log, (std::vector<std::string>{"a"}));
    co_await cond.acquire();
    cond.notify_all();
    cond.release();
    co_await b;
    co_await c;
    co_await a;
  };
  run(loop, body);
  EXPECT_EQ(log, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(PrimitivesCondition, MisuseWithoutTheLockRaises) {
  SimLoop loop;
  simloop::Condition cond;
  EXPECT_THROW(cond.notify(), simloop::LockNotAcquiredError);
  EXPECT_THROW(cond.notify_all(), simloop::LockNotAcquiredError);
  auto body = [&]() -> Coro<void> { co_await cond.wait(); };
  EXPECT_THROW(loop.run_until_complete(body()), simloop::LockNotAcquiredError);
}

TEST(PrimitivesCondition, WaitForPredicateReturnsItsValue) {
  SimLoop loop;
  simloop::Condition cond;
  int value = 0;
  auto setter = [&]() -> Coro<void> {
    for (int i = 1; i <= 3; ++i) {
      co_await simloop::sleep(1ms);
      auto held = co_await cond.hold();
      value = i;
      cond.notify_all();
    }
  };
  auto body = [&]() -> Coro<int> {
    auto t = simloop::create_task(setter());
    auto held = co_await cond.hold();
    int got = co_await cond.wait_for([&] { return value >= 3 ? value : 0; });
    held.release();
    co_await t;
    co_return got;
  };
  EXPECT_EQ(loop.run_until_complete(body()), 3);
}

TEST(PrimitivesCondition, SharedLock) {
  SimLoop loop;
  simloop::Lock lock;
  simloop::Condition cond(lock);
  auto body = [&]() -> Coro<void> {
    co_await lock.acquire();
    EXPECT_TRUE(cond.locked());
    cond.release();
    EXPECT_FALSE(lock.locked());
  };
  run(loop, body);
}

// A notified waiter cancelled before it runs hands the notification on
// (CPython 3.13): the notify is not lost.
TEST(PrimitivesCondition, NotifiedThenCancelledWaiterHandsTheNotificationOn) {
  SimLoop loop;
  simloop::Condition cond;
  std::vector<std::string> log;
  auto waiter = [&](std::string name) -> Coro<void> {
    auto held = co_await cond.hold();
    std::exception_ptr error;
    try {
      co_await cond.wait();
    } catch (const simloop::CancelledError&) {
      error = std::current_exception();
    }
    EXPECT_TRUE(cond.locked()) << "wait re-acquires the lock even when cancelled";
    log.push_back(name + (error ? " cancelled" : " notified"));
    if (error) std::rethrow_exception(error);
  };
  auto body = [&]() -> Coro<void> {
    auto a = simloop::create_task(waiter("a"));
    auto b = simloop::create_task(waiter("b"));
    co_await simloop::sleep(0ms);
    co_await cond.acquire();
    cond.notify(1);  // a's future is done
    a.cancel();      // ... and a is cancelled before it runs
    cond.release();
    co_await simloop::sleep(1ms);
    co_await b;
    EXPECT_TRUE(a.cancelled());
  };
  run(loop, body);
  EXPECT_EQ(log, (std::vector<std::string>{"a cancelled", "b notified"}));
  EXPECT_FALSE(cond.locked());
}

// Cancelled while re-acquiring the lock: wait() still returns holding it.
TEST(PrimitivesCondition, CancelledWhileReacquiringStillHoldsTheLock) {
  SimLoop loop;
  simloop::Condition cond;
  bool held_after_cancel = false;
  auto waiter = [&]() -> Coro<void> {
    co_await cond.acquire();
    std::exception_ptr error;
    try {
      co_await cond.wait();
    } catch (const simloop::CancelledError&) {
      error = std::current_exception();
    }
    held_after_cancel = cond.locked();
    cond.release();
    if (error) std::rethrow_exception(error);
  };
  auto body = [&]() -> Coro<void> {
    auto a = simloop::create_task(waiter());
    co_await simloop::sleep(0ms);
    co_await cond.acquire();
    cond.notify();
    co_await simloop::sleep(0ms);  // a wakes, and waits for the lock we hold
    a.cancel();                    // cancelled inside the re-acquire
    co_await simloop::sleep(0ms);
    cond.release();
    EXPECT_TRUE(co_await raises<simloop::CancelledError>(a));
  };
  run(loop, body);
  EXPECT_TRUE(held_after_cancel);
  EXPECT_FALSE(cond.locked());
}

// ---- Barrier -----------------------------------------------------------------

TEST(PrimitivesBarrier, ReleasesAllPartiesWithDistinctIndices) {
  SimLoop loop;
  simloop::Barrier barrier(3);
  std::vector<std::size_t> indices;
  auto party = [&]() -> Coro<void> { indices.push_back(co_await barrier.wait()); };
  auto body = [&]() -> Coro<void> {
    EXPECT_EQ(barrier.parties(), 3u);
    auto a = simloop::create_task(party());
    auto b = simloop::create_task(party());
    co_await simloop::sleep(0ms);
    EXPECT_EQ(barrier.n_waiting(), 2u);
    EXPECT_EQ(barrier.repr(), "<Barrier [filling, waiters:2/3]>");
    co_await party();
    co_await a;
    co_await b;
    EXPECT_EQ(barrier.n_waiting(), 0u);
    // Reusable: a second round.
    auto c = simloop::create_task(party());
    auto d = simloop::create_task(party());
    co_await party();
    co_await c;
    co_await d;
  };
  run(loop, body);
  ASSERT_EQ(indices.size(), 6u);
  std::vector<std::size_t> first(indices.begin(), indices.begin() + 3);
  std::sort(first.begin(), first.end());
  EXPECT_EQ(first, (std::vector<std::size_t>{0, 1, 2}));
}

TEST(PrimitivesBarrier, AbortBreaksWaitersAndLaterCallers) {
  SimLoop loop;
  simloop::Barrier barrier(3);
  int broken = 0;
  auto party = [&]() -> Coro<void> {
    if (co_await raises<simloop::BrokenBarrierError>(barrier.wait())) ++broken;
  };
  auto body = [&]() -> Coro<void> {
    auto a = simloop::create_task(party());
    co_await simloop::sleep(0ms);
    co_await barrier.abort();
    co_await a;
    EXPECT_TRUE(barrier.broken());
    EXPECT_EQ(barrier.repr(), "<Barrier [broken]>");
    co_await party();
  };
  run(loop, body);
  EXPECT_EQ(broken, 2);
}

TEST(PrimitivesBarrier, ResetBreaksCurrentWaitersThenRefills) {
  SimLoop loop;
  simloop::Barrier barrier(2);
  int broken = 0;
  auto party = [&]() -> Coro<void> {
    if (co_await raises<simloop::BrokenBarrierError>(barrier.wait())) ++broken;
  };
  auto body = [&]() -> Coro<void> {
    auto a = simloop::create_task(party());
    co_await simloop::sleep(0ms);
    co_await barrier.reset();
    co_await a;
    EXPECT_EQ(broken, 1);
    EXPECT_FALSE(barrier.broken());
    auto b = simloop::create_task(party());
    co_await party();
    co_await b;
  };
  run(loop, body);
  EXPECT_EQ(broken, 1);
}

TEST(PrimitivesBarrier, InvalidPartiesRaises) { EXPECT_THROW(simloop::Barrier(0), simloop::InvalidArgumentError); }

TEST(PrimitivesBarrier, CancelledPartyLeavesTheBarrierConsistent) {
  SimLoop loop;
  simloop::Barrier barrier(2);
  auto party = [&]() -> Coro<std::size_t> { co_return co_await barrier.wait(); };
  auto body = [&]() -> Coro<void> {
    auto a = simloop::create_task(party());
    co_await simloop::sleep(0ms);
    EXPECT_EQ(barrier.n_waiting(), 1u);
    a.cancel();
    co_await simloop::sleep(0ms);
    co_await simloop::sleep(0ms);
    EXPECT_TRUE(a.cancelled());
    EXPECT_EQ(barrier.n_waiting(), 0u);
    auto b = simloop::create_task(party());
    std::size_t mine = co_await party();
    std::size_t theirs = co_await b;
    EXPECT_NE(mine, theirs);
  };
  run(loop, body);
}
