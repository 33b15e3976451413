// gather, wait, as_completed, shield: every operation, every misuse error,
// and cancellation of the awaiting task and of children.
#include <gtest/gtest.h>

#include <string>
#include <tuple>
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

using simloop::testing::fail_after;
using simloop::testing::text_after;
using simloop::testing::value_after;

namespace {
Coro<void> nothing_after(std::chrono::milliseconds d) { co_await simloop::sleep(d); }

std::string what_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (const simloop::CancelledError&) {
    return "CancelledError";
  }
}
}  // namespace

// ---- gather ------------------------------------------------------------------

TEST(PrimitivesGather, MixedAwaitablesInArgumentOrder) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    Future<int> fut = Future<int>::create(loop);
    loop.call_later(5ms, [fut] { fut.set_result(1); });
    Task<std::string> task = simloop::create_task(text_after(1ms, "two"));
    auto [a, b, c, d] = co_await simloop::gather(fut, task, value_after(3ms, 3), nothing_after(2ms));
    EXPECT_EQ(a, 1);
    EXPECT_EQ(b, "two");
    EXPECT_EQ(c, 3);
    EXPECT_EQ(d, simloop::Void{});
    EXPECT_EQ(loop.time(), 5ms);
  };
  loop.run_until_complete(body());
}

TEST(PrimitivesGather, VectorFormAndEmpty) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    std::vector<Coro<int>> coros;
    for (int i = 0; i < 5; ++i) coros.push_back(value_after(std::chrono::milliseconds(5 - i), i));
    std::vector<int> out = co_await simloop::gather(std::move(coros));
    EXPECT_EQ(out, (std::vector<int>{0, 1, 2, 3, 4}));
    std::vector<int> none = co_await simloop::gather(std::vector<Coro<int>>{});
    EXPECT_TRUE(none.empty());
    auto empty = co_await simloop::gather();
    EXPECT_EQ(std::tuple_size_v<decltype(empty)>, 0u);
  };
  loop.run_until_complete(body());
}

TEST(PrimitivesGather, SameFutureTwiceIsAwaitedOnce) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    Task<int> t = simloop::create_task(value_after(1ms, 9));
    Task<int> u = simloop::create_task(value_after(2ms, 4));
    std::vector<Task<int>> ts{t, t, t};
    std::vector<int> out = co_await simloop::gather(ts);
    EXPECT_EQ(out, (std::vector<int>{9, 9, 9}));
    // A child's duplicate mark does not outlive the gather that set it: a
    // second gather over the same (now done) child and a pending one.
    auto first = simloop::gather(std::vector<Task<int>>{u, t, u});
    auto second = simloop::gather(std::vector<Task<int>>{t, u});
    const std::vector<int> first_out = co_await first;
    const std::vector<int> second_out = co_await second;
    EXPECT_EQ(first_out, (std::vector<int>{4, 9, 4}));
    EXPECT_EQ(second_out, (std::vector<int>{9, 4}));
  };
  loop.run_until_complete(body());
}

TEST(PrimitivesGather, FirstExceptionPropagatesOthersKeepRunning) {
  SimLoop loop;
  std::vector<std::string> log;
  auto slow = [&]() -> Coro<int> {
    co_await simloop::sleep(10ms);
    log.push_back("slow finished");
    co_return 1;
  };
  auto body = [&]() -> Coro<void> {
    Task<int> s = simloop::create_task(slow());
    auto caught = co_await raises<std::runtime_error>(simloop::gather(s, fail_after(1ms, "boom")));
    EXPECT_EQ(caught ? caught->what() : std::string(), "boom");
    EXPECT_EQ(loop.time(), 1ms);
    EXPECT_FALSE(s.done());
    EXPECT_EQ(co_await s, 1);
  };
  loop.run_until_complete(body());
  EXPECT_EQ(log, (std::vector<std::string>{"slow finished"}));
}

