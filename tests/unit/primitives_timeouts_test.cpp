// timeout / timeout_at / Timeout / wait_for: expiry, outer cancellation,
// misuse errors, and timeouts falling in the same iteration as a completion.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <simloop/simloop.hpp>

#include "support/raises.hpp"
#include "support/timed_results.hpp"

using namespace std::chrono_literals;
using simloop::Coro;
using simloop::Future;
using simloop::Task;
using simloop::sim::SimLoop;
using simloop::testing::raises;
using simloop::testing::raises_sync;

using simloop::testing::timeout_with_cancel_cause;
using simloop::testing::value_after;

namespace {}  // namespace

TEST(PrimitivesTimeout, ExpiresWithTimeoutErrorCausedByTheCancellation) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    std::exception_ptr e;
    try {
      co_await simloop::timeout(2ms, value_after(10ms, 1));
    } catch (...) {
      e = std::current_exception();
    }
    EXPECT_TRUE(timeout_with_cancel_cause(e));
    EXPECT_EQ(loop.time(), 2ms);
    EXPECT_EQ(simloop::current_task().cancelling(), 0) << "the timeout took its cancel request back";
  };
  loop.run_until_complete(body());
}

TEST(PrimitivesTimeout, FinishesInTimeAndNulloptNeverFires) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    EXPECT_EQ(co_await simloop::timeout(5ms, value_after(1ms, 7)), 7);
    EXPECT_EQ(co_await simloop::timeout(std::nullopt, value_after(100ms, 8)), 8);
    EXPECT_EQ(co_await simloop::timeout_at(loop.time() + 5ms, value_after(1ms, 9)), 9);
    simloop::Timeout t = simloop::timeout(5ms);
    EXPECT_EQ(co_await t.run(value_after(1ms, 10)), 10);
    EXPECT_FALSE(t.expired());
    EXPECT_EQ(t.state(), simloop::Timeout::State::Exited);
    EXPECT_EQ(loop.timer_count(), 0u) << "exit disarms the timer";
  };
  loop.run_until_complete(body());
}

TEST(PrimitivesTimeout, DeadlineInThePastFiresAtTheNextIteration) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    co_await simloop::sleep(5ms);
    simloop::Timeout t = simloop::timeout_at(1ms);
    EXPECT_TRUE(co_await raises<simloop::TimeoutError>(t.run(value_after(0ms, 0))));
    EXPECT_TRUE(t.expired());
    EXPECT_EQ(loop.time(), 5ms);
  };
  loop.run_until_complete(body());
}

TEST(PrimitivesTimeout, RescheduleAndWhen) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    simloop::Timeout t = simloop::timeout(std::nullopt);
    EXPECT_FALSE(t.when().has_value());
    t.enter();
    EXPECT_EQ(t.repr(), "<Timeout [active] when=None>");
    t.reschedule(loop.time() + 3ms);
    EXPECT_EQ(t.when(), loop.time() + 3ms);
    std::exception_ptr e;
    try {
      co_await simloop::sleep(10ms);
    } catch (...) {
      e = std::current_exception();
    }
    EXPECT_TRUE(raises_sync<simloop::TimeoutError>([&] { t.exit(e); }));
    EXPECT_EQ(loop.time(), 3ms);
    EXPECT_EQ(t.repr(), "<Timeout [expired]>");
  };
  loop.run_until_complete(body());
}

TEST(PrimitivesTimeout, MisuseRaises) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    simloop::Timeout t(std::nullopt);
    EXPECT_THROW(t.reschedule(1ms), simloop::TimeoutStateError);
    EXPECT_THROW(t.exit(nullptr), simloop::TimeoutStateError);
    t.enter();
    EXPECT_THROW(t.enter(), simloop::TimeoutStateError);
    t.exit(nullptr);
    EXPECT_THROW(t.reschedule(1ms), simloop::TimeoutStateError);
    EXPECT_THROW(t.exit(nullptr), simloop::TimeoutStateError);
    co_return;
  };
  loop.run_until_complete(body());
  simloop::Timeout outside(std::nullopt);
  EXPECT_THROW(outside.enter(), simloop::NoRunningTaskError);
}

TEST(PrimitivesTimeout, OtherErrorsPassThrough) {
  SimLoop loop;
  auto fails = []() -> Coro<void> {
    co_await simloop::sleep(1ms);
    throw std::logic_error("mine");
  };
  auto body = [&]() -> Coro<void> { EXPECT_TRUE(co_await raises<std::logic_error>(simloop::timeout(5ms, fails()))); };
  loop.run_until_complete(body());
}

