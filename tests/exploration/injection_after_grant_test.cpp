// Injection after grant: a cancel that lands after the future a task awaits
// has completed and before the task's wakeup runs (asyncio's window for lost
// wakeups). A lock written as user code that does not pass on a grant its
// cancelled waiter never used is found by injection alone, with no task of
// the test cancelling anything; the same injection without this kind never
// finds it, and a lock that passes the grant on never fails.
#include <gtest/gtest.h>

#include <deque>
#include <vector>

#include <simloop/simloop.hpp>

namespace {

using namespace std::chrono_literals;
using simloop::Coro;
using simloop::Future;
using simloop::Task;
namespace sim = simloop::sim;

// A FIFO lock handing ownership to the first pending waiter's future.
struct HandoffLock {
  bool pass_on_cancel = false;  // the fix: a granted waiter that was cancelled passes it on
  bool locked = false;
  std::deque<Future<void>> waiters;

  Coro<void> acquire() {
    if (!locked) {
      locked = true;
      co_return;
    }
    Future<void> granted = Future<void>::create(*simloop::EventLoop::running());
    waiters.push_back(granted);
    bool cancelled = false;
    try {
      co_await granted;
    } catch (const simloop::CancelledError&) {
      cancelled = true;
    }
    if (cancelled) {
      // Granted, then cancelled before the wakeup ran: the lock is ours.
      if (pass_on_cancel && granted.done() && !granted.cancelled()) release();
      throw simloop::CancelledError();
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

Coro<void> worker(HandoffLock* lock) {
  for (int i = 0; i < 3; ++i) {
    co_await lock->acquire();
    bool cancelled = false;
    try {
      co_await simloop::sleep(1ms);
    } catch (const simloop::CancelledError&) {
      cancelled = true;
    }
    lock->release();
    if (cancelled) throw simloop::CancelledError();
  }
}

sim::Scenario three_workers(bool fixed) {
  return [fixed](sim::SimLoop& loop) -> Coro<void> {
    HandoffLock& lock = loop.keep<HandoffLock>();
    lock.pass_on_cancel = fixed;
    std::vector<Task<void>> workers;
    for (int i = 0; i < 3; ++i) workers.push_back(loop.create_task(worker(&lock)));
    co_await simloop::wait(workers);
  };
}

sim::RunnerOptions injecting(bool after_grant) {
  sim::RunnerOptions o;
  o.runs = 2000;
  o.sim.cancel_probability = 0.1;
  o.sim.max_injected_cancels = 2;
  o.sim.injection_kinds = after_grant ? simloop::kAllInjections : simloop::injection_bit(simloop::Injection::Suspend);
  o.log = nullptr;
  return o;
}

TEST(InjectionAfterGrant, FindsALockThatDropsAGrantItsCancelledWaiterNeverUsed) {
  const sim::ExploreResult found = sim::explore(three_workers(false), injecting(true));
  ASSERT_FALSE(found.ok()) << "injection after grant did not reach the window in 2000 seeds";
  EXPECT_EQ(found.failure->outcome.failure, sim::FailureKind::Deadlock) << found.failure->report;
  std::printf("[ injection ] after grant: found at seed %llu\n", static_cast<unsigned long long>(found.failure->seed));

  EXPECT_TRUE(sim::explore(three_workers(false), injecting(false)).ok())
      << "cancels at suspension alone cancel the awaited future, which the lock skips";
  EXPECT_TRUE(sim::explore(three_workers(true), injecting(true)).ok()) << "the fixed lock never deadlocks";
}

}  // namespace