TEST(PrimitivesGather, ReturnExceptionsCollectsOutcomes) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    Task<int> cancelled = simloop::create_task(value_after(5ms, 0));
    loop.call_later(1ms, [cancelled] { cancelled.cancel("stop"); });
    Future<int> fut = Future<int>::create(loop);
    loop.call_later(1ms, [fut] { fut.cancel("halt"); });
    auto [a, b, c, d] = co_await simloop::gather(simloop::return_exceptions, value_after(2ms, 7),
                                                 fail_after(3ms, "bad"), cancelled, fut);
    EXPECT_TRUE(a.has_value());
    EXPECT_EQ(a.value(), 7);
    EXPECT_TRUE(b.has_exception());
    EXPECT_EQ(what_of(b.exception()), "bad");
    EXPECT_THROW(b.value(), std::runtime_error);
    EXPECT_TRUE(c.cancelled());
    // As CPython: a cancelled task shows without its message, a cancelled
    // plain future with it.
    try {
      std::rethrow_exception(c.exception());
    } catch (const simloop::CancelledError& e) {
      EXPECT_EQ(e.message(), "");
    }
    EXPECT_TRUE(d.cancelled());
    try {
      std::rethrow_exception(d.exception());
    } catch (const simloop::CancelledError& e) {
      EXPECT_EQ(e.message(), "halt");
    }
    std::vector<Coro<void>> vs;
    vs.push_back(nothing_after(1ms));
    vs.push_back(fail_after(1ms, "x"));
    auto outs = co_await simloop::gather(simloop::return_exceptions, std::move(vs));
    EXPECT_TRUE(outs[0].has_value());
    EXPECT_FALSE(outs[0].cancelled());
    EXPECT_EQ(what_of(outs[1].exception()), "x");
  };
  loop.run_until_complete(body());
}

TEST(PrimitivesGather, CancelledChildShowsAsCancelledError) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    Task<int> t = simloop::create_task(value_after(5ms, 0));
    Task<int> other = simloop::create_task(value_after(5ms, 1));
    loop.call_later(1ms, [t] { t.cancel(); });
    EXPECT_TRUE(co_await raises<simloop::CancelledError>(simloop::gather(t, other)));
    EXPECT_FALSE(other.cancelled()) << "one child's cancellation does not cancel the others";
    EXPECT_EQ(co_await other, 1);
  };
  loop.run_until_complete(body());
}

TEST(PrimitivesGather, CancellingTheGatherCancelsEveryChild) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    Task<int> a = simloop::create_task(value_after(5ms, 0));
    Task<int> b = simloop::create_task(value_after(5ms, 1));
    auto g = simloop::gather(a, b);
    co_await simloop::sleep(1ms);
    EXPECT_TRUE(g.cancel());
    EXPECT_TRUE(co_await raises<simloop::CancelledError>(g));
    EXPECT_TRUE(a.cancelled());
    EXPECT_TRUE(b.cancelled());
    EXPECT_FALSE(g.cancel()) << "a done gather cannot be cancelled";
  };
  loop.run_until_complete(body());
}

TEST(PrimitivesGather, CancellingTheAwaitingTaskCancelsTheChildren) {
  SimLoop loop;
  Task<int> a, b;
  auto waiter = [&]() -> Coro<void> {
    a = simloop::create_task(value_after(5ms, 0));
    b = simloop::create_task(value_after(5ms, 1));
    co_await simloop::gather(a, b);
  };
  auto body = [&]() -> Coro<void> {
    Task<void> w = simloop::create_task(waiter());
    co_await simloop::sleep(1ms);
    w.cancel();
    EXPECT_TRUE(co_await raises<simloop::CancelledError>(w));
    EXPECT_TRUE(w.cancelled());
    EXPECT_TRUE(a.cancelled());
    EXPECT_TRUE(b.cancelled());
  };
  loop.run_until_complete(body());
}