// An outer cancel and the timeout in the same iteration: the outer
// cancellation is never swallowed (CancelledError, not TimeoutError).
TEST(PrimitivesTimeout, OuterCancellationIsNeverSwallowed) {
  for (bool cancel_first : {true, false}) {
    SimLoop loop;
    auto inner = [&]() -> Coro<void> { co_await simloop::timeout(5ms, value_after(10ms, 0)); };
    auto body = [&]() -> Coro<void> {
      Task<void> t = simloop::create_task(inner());
      // Timers due at the same instant fire in arming order: arming the
      // outer cancel before the task arms its timeout makes it run first.
      if (cancel_first) loop.call_at(5ms, [t] { t.cancel(); });
      co_await simloop::sleep(0ms);
      if (!cancel_first) loop.call_at(5ms, [t] { t.cancel(); });
      std::exception_ptr e;
      try {
        co_await t;
      } catch (...) {
        e = std::current_exception();
      }
      bool cancelled = false;
      try {
        std::rethrow_exception(e);
      } catch (const simloop::CancelledError&) {
        cancelled = true;
      } catch (...) {
      }
      EXPECT_TRUE(cancelled) << "cancel_first=" << cancel_first;
      EXPECT_TRUE(t.cancelled());
    };
    loop.run_until_complete(body());
  }
}

TEST(PrimitivesTimeout, OuterCancellationBeforeTheDeadline) {
  SimLoop loop;
  auto inner = [&]() -> Coro<void> { co_await simloop::timeout(5ms, value_after(10ms, 0)); };
  auto body = [&]() -> Coro<void> {
    Task<void> t = simloop::create_task(inner());
    co_await simloop::sleep(1ms);
    t.cancel();
    EXPECT_TRUE(co_await raises<simloop::CancelledError>(t));
    EXPECT_EQ(loop.timer_count(), 0u);
  };
  loop.run_until_complete(body());
}

// ---- wait_for ----------------------------------------------------------------

TEST(PrimitivesWaitFor, ResultAndTimeoutCancelsTheTask) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    EXPECT_EQ(co_await simloop::wait_for(value_after(1ms, 4), 5ms), 4);
    EXPECT_EQ(co_await simloop::wait_for(value_after(1ms, 5), std::nullopt), 5);
    Task<int> t = simloop::create_task(value_after(10ms, 0));
    std::exception_ptr e;
    try {
      co_await simloop::wait_for(t, 2ms);
    } catch (...) {
      e = std::current_exception();
    }
    EXPECT_TRUE(timeout_with_cancel_cause(e));
    EXPECT_TRUE(t.cancelled());
    EXPECT_EQ(loop.time(), 4ms);
  };
  loop.run_until_complete(body());
}

// GH-86296: a task that swallows the cancellation and returns a value: the
// value is returned.
TEST(PrimitivesWaitFor, ValueOfACoroutineThatSwallowsTheCancelIsReturned) {
  SimLoop loop;
  auto return_42 = []() -> Coro<int> {
    const bool cancelled = (co_await raises<simloop::CancelledError>(simloop::sleep(10ms))).has_value();
    co_return cancelled ? 42 : 0;
  };
  auto body = [&]() -> Coro<void> { EXPECT_EQ(co_await simloop::wait_for(return_42(), 1ms), 42); };
  loop.run_until_complete(body());
}

TEST(PrimitivesWaitFor, ZeroTimeout) {
  SimLoop loop;
  bool started = false;
  auto foo = [&]() -> Coro<int> {
    started = true;
    co_return 1;
  };
  auto body = [&]() -> Coro<void> {
    Future<int> done = Future<int>::create(loop);
    done.set_result(3);
    EXPECT_EQ(co_await simloop::wait_for(done, 0ms), 3);
    std::exception_ptr e;
    try {
      co_await simloop::wait_for(foo(), 0ms);
    } catch (...) {
      e = std::current_exception();
    }
    EXPECT_TRUE(timeout_with_cancel_cause(e));
    EXPECT_FALSE(started) << "the coroutine never started";
    Task<int> t = simloop::create_task(value_after(10ms, 0));
    co_await simloop::sleep(0ms);
    EXPECT_TRUE(co_await raises<simloop::TimeoutError>(simloop::wait_for(t, -1ms)));
    EXPECT_TRUE(t.cancelled());
  };
  loop.run_until_complete(body());
}