// The awaiting task is cancelled after every child is done but before the
// gather's completion callback ran: the cancel lands at the next step.
TEST(PrimitivesGather, CancelAfterChildrenDoneStillCancelsTheAwaiter) {
  SimLoop loop;
  Task<int> child;
  auto waiter = [&]() -> Coro<int> {
    auto [v] = co_await simloop::gather(child);
    co_return v;
  };
  auto body = [&]() -> Coro<void> {
    child = simloop::create_task(value_after(1ms, 3));
    Task<int> w = simloop::create_task(waiter());
    co_await simloop::sleep(1ms);  // the child finishes in this iteration
    co_await simloop::sleep(0ms);
    w.cancel();
    EXPECT_TRUE(co_await raises<simloop::CancelledError>(w));
    EXPECT_EQ(child.result(), 3);
  };
  loop.run_until_complete(body());
}

TEST(PrimitivesGather, ChildrenOfAnotherLoopRaise) {
  SimLoop loop1;
  SimLoop loop2;
  Future<int> f1 = Future<int>::create(loop1);
  Future<int> f2 = Future<int>::create(loop2);
  EXPECT_THROW(simloop::gather(f1, f2), simloop::ForeignLoopError);
}

TEST(PrimitivesGather, CoroutinesNeedARunningLoop) {
  EXPECT_THROW(simloop::gather(value_after(1ms, 1)), simloop::NoRunningTaskError);
}

// ---- wait --------------------------------------------------------------------

TEST(PrimitivesWait, ReturnWhenModes) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    std::vector<Task<int>> ts{simloop::create_task(value_after(3ms, 0)), simloop::create_task(value_after(1ms, 1)),
                              simloop::create_task(value_after(2ms, 2))};
    auto first = co_await simloop::wait(ts, std::nullopt, simloop::FIRST_COMPLETED);
    EXPECT_EQ(loop.time(), 1ms);
    EXPECT_EQ(first.done.size(), 1u);
    if (!first.done.empty()) {
      EXPECT_EQ(first.done[0].result(), 1);
    }
    EXPECT_EQ(first.pending.size(), 2u);
    auto all = co_await simloop::wait(ts);
    EXPECT_EQ(loop.time(), 3ms);
    EXPECT_EQ(all.done.size(), 3u);
    EXPECT_TRUE(all.pending.empty());
    EXPECT_EQ(all.done[0].result(), 0) << "in the order given";
  };
  loop.run_until_complete(body());
}

TEST(PrimitivesWait, FirstExceptionAndTimeout) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    std::vector<Task<void>> ts{simloop::create_task(nothing_after(1ms)), simloop::create_task(fail_after(2ms, "e")),
                               simloop::create_task(nothing_after(9ms))};
    auto r = co_await simloop::wait(ts, std::nullopt, simloop::FIRST_EXCEPTION);
    EXPECT_EQ(loop.time(), 2ms);
    EXPECT_EQ(r.done.size(), 2u);
    EXPECT_EQ(r.pending.size(), 1u);
    auto t = co_await simloop::wait(ts, 3ms);
    EXPECT_EQ(loop.time(), 5ms);
    EXPECT_EQ(t.pending.size(), 1u) << "a timeout returns the pending ones, no TimeoutError";
    EXPECT_FALSE(ts[2].cancelled()) << "wait never cancels";
    // FIRST_EXCEPTION with no exception: returns when all are done.
    std::vector<Task<void>> ok{simloop::create_task(nothing_after(1ms)), simloop::create_task(nothing_after(2ms))};
    auto r2 = co_await simloop::wait(ok, std::nullopt, simloop::FIRST_EXCEPTION);
    EXPECT_EQ(r2.done.size(), 2u);
    co_await ts[2];
  };
  loop.run_until_complete(body());
}