// bpo-23219: cancelling the task in wait_for cancels the awaited task too.
TEST(PrimitivesWaitFor, CancellingTheWaiterCancelsTheInnerTask) {
  SimLoop loop;
  Task<int> inner;
  auto waiter = [&]() -> Coro<int> { co_return co_await simloop::wait_for(inner, 60s); };
  auto body = [&]() -> Coro<void> {
    inner = simloop::create_task(value_after(100s, 0));
    Task<int> w = simloop::create_task(waiter());
    loop.call_soon([w] { w.cancel(); });
    EXPECT_TRUE(co_await raises<simloop::CancelledError>(w));
    co_await simloop::sleep(0ms);
    EXPECT_TRUE(inner.cancelled());
  };
  loop.run_until_complete(body());
}

// The timeout fires in the same iteration as the completion, after it (the
// completion's timer was armed first): as in CPython, the caller was
// cancelled before it resumed and gets TimeoutError, but the result is not
// lost: it stays in the future.
TEST(PrimitivesWaitFor, SameIterationCompletionThenTimeoutKeepsTheResultInTheFuture) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    Future<int> fut = Future<int>::create(loop);
    loop.call_at(loop.time() + 2ms, [fut] { fut.set_result(5); });
    EXPECT_TRUE(co_await raises<simloop::TimeoutError>(simloop::wait_for(fut, 2ms)));
    EXPECT_EQ(fut.result(), 5);
  };
  loop.run_until_complete(body());
}

// The same race with a queue: the item put in the timeout's iteration is
// never lost: it is returned or it stays in the queue, whichever timer runs
// first.
TEST(PrimitivesWaitFor, SameIterationPutAndTimeoutNeverLosesTheItem) {
  for (bool put_first : {true, false}) {
    SimLoop loop;
    simloop::Queue<int> q;
    auto body = [&]() -> Coro<void> {
      if (put_first) loop.call_at(2ms, [&q] { q.put_nowait(1); });
      auto getter = [&]() -> Coro<int> { co_return co_await simloop::wait_for(q.get(), 2ms); };
      Task<int> g = simloop::create_task(getter());
      co_await simloop::sleep(0ms);
      if (!put_first) loop.call_at(2ms, [&q] { q.put_nowait(1); });
      std::optional<int> got;
      try {
        got = co_await g;
      } catch (const simloop::TimeoutError&) {
      }
      EXPECT_EQ(got.has_value() ? 1u : 0u, 1u - q.qsize()) << "put_first=" << put_first;
      EXPECT_EQ(q.getters(), 0u);
      EXPECT_FALSE(got.has_value()) << "the timeout cancels the getter in the same iteration";
    };
    loop.run_until_complete(body());
    EXPECT_EQ(q.qsize(), 1u) << "put_first=" << put_first;
  }
}

// A completion whose wakeup was already queued when the deadline passes wins.
TEST(PrimitivesWaitFor, CompletionQueuedBeforeTheDeadlineWins) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    Future<int> fut = Future<int>::create(loop);
    loop.call_at(loop.time() + 2ms - std::chrono::nanoseconds(1), [fut] { fut.set_result(6); });
    EXPECT_EQ(co_await simloop::wait_for(fut, 2ms), 6);
  };
  loop.run_until_complete(body());
}

// wait_for and an outer cancel in the deadline's iteration, in both orders:
// the CancelledError propagates (never turned into TimeoutError or a value).
TEST(PrimitivesWaitFor, OuterCancellationInTheDeadlinesIterationIsNeverSwallowed) {
  for (bool cancel_first : {true, false}) {
    SimLoop loop;
    Task<int> inner;
    auto waiter = [&]() -> Coro<int> { co_return co_await simloop::wait_for(inner, 5ms); };
    auto body = [&]() -> Coro<void> {
      inner = simloop::create_task(value_after(10ms, 1));
      Task<int> w = simloop::create_task(waiter());
      if (cancel_first) loop.call_at(5ms, [w] { w.cancel(); });
      co_await simloop::sleep(0ms);
      if (!cancel_first) loop.call_at(5ms, [w] { w.cancel(); });
      std::exception_ptr e;
      try {
        co_await w;
      } catch (...) {
        e = std::current_exception();
      }
      bool cancelled = false;
      try {
        std::rethrow_exception(e);
      } catch (const simloop::CancelledError&) {
        cancelled = true;
      } catch (...) {
      }
      EXPECT_TRUE(cancelled) << "cancel_first=" << cancel_first;
      EXPECT_TRUE(w.cancelled());
      EXPECT_TRUE(inner.cancelled());
    };
    loop.run_until_complete(body());
  }
}