TEST(PrimitivesWait, EmptySetRaisesAndCancelOnlyCancelsTheWait) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    EXPECT_TRUE(co_await raises<simloop::InvalidArgumentError>(simloop::wait(std::vector<Future<int>>{})));
    Task<int> child = simloop::create_task(value_after(5ms, 1));
    auto waiter = [](Task<int> c) -> Coro<void> {
      std::vector<Task<int>> one;
      one.push_back(c);
      auto r = co_await simloop::wait(std::move(one));
      (void)r;
    };
    Task<void> w = simloop::create_task(waiter(child));
    co_await simloop::sleep(1ms);
    w.cancel();
    co_await simloop::sleep(0ms);
    co_await simloop::sleep(0ms);
    EXPECT_TRUE(w.cancelled());
    EXPECT_FALSE(child.done());
    EXPECT_EQ(co_await child, 1);
  };
  loop.run_until_complete(body());
}

// ---- as_completed ------------------------------------------------------------

TEST(PrimitivesAsCompleted, YieldsInCompletionOrder) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    std::vector<Coro<int>> coros;
    coros.push_back(value_after(3ms, 3));
    coros.push_back(value_after(1ms, 1));
    coros.push_back(value_after(2ms, 2));
    auto it = simloop::as_completed(std::move(coros));
    std::vector<int> order;
    EXPECT_EQ(it.remaining(), 3u);
    while (it.has_next()) {
      Future<int> f = co_await it.next();
      EXPECT_TRUE(f.done());
      order.push_back(f.result());
    }
    EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
    EXPECT_TRUE(raises_sync<simloop::InvalidStateError>([&] { return it.next(); }));
  };
  loop.run_until_complete(body());
}

TEST(PrimitivesAsCompleted, NextResultAndTimeout) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    std::vector<Coro<int>> coros;
    coros.push_back(value_after(1ms, 1));
    coros.push_back(value_after(10ms, 10));
    auto it = simloop::as_completed(std::move(coros), 5ms);
    EXPECT_EQ(co_await it.next_result(), 1);
    EXPECT_TRUE(co_await raises<simloop::TimeoutError>(it.next_result()));
    EXPECT_EQ(loop.time(), 5ms);
  };
  loop.run_until_complete(body());
}

// ---- shield ------------------------------------------------------------------

TEST(PrimitivesShield, CancellingTheAwaiterDoesNotCancelTheInner) {
  SimLoop loop;
  Task<int> inner;
  auto waiter = [&]() -> Coro<int> { co_return co_await simloop::shield(inner); };
  auto body = [&]() -> Coro<void> {
    inner = simloop::create_task(value_after(5ms, 42));
    Task<int> w = simloop::create_task(waiter());
    co_await simloop::sleep(1ms);
    w.cancel();
    EXPECT_TRUE(co_await raises<simloop::CancelledError>(w));
    EXPECT_FALSE(inner.done());
    EXPECT_EQ(co_await inner, 42);
  };
  loop.run_until_complete(body());
}

TEST(PrimitivesShield, PropagatesResultExceptionAndInnerCancellation) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    EXPECT_EQ(co_await simloop::shield(value_after(1ms, 5)), 5);
    EXPECT_TRUE(co_await raises<std::runtime_error>(simloop::shield(fail_after(1ms, "inner"))));
    Task<int> t = simloop::create_task(value_after(5ms, 0));
    loop.call_later(1ms, [t] { t.cancel(); });
    EXPECT_TRUE(co_await raises<simloop::CancelledError>(simloop::shield(t)));
    Future<int> done = Future<int>::create(loop);
    done.set_result(8);
    Future<int> same = simloop::shield(done);
    EXPECT_TRUE(same == done) << "a done awaitable is returned as is";
  };
  loop.run_until_complete(body());
}

TEST(PrimitivesGather, SleepIsAnAwaitable) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    auto [a, b] = co_await simloop::gather(simloop::sleep(2ms, 5), simloop::sleep(1ms));
    EXPECT_EQ(a, 5);
    EXPECT_EQ(b, simloop::Void{});
    EXPECT_EQ(loop.time(), 2ms);
    EXPECT_TRUE(co_await raises<simloop::TimeoutError>(simloop::timeout(1ms, simloop::sleep(5ms))));
    EXPECT_EQ(co_await simloop::wait_for(simloop::sleep(1ms, 3), 5ms), 3);
  };
  loop.run_until_complete(body());
}
