// User code that reads like asyncio: the timer handle's when(), AnyTask as
// the common awaitable of tasks of different result types (co_await, wait,
// as_completed, gather, timeout), and async_with for timeouts, TaskGroup,
// Lock, Semaphore, BoundedSemaphore and Condition: released or left on a
// normal exit, on an exception and on a cancellation (while waiting to
// acquire too), the timeout's TimeoutError, the group's ExceptionGroup.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include <simloop/simloop.hpp>

#include "support/raises.hpp"
#include "support/timed_results.hpp"

using namespace std::chrono_literals;
using simloop::AnyTask;
using simloop::Condition;
using simloop::Coro;
using simloop::Duration;
using simloop::Future;
using simloop::HandleRef;
using simloop::Lock;
using simloop::Semaphore;
using simloop::Task;
using simloop::TaskGroup;
using simloop::Timeout;
using simloop::TimerHandleRef;
using simloop::sim::SimLoop;

using simloop::testing::fail_after;
using simloop::testing::text_after;
using simloop::testing::timeout_with_cancel_cause;
using simloop::testing::value_after;

namespace {

// `await t` for a task of any result type.
Coro<void> await_any(AnyTask t) { co_await t; }
Coro<void> await_any_shielded(AnyTask t) { co_await simloop::shield(t); }

// What `e` holds, in one word or its message.
std::string what_of(const std::exception_ptr& e) {
  if (!e) return "none";
  try {
    std::rethrow_exception(e);
  } catch (const simloop::TimeoutError&) {
    return "TimeoutError";
  } catch (const simloop::ExceptionGroup&) {
    return "ExceptionGroup";
  } catch (const std::exception& x) {
    return x.what();
  } catch (const simloop::CancelledError&) {
    return "CancelledError";
  }
}

// Awaits `aw`, returning what it raised (null if nothing).
template <class A>
Coro<std::exception_ptr> error_of(A aw) {
  std::exception_ptr error;
  try {
    co_await std::move(aw);
  } catch (...) {
    error = std::current_exception();
  }
  co_return error;
}

std::vector<std::string> whats(const std::exception_ptr& group) {
  std::vector<std::string> out;
  try {
    std::rethrow_exception(group);
  } catch (const simloop::ExceptionGroup& g) {
    for (const auto& e : g.exceptions()) out.push_back(what_of(e));
  } catch (...) {
    out.push_back("not an ExceptionGroup: " + what_of(std::current_exception()));
  }
  return out;
}

}  // namespace

// ---- TimerHandleRef ------------------------------------------------------------

static_assert(std::is_convertible_v<TimerHandleRef, HandleRef>, "a timer handle is a HandleRef");
static_assert(!std::is_convertible_v<HandleRef, TimerHandleRef>, "not every handle is a timer");

TEST(AsyncioConstructs, TimerHandleWhenIsTheDeadline) {
  SimLoop loop;
  std::vector<Duration> fired_at;
  std::vector<Duration> due;
  loop.call_at(3ms, [&] {
    TimerHandleRef later = loop.call_later(5ms, [&] { fired_at.push_back(loop.time()); });
    EXPECT_EQ(later.when(), 8ms) << "call_later: time() + delay";
    due.push_back(later.when());
  });
  TimerHandleRef at = loop.call_at(42ms, [&] { fired_at.push_back(loop.time()); });
  EXPECT_EQ(at.when(), 42ms);
  EXPECT_EQ(at->when(), 42ms);
  due.push_back(at.when());
  TimerHandleRef past = loop.call_at(0ms, [] {});
  EXPECT_EQ(past.when(), 0ms) << "a deadline in the past is kept as given";
  loop.call_at(50ms, [&] { loop.stop(); });
  loop.run_forever();
  std::sort(due.begin(), due.end());
  EXPECT_EQ(fired_at, due) << "each timer fires at its when()";
}

TEST(AsyncioConstructs, TimerHandleIsAHandleRef) {
  SimLoop loop;
  int ran = 0;
  TimerHandleRef t = loop.call_later(1s, [&] { ++ran; });
  HandleRef h = t;  // the old spelling keeps compiling
  EXPECT_TRUE(h == t);
  std::vector<HandleRef> handles;
  handles.push_back(loop.call_later(2s, [&] { ++ran; }));
  h.cancel();
  EXPECT_TRUE(t.cancelled()) << "one handle, two references";
  handles[0].cancel();
  loop.call_later(3s, [&] { loop.stop(); });
  loop.run_forever();
  EXPECT_EQ(ran, 0);
  EXPECT_EQ(t.when(), 1s) << "a cancelled timer keeps its deadline";

  TimerHandleRef moved = std::move(t);
  EXPECT_EQ(moved.when(), 1s);
  EXPECT_FALSE(t);  // moved from: empty
  EXPECT_THROW(t.when(), simloop::InvalidStateError);
  EXPECT_THROW(TimerHandleRef().when(), simloop::InvalidStateError);
}

// ---- AnyTask: co_await and the future-like interface -------------------------------

TEST(AsyncioConstructs, AwaitingAnyTaskWaitsAndRaisesItsError) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    Task<int> number = simloop::create_task(value_after(2ms, 7));
    Task<std::string> text = simloop::create_task(text_after(1ms, "seven"));
    std::vector<AnyTask> tasks{number, text};
    EXPECT_THROW(tasks[0].result(), simloop::FutureNotDoneError);
    for (const AnyTask& t : tasks) co_await t;
    EXPECT_EQ(loop.time(), 2ms);
    EXPECT_EQ(number.result(), 7) << "the value stays in the typed handle";
    EXPECT_EQ(text.result(), "seven");
    tasks[0].result();  // finished with a value: returns
    EXPECT_EQ(tasks[1].exception(), nullptr);
    EXPECT_EQ(&tasks[0].get_loop(), &loop);

    AnyTask failing = simloop::create_task(fail_after(1ms, "boom"));
    EXPECT_EQ(what_of(co_await error_of(failing)), std::string("boom"));
    EXPECT_EQ(what_of(failing.exception()), "boom");
    try {
      failing.result();
      ADD_FAILURE() << "result() of a failed task raises";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "boom");
    }

    AnyTask cancelled = simloop::create_task(value_after(5ms, 0));
    cancelled.cancel();
    EXPECT_EQ(what_of(co_await error_of(cancelled)), std::string("CancelledError"));
    EXPECT_TRUE(cancelled.cancelled());
    EXPECT_THROW(cancelled.result(), simloop::CancelledError);
    EXPECT_EQ(simloop::current_task().cancelling(), 0) << "the awaiting task was not cancelled";
  };
  loop.run_until_complete(body());
}

TEST(AsyncioConstructs, CancellingTheAwaiterOfAnAnyTaskCancelsTheTask) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    Task<int> inner = simloop::create_task(value_after(10ms, 1));
    Task<void> outer = simloop::create_task(await_any(inner));
    loop.call_at(1ms, [outer] { outer.cancel(); });
    EXPECT_EQ(what_of(co_await error_of(outer)), std::string("CancelledError"));
    EXPECT_TRUE(inner.cancelled()) << "as asyncio's `await task`: the awaited task is cancelled with the awaiter";
    EXPECT_EQ(loop.time(), 1ms);
  };
  loop.run_until_complete(body());
}

TEST(AsyncioConstructs, AnyTaskDoneCallbacksReceiveTheTask) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    Task<std::string> text = simloop::create_task(text_after(1ms, "x"));
    AnyTask any = text;
    std::vector<std::string> log;
    any.add_done_callback([&](AnyTask& t) { log.push_back("with " + t.get_name()); });
    any.add_done_callback([&] { log.push_back("without"); });
    HandleRef removed = any.add_done_callback([&] { log.push_back("removed"); });
    EXPECT_EQ(any.remove_done_callback(removed), 1u);
    co_await any;
    co_await simloop::sleep(0ms);  // the callbacks run through call_soon
    EXPECT_EQ(log, (std::vector<std::string>{"with " + text.get_name(), "without"}));
  };
  loop.run_until_complete(body());
}

TEST(AsyncioConstructs, EmptyAnyTaskRaisesInvalidState) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    AnyTask empty;
    EXPECT_EQ(empty.state(), nullptr);
    EXPECT_THROW(empty.result(), simloop::InvalidStateError);
    EXPECT_THROW(empty.add_done_callback([] {}), simloop::InvalidStateError);
    EXPECT_EQ(what_of(co_await error_of(await_any(empty))),
              std::string("co_await: the future or task is empty (default-constructed or moved from)"));
    std::exception_ptr e;
    try {
      std::vector<AnyTask> tasks{empty};
      co_await simloop::wait(tasks);
    } catch (const simloop::InvalidArgumentError&) {
      e = std::current_exception();
    }
    EXPECT_NE(e, nullptr);
  };
  loop.run_until_complete(body());
}

// ---- wait / as_completed / gather over tasks of different result types ------------

TEST(AsyncioConstructs, WaitOverMixedResultTypes) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    Task<int> number = simloop::create_task(value_after(3ms, 3));
    Task<std::string> text = simloop::create_task(text_after(1ms, "one"));
    Task<void> failing = simloop::create_task(fail_after(2ms, "two"));

    // A braced list of mixed tasks is a std::vector<AnyTask>. GCC 12 rejects
    // one inside a co_await expression: name the vector, or the Coro.
    std::vector<AnyTask> tasks{number, text, failing};
    auto first = co_await simloop::wait(tasks, std::nullopt, simloop::FIRST_COMPLETED);
    EXPECT_EQ(first.done, (std::vector<AnyTask>{text}));
    EXPECT_EQ(first.pending, (std::vector<AnyTask>{number, failing})) << "in argument order";
    EXPECT_EQ(loop.time(), 1ms);

    Coro<simloop::WaitResult<AnyTask>> waiting =
        simloop::wait({number, text, failing}, std::nullopt, simloop::FIRST_EXCEPTION);
    auto error = co_await std::move(waiting);
    EXPECT_EQ(error.done, (std::vector<AnyTask>{text, failing}));
    EXPECT_EQ(error.pending, (std::vector<AnyTask>{number}));
    EXPECT_EQ(loop.time(), 2ms);

    std::vector<AnyTask> twice{number, number};
    auto timed = co_await simloop::wait(twice, 500us);
    EXPECT_TRUE(timed.done.empty());
    EXPECT_EQ(timed.pending, (std::vector<AnyTask>{number})) << "duplicates removed; a timeout raises nothing";

    std::vector<AnyTask> all{failing, number, text};
    auto every = co_await simloop::wait(all);
    EXPECT_EQ(every.done, all);
    EXPECT_TRUE(every.pending.empty());
    EXPECT_EQ(loop.time(), 3ms);
    EXPECT_EQ(number.result(), 3);
    EXPECT_EQ(text.result(), "one");
    EXPECT_EQ(what_of(failing.exception()), "two");
  };
  loop.run_until_complete(body());
}

TEST(AsyncioConstructs, CancellingAWaitOverMixedTasksCancelsOnlyTheWait) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    Task<int> number = simloop::create_task(value_after(5ms, 5));
    Task<std::string> text = simloop::create_task(text_after(5ms, "five"));
    auto waiting = [&]() -> Coro<void> {
      std::vector<AnyTask> both{number, text};
      co_await simloop::wait(both);
    };
    Task<void> waiter = simloop::create_task(waiting());
    loop.call_at(1ms, [waiter] { waiter.cancel(); });
    EXPECT_EQ(what_of(co_await error_of(waiter)), std::string("CancelledError"));
    EXPECT_FALSE(number.done());
    EXPECT_FALSE(text.done());
    co_await simloop::gather(number, text);
    EXPECT_EQ(number.result(), 5);
    EXPECT_EQ(text.result(), "five");
  };
  loop.run_until_complete(body());
}

TEST(AsyncioConstructs, AsCompletedOverMixedResultTypes) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    Task<int> number = simloop::create_task(value_after(3ms, 3));
    Task<std::string> text = simloop::create_task(text_after(1ms, "one"));
    Task<void> failing = simloop::create_task(fail_after(2ms, "two"));
    auto it = simloop::as_completed({number, text, failing});
    static_assert(std::is_same_v<decltype(it), simloop::AsCompleted<void, AnyTask>>);
    EXPECT_EQ(it.remaining(), 3u);

    AnyTask a = co_await it.next();
    EXPECT_EQ(a, AnyTask(text));
    EXPECT_EQ(text.result(), "one");
    AnyTask b = co_await it.next();
    EXPECT_EQ(b, AnyTask(failing));
    EXPECT_EQ(what_of(co_await error_of(b)), std::string("two")) << "awaiting the yielded task raises its error";
    co_await it.next_result();  // number: nothing to return, nothing raised
    EXPECT_EQ(number.result(), 3);
    EXPECT_FALSE(it.has_next());
    EXPECT_EQ(loop.time(), 3ms);

    Task<int> slow = simloop::create_task(value_after(10ms, 0));
    Task<std::string> cancelled = simloop::create_task(text_after(10ms, ""));
    auto limited = simloop::as_completed(std::vector<AnyTask>{slow, cancelled}, 2ms);
    loop.call_at(4ms, [cancelled] { cancelled.cancel(); });
    EXPECT_EQ(what_of(co_await error_of(limited.next_result())), std::string("CancelledError"));
    EXPECT_EQ(what_of(co_await error_of(limited.next())), std::string("TimeoutError"));
    EXPECT_EQ(loop.time(), 5ms) << "the timeout counts from the call";
    slow.cancel();
    co_await error_of(slow);
  };
  loop.run_until_complete(body());
}

TEST(AsyncioConstructs, GatherOverMixedResultTypes) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    Task<int> number = simloop::create_task(value_after(2ms, 2));
    Task<std::string> text = simloop::create_task(text_after(1ms, "one"));
    Future<std::vector<simloop::Void>> both = simloop::gather({number, text});
    std::vector<simloop::Void> voids = co_await both;
    EXPECT_EQ(voids.size(), 2u);
    EXPECT_EQ(number.result(), 2);
    EXPECT_EQ(text.result(), "one");

    std::vector<AnyTask> more{simloop::create_task(value_after(1ms, 1)), simloop::create_task(text_after(1ms, ""))};
    auto [n, any] = co_await simloop::gather(value_after(1ms, 9), more[1]);
    EXPECT_EQ(n, 9);
    EXPECT_EQ(any, simloop::Void{});
    EXPECT_EQ((co_await simloop::gather(more)).size(), 2u);

    Task<int> ok = simloop::create_task(value_after(1ms, 1));
    Task<void> failing = simloop::create_task(fail_after(2ms, "boom"));
    Task<std::string> cancelled = simloop::create_task(text_after(5ms, ""));
    cancelled.cancel();
    Future<std::vector<simloop::Outcome<void>>> gathered =
        simloop::gather(simloop::return_exceptions, {ok, failing, cancelled});
    auto outcomes = co_await gathered;
    EXPECT_EQ(outcomes.size(), 3u);
    if (outcomes.size() != 3u) co_return;
    EXPECT_TRUE(outcomes[0].has_value());
    EXPECT_EQ(what_of(outcomes[1].exception()), "boom");
    EXPECT_TRUE(outcomes[2].cancelled());
    EXPECT_EQ(ok.result(), 1);
  };
  loop.run_until_complete(body());
}

TEST(AsyncioConstructs, GatherOverMixedTasksFailsAtTheFirstErrorAndCancelsOnCancel) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    Task<int> number = simloop::create_task(value_after(5ms, 5));
    Task<void> failing = simloop::create_task(fail_after(1ms, "first"));
    Future<std::vector<simloop::Void>> first = simloop::gather({number, failing});
    EXPECT_EQ(what_of(co_await error_of(first)), std::string("first"));
    EXPECT_EQ(loop.time(), 1ms);
    EXPECT_FALSE(number.done()) << "the other children keep running";

    Task<std::string> text = simloop::create_task(text_after(5ms, ""));
    Future<std::vector<simloop::Void>> g = simloop::gather({number, text});
    EXPECT_TRUE(g.cancel());
    EXPECT_EQ(what_of(co_await error_of(g)), std::string("CancelledError"));
    EXPECT_TRUE(number.cancelled());
    EXPECT_TRUE(text.cancelled());
  };
  loop.run_until_complete(body());
}

TEST(AsyncioConstructs, TimeoutAndWaitForTakeAnAnyTask) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    Task<int> slow = simloop::create_task(value_after(10ms, 1));
    EXPECT_TRUE(timeout_with_cancel_cause(co_await error_of(simloop::timeout(1ms, AnyTask(slow)))));
    EXPECT_TRUE(slow.cancelled()) << "the timeout cancelled the awaited task";

    Task<std::string> quick = simloop::create_task(text_after(1ms, "in time"));
    co_await simloop::wait_for(AnyTask(quick), 5ms);
    EXPECT_EQ(quick.result(), "in time");

    Task<int> pending = simloop::create_task(value_after(10ms, 1));
    EXPECT_EQ(what_of(co_await error_of(simloop::wait_for(AnyTask(pending), 0ms))), std::string("TimeoutError"));
    EXPECT_TRUE(pending.cancelled());
  };
  loop.run_until_complete(body());
}

TEST(AsyncioConstructs, ShieldTakesAnAnyTask) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    // Cancelling the shield's awaiter leaves the task running.
    Task<int> slow = simloop::create_task(value_after(5ms, 7));
    Task<void> awaiter = simloop::create_task(await_any_shielded(AnyTask(slow)));
    co_await simloop::sleep(1ms);
    awaiter.cancel("stop");
    const auto stopped = co_await simloop::testing::raises<simloop::CancelledError>(awaiter);
    EXPECT_EQ(stopped ? stopped->message() : "not cancelled", "stop");
    EXPECT_FALSE(slow.done());
    EXPECT_EQ(co_await slow, 7) << "the shielded task finished";

    // The shield completes as the task does: a value, an exception, and a
    // cancel from elsewhere (without a message, as asyncio's callback).
    Task<std::string> quick = simloop::create_task(text_after(1ms, "ok"));
    Future<void> shielded = simloop::shield(AnyTask(quick));
    EXPECT_FALSE(shielded.done());
    co_await shielded;
    EXPECT_EQ(quick.result(), "ok");
    Task<void> failing = simloop::create_task(fail_after(1ms, "boom"));
    EXPECT_EQ(what_of(co_await error_of(simloop::shield(AnyTask(failing)))), std::string("boom"));
    Task<int> doomed = simloop::create_task(value_after(5ms, 0));
    Future<void> over_doomed = simloop::shield(AnyTask(doomed));
    doomed.cancel("elsewhere");
    const auto inner_cancelled = co_await simloop::testing::raises<simloop::CancelledError>(over_doomed);
    EXPECT_EQ(inner_cancelled ? inner_cancelled->message() : "not cancelled", "");
    EXPECT_TRUE(over_doomed.cancelled());

    // A task already done: the shield is done the same way at once.
    Future<void> done_cancelled = simloop::shield(AnyTask(doomed));
    EXPECT_TRUE(done_cancelled.cancelled());
    const auto at_once = co_await simloop::testing::raises<simloop::CancelledError>(done_cancelled);
    EXPECT_EQ(at_once ? at_once->message() : "not cancelled", "elsewhere") << "the task's own message";
    Future<void> done_failed = simloop::shield(AnyTask(failing));
    EXPECT_TRUE(done_failed.done());
    EXPECT_EQ(what_of(co_await error_of(done_failed)), std::string("boom"));
    EXPECT_TRUE(simloop::shield(AnyTask(slow)).done());

    AnyTask empty;
    const auto empty_error =
        simloop::testing::raises_sync<simloop::InvalidStateError>([&] { (void)simloop::shield(empty); });
    EXPECT_TRUE(empty_error.has_value());
    EXPECT_STREQ(empty_error ? empty_error->what() : "nothing raised",
                 "shield: the task is empty (default-constructed or moved from)");
  };
  loop.run_until_complete(body());
}

// ---- async_with(lock) ---------------------------------------------------------------

TEST(AsyncioConstructs, AsyncWithLockReturnsTheBodysValueAndReleases) {
  SimLoop loop;
  Lock lock;
  auto body = [&]() -> Coro<void> {
    int n = co_await simloop::async_with(lock, [&](Lock& l) -> Coro<int> {
      EXPECT_EQ(&l, &lock);
      EXPECT_TRUE(lock.locked());
      co_await simloop::sleep(1ms);
      co_return 4;
    });
    EXPECT_EQ(n, 4);
    EXPECT_FALSE(lock.locked());
    co_await simloop::async_with(lock, [&]() -> Coro<void> {  // a body may ignore the lock
      EXPECT_TRUE(lock.locked());
      co_return;
    });
    EXPECT_FALSE(lock.locked());
  };
  loop.run_until_complete(body());
}

TEST(AsyncioConstructs, AsyncWithLockSerializesInFifoOrder) {
  SimLoop loop;
  Lock lock;
  std::vector<std::string> log;
  auto worker = [&](std::string name) -> Coro<void> {
    // Named before the co_await: it captures by value (GCC 12, see async_with.hpp).
    auto inside = [name, &log]() -> Coro<void> {
      log.push_back(name + " in");
      co_await simloop::sleep(1ms);
      log.push_back(name + " out");
    };
    co_await simloop::async_with(lock, std::move(inside));
  };
  auto body = [&]() -> Coro<void> { co_await simloop::gather(worker("a"), worker("b"), worker("c")); };
  loop.run_until_complete(body());
  EXPECT_EQ(log, (std::vector<std::string>{"a in", "a out", "b in", "b out", "c in", "c out"}));
  EXPECT_FALSE(lock.locked());
  EXPECT_EQ(lock.waiters(), 0u);
}

TEST(AsyncioConstructs, AsyncWithLockReleasesWhenTheBodyRaises) {
  SimLoop loop;
  Lock lock;
  auto body = [&]() -> Coro<void> {
    auto raising = [&]() -> Coro<int> {
      co_await simloop::sleep(1ms);
      throw std::runtime_error("body failed");
    };
    EXPECT_EQ(what_of(co_await error_of(simloop::async_with(lock, raising))), std::string("body failed"));
    EXPECT_FALSE(lock.locked());
    auto releases_itself = [&](Lock& l) -> Coro<void> {
      l.release();
      co_return;
    };
    std::exception_ptr e = co_await error_of(simloop::async_with(lock, releases_itself));
    EXPECT_EQ(what_of(e), "Lock.release: the lock is not acquired") << "an error of the release propagates";
  };
  loop.run_until_complete(body());
}

TEST(AsyncioConstructs, AsyncWithLockReleasesWhenTheBodyIsCancelled) {
  SimLoop loop;
  Lock lock;
  std::vector<std::string> log;
  auto holder = [&]() -> Coro<void> {
    co_await simloop::async_with(lock, [&]() -> Coro<void> {
      log.push_back("holder in");
      co_await simloop::sleep(10ms);
      log.push_back("holder done");  // never: cancelled at 1ms
    });
  };
  auto next = [&]() -> Coro<void> {
    co_await simloop::async_with(lock, [&]() -> Coro<void> {
      log.push_back("next in");
      co_return;
    });
  };
  auto body = [&]() -> Coro<void> {
    Task<void> h = simloop::create_task(holder());
    Task<void> n = simloop::create_task(next());
    loop.call_at(1ms, [h] { h.cancel(); });
    EXPECT_EQ(what_of(co_await error_of(h)), std::string("CancelledError"));
    co_await n;
    EXPECT_EQ(loop.time(), 1ms);
  };
  loop.run_until_complete(body());
  EXPECT_EQ(log, (std::vector<std::string>{"holder in", "next in"}));
  EXPECT_FALSE(lock.locked());
}

TEST(AsyncioConstructs, AsyncWithLockCancelledWhileWaitingToAcquire) {
  SimLoop loop;
  Lock lock;
  std::vector<std::string> log;
  auto user = [&](std::string name, std::chrono::milliseconds hold) -> Coro<void> {
    auto inside = [name, hold, &log]() -> Coro<void> {
      log.push_back(name);
      co_await simloop::sleep(hold);
    };
    co_await simloop::async_with(lock, std::move(inside));
  };
  auto body = [&]() -> Coro<void> {
    Task<void> a = simloop::create_task(user("a", 5ms));
    Task<void> b = simloop::create_task(user("b", 1ms));
    Task<void> c = simloop::create_task(user("c", 1ms));
    loop.call_at(1ms, [b] { b.cancel(); });
    EXPECT_EQ(what_of(co_await error_of(b)), std::string("CancelledError"));
    EXPECT_TRUE(lock.locked()) << "a still holds it: nothing was released for b";
    EXPECT_EQ(lock.waiters(), 1u) << "c alone waits";
    co_await a;
    co_await c;
    EXPECT_EQ(loop.time(), 6ms);
  };
  loop.run_until_complete(body());
  EXPECT_EQ(log, (std::vector<std::string>{"a", "c"})) << "b's body never ran";
  EXPECT_FALSE(lock.locked());
  EXPECT_EQ(lock.waiters(), 0u);
}

TEST(AsyncioConstructs, AsyncWithLockWaiterCancelledAfterItsWakeupHandsTheLockOn) {
  SimLoop loop;
  Lock lock;
  std::vector<std::string> log;
  Task<void> b;
  auto user = [&](std::string name) -> Coro<void> {
    auto inside = [name, &log]() -> Coro<void> {
      log.push_back(name);
      co_return;
    };
    co_await simloop::async_with(lock, std::move(inside));
  };
  auto body = [&]() -> Coro<void> {
    co_await lock.acquire();
    b = simloop::create_task(user("b"));
    Task<void> c = simloop::create_task(user("c"));
    co_await simloop::sleep(1ms);
    EXPECT_EQ(lock.waiters(), 2u);
    lock.release();  // wakes b ...
    b.cancel();      // ... which is cancelled before it runs: c must get the lock
    EXPECT_EQ(what_of(co_await error_of(b)), std::string("CancelledError"));
    co_await c;
  };
  loop.run_until_complete(body());
  EXPECT_EQ(log, (std::vector<std::string>{"c"}));
  EXPECT_FALSE(lock.locked());
}

// ---- async_with(semaphore) ------------------------------------------------------------

TEST(AsyncioConstructs, AsyncWithSemaphoreBoundsTheTasksInside) {
  SimLoop loop;
  Semaphore sem(2);
  int inside = 0;
  int most = 0;
  auto user = [&](std::chrono::milliseconds hold) -> Coro<int> {
    auto body = [&inside, &most, hold](Semaphore& s) -> Coro<int> {
      ++inside;
      most = std::max(most, inside);
      EXPECT_LE(s.value(), 1);
      co_await simloop::sleep(hold);
      --inside;
      co_return static_cast<int>(hold / 1ms);
    };
    co_return co_await simloop::async_with(sem, std::move(body));
  };
  auto body = [&]() -> Coro<void> {
    auto [a, b, c, d] = co_await simloop::gather(user(1ms), user(2ms), user(3ms), user(4ms));
    EXPECT_EQ(a + b + c + d, 10);
    EXPECT_EQ(loop.time(), 6ms) << "a and b, then c at 1ms and d at 2ms";
  };
  loop.run_until_complete(body());
  EXPECT_EQ(most, 2);
  EXPECT_EQ(sem.value(), 2);
}

TEST(AsyncioConstructs, AsyncWithSemaphoreGivesThePermitBackOnErrorAndCancel) {
  SimLoop loop;
  Semaphore sem(1);
  simloop::BoundedSemaphore bounded(1);
  auto body = [&]() -> Coro<void> {
    auto raising = [&]() -> Coro<void> {
      EXPECT_EQ(sem.value(), 0);
      co_await simloop::sleep(0ms);
      throw std::runtime_error("inside");
    };
    EXPECT_EQ(what_of(co_await error_of(simloop::async_with(sem, raising))), std::string("inside"));
    EXPECT_EQ(sem.value(), 1);

    auto holding = [&]() -> Coro<void> { co_await simloop::sleep(5ms); };
    Task<void> holder = simloop::create_task(simloop::async_with(sem, holding));
    Task<void> waiter = simloop::create_task(simloop::async_with(sem, holding));
    loop.call_at(1ms, [waiter] { waiter.cancel(); });  // still waiting for the permit
    loop.call_at(2ms, [holder] { holder.cancel(); });  // inside
    EXPECT_EQ(what_of(co_await error_of(waiter)), std::string("CancelledError"));
    EXPECT_EQ(what_of(co_await error_of(holder)), std::string("CancelledError"));
    EXPECT_EQ(sem.value(), 1) << "no permit lost, none made up";
    EXPECT_EQ(sem.waiters(), 0u);

    // A BoundedSemaphore raises TooManyReleasesError on a release too many:
    // async_with releases exactly once per acquire.
    for (int i = 0; i < 3; ++i) co_await simloop::async_with(bounded, holding);
    EXPECT_EQ(bounded.value(), 1);
  };
  loop.run_until_complete(body());
}

// ---- async_with(condition) ------------------------------------------------------------

TEST(AsyncioConstructs, AsyncWithConditionWaitsAndNotifies) {
  SimLoop loop;
  Condition cond;
  bool ready = false;
  std::vector<std::string> log;
  auto consumer = [&](std::string name) -> Coro<void> {
    auto inside = [name, &log, &ready](Condition& c) -> Coro<void> {
      co_await c.wait_for([&ready] { return ready; });
      EXPECT_TRUE(c.locked()) << "wait re-acquires the lock";
      log.push_back(name);
    };
    co_await simloop::async_with(cond, std::move(inside));
  };
  auto producer = [&]() -> Coro<void> {
    co_await simloop::sleep(1ms);
    co_await simloop::async_with(cond, [&](Condition& c) -> Coro<void> {
      ready = true;
      c.notify_all();
      co_return;
    });
  };
  auto body = [&]() -> Coro<void> { co_await simloop::gather(consumer("x"), consumer("y"), producer()); };
  loop.run_until_complete(body());
  EXPECT_EQ(log, (std::vector<std::string>{"x", "y"}));
  EXPECT_FALSE(cond.locked());
  EXPECT_EQ(cond.waiters(), 0u);
}

TEST(AsyncioConstructs, AsyncWithConditionReleasesOnErrorAndCancel) {
  SimLoop loop;
  Condition cond;
  auto body = [&]() -> Coro<void> {
    auto raising = [&](Condition&) -> Coro<void> {
      co_await simloop::sleep(1ms);
      throw std::runtime_error("no");
    };
    EXPECT_EQ(what_of(co_await error_of(simloop::async_with(cond, raising))), std::string("no"));
    EXPECT_FALSE(cond.locked());

    // Cancelled inside wait(): wait re-acquires the lock, async_with releases it.
    auto waiting = [&](Condition& c) -> Coro<void> { co_await c.wait(); };
    Task<void> waiter = simloop::create_task(simloop::async_with(cond, waiting));
    // Cancelled while waiting for the condition's lock.
    auto holding = [&](Condition&) -> Coro<void> { co_await simloop::sleep(5ms); };
    co_await simloop::sleep(1ms);
    Task<void> holder = simloop::create_task(simloop::async_with(cond, holding));
    co_await simloop::sleep(1ms);
    Task<void> blocked = simloop::create_task(simloop::async_with(cond, holding));
    co_await simloop::sleep(1ms);
    EXPECT_TRUE(cond.locked());
    waiter.cancel();
    blocked.cancel();
    EXPECT_EQ(what_of(co_await error_of(blocked)), std::string("CancelledError"));
    co_await holder;
    EXPECT_EQ(what_of(co_await error_of(waiter)), std::string("CancelledError"));
    EXPECT_FALSE(cond.locked());
    EXPECT_EQ(cond.waiters(), 0u);
  };
  loop.run_until_complete(body());
}

// ---- async_with(timeout) --------------------------------------------------------------

TEST(AsyncioConstructs, AsyncWithTimeoutTurnsItsCancellationIntoTimeoutError) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    bool cancelled_inside = false;
    auto slow = [&]() -> Coro<int> {
      try {
        co_await simloop::sleep(10ms);
      } catch (const simloop::CancelledError&) {
        cancelled_inside = true;
        throw;
      }
      co_return 1;
    };
    std::exception_ptr e = co_await error_of(simloop::async_with(simloop::timeout(2ms), slow));
    EXPECT_TRUE(timeout_with_cancel_cause(e)) << what_of(e);
    EXPECT_TRUE(cancelled_inside) << "the body saw the CancelledError";
    EXPECT_EQ(loop.time(), 2ms);
    EXPECT_EQ(simloop::current_task().cancelling(), 0) << "the timeout took its cancel request back";
    EXPECT_EQ(loop.timer_count(), 0u);

    e = co_await error_of(simloop::async_with(simloop::timeout_at(loop.time() + 1ms), slow));
    EXPECT_TRUE(timeout_with_cancel_cause(e));
    EXPECT_EQ(loop.time(), 3ms);
  };
  loop.run_until_complete(body());
}

TEST(AsyncioConstructs, AsyncWithTimeoutInTimeReturnsTheValue) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    int n = co_await simloop::async_with(simloop::timeout(5ms),
                                         [&]() -> Coro<int> { co_return co_await value_after(1ms, 7); });
    EXPECT_EQ(n, 7);
    EXPECT_EQ(loop.timer_count(), 0u) << "leaving disarms the timer";
    co_await simloop::async_with(simloop::timeout(std::nullopt), [&]() -> Coro<void> { co_await simloop::sleep(1h); });
    EXPECT_EQ(loop.time(), 1h + 1ms);
    // `as cm`: the body reschedules its own timeout.
    co_await simloop::async_with(simloop::timeout(1ms), [&](Timeout& cm) -> Coro<void> {
      EXPECT_EQ(cm.state(), Timeout::State::Entered);
      cm.reschedule(loop.time() + 5ms);
      co_await simloop::sleep(3ms);
    });
  };
  loop.run_until_complete(body());
}

TEST(AsyncioConstructs, AsyncWithTimeoutLetsOtherErrorsAndOuterCancellationThrough) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    auto raising = [&]() -> Coro<void> {
      co_await simloop::sleep(1ms);
      throw std::runtime_error("not a timeout");
    };
    EXPECT_EQ(what_of(co_await error_of(simloop::async_with(simloop::timeout(5ms), raising))),
              std::string("not a timeout"));

    auto slow = [&]() -> Coro<void> { co_await simloop::sleep(10ms); };
    Task<void> outer = simloop::create_task(simloop::async_with(simloop::timeout(5ms), slow));
    loop.call_at(loop.time() + 1ms, [outer] { outer.cancel(); });
    EXPECT_EQ(what_of(co_await error_of(outer)), std::string("CancelledError"))
        << "an outer cancellation is not a timeout";

    // Both in the same iteration: the outer cancellation still wins.
    Task<void> both = simloop::create_task(simloop::async_with(simloop::timeout(1ms), slow));
    loop.call_at(loop.time() + 1ms, [both] { both.cancel(); });
    EXPECT_EQ(what_of(co_await error_of(both)), std::string("CancelledError"));
  };
  loop.run_until_complete(body());
}

TEST(AsyncioConstructs, AsyncWithATimeoutTheCallerKeeps) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    Timeout cm = simloop::timeout(1ms);
    auto slow = [&]() -> Coro<void> { co_await simloop::sleep(10ms); };
    EXPECT_TRUE(timeout_with_cancel_cause(co_await error_of(simloop::async_with(cm, slow))));
    EXPECT_TRUE(cm.expired()) << "readable after the block, as `cm.expired()`";
    EXPECT_EQ(cm.state(), Timeout::State::Expired);
    EXPECT_THROW((void)simloop::async_with(std::move(cm), slow), simloop::TimeoutStateError);
    EXPECT_EQ(what_of(co_await error_of(simloop::async_with(cm, slow))),
              std::string("Timeout.enter: the timeout has already been entered"));
  };
  loop.run_until_complete(body());
}

// ---- async_with(TaskGroup()) -------------------------------------------------------------

TEST(AsyncioConstructs, AsyncWithTaskGroupWaitsForEveryChild) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    Task<int> a;
    Task<std::string> b;
    int n = co_await simloop::async_with(TaskGroup(), [&](TaskGroup& tg) -> Coro<int> {
      a = tg.create_task(value_after(2ms, 1));
      b = tg.create_task(text_after(5ms, "b"));
      EXPECT_EQ(tg.size(), 2u);
      co_return 10;
    });
    EXPECT_EQ(n, 10);
    EXPECT_EQ(loop.time(), 5ms) << "left once every child is done";
    EXPECT_EQ(a.result(), 1);
    EXPECT_EQ(b.result(), "b");
  };
  loop.run_until_complete(body());
}

TEST(AsyncioConstructs, AsyncWithTaskGroupCollectsChildErrors) {
  SimLoop loop;
  std::vector<std::string> log;
  auto body = [&]() -> Coro<void> {
    Task<int> sibling;
    auto children = [&](TaskGroup& tg) -> Coro<void> {
      sibling = tg.create_task(value_after(10ms, 0));
      tg.create_task(fail_after(1ms, "one"));
      tg.create_task(fail_after(1ms, "two"));
      try {
        co_await simloop::sleep(10ms);
      } catch (const simloop::CancelledError&) {
        log.push_back("body cancelled");
        throw;
      }
    };
    std::exception_ptr e = co_await error_of(simloop::async_with(TaskGroup(), children));
    EXPECT_EQ(whats(e), (std::vector<std::string>{"one", "two"}));
    EXPECT_TRUE(sibling.cancelled());
    EXPECT_EQ(loop.time(), 1ms);
    EXPECT_EQ(simloop::current_task().cancelling(), 0) << "the group took its cancel request back";

    auto raising = [&](TaskGroup& tg) -> Coro<void> {
      sibling = tg.create_task(value_after(10ms, 0));
      co_await simloop::sleep(1ms);
      throw std::runtime_error("body");
    };
    e = co_await error_of(simloop::async_with(TaskGroup(), raising));
    EXPECT_EQ(whats(e), (std::vector<std::string>{"body"}));
    EXPECT_TRUE(sibling.cancelled());
  };
  loop.run_until_complete(body());
  EXPECT_EQ(log, (std::vector<std::string>{"body cancelled"}));
}

TEST(AsyncioConstructs, AsyncWithTaskGroupOuterCancellationCancelsTheChildren) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    Task<int> child;
    auto children = [&](TaskGroup& tg) -> Coro<void> {
      child = tg.create_task(value_after(10ms, 0));
      co_await simloop::sleep(10ms);
    };
    Task<void> parent = simloop::create_task(simloop::async_with(TaskGroup(), children));
    loop.call_at(1ms, [parent] { parent.cancel(); });
    EXPECT_EQ(what_of(co_await error_of(parent)), std::string("CancelledError"));
    EXPECT_TRUE(child.cancelled());
    EXPECT_EQ(loop.time(), 1ms);
  };
  loop.run_until_complete(body());
}

TEST(AsyncioConstructs, AsyncWithATaskGroupTheCallerKeeps) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    TaskGroup tg;
    auto children = [&](TaskGroup& g) -> Coro<void> {
      EXPECT_EQ(&g, &tg);
      g.create_task(value_after(1ms, 0));
      co_return;
    };
    co_await simloop::async_with(tg, children);
    EXPECT_TRUE(tg.entered());
    EXPECT_EQ(tg.size(), 0u);
    EXPECT_THROW((void)simloop::async_with(std::move(tg), children), simloop::TaskGroupStateError);
  };
  loop.run_until_complete(body());
}

// ---- docs/primitives.md's side-by-side example, as written there ---------------------

namespace {
struct Account {
  int balance = 100;
};

simloop::Coro<void> transfer(simloop::Lock* lock, Account* account) {
  auto locked = [account]() -> simloop::Coro<void> {  // captures by value: named (GCC 12)
    account->balance -= 10;
    co_await simloop::sleep(100ms);
    account->balance += 10;
  };
  auto timed = [lock, &locked]() -> simloop::Coro<void> { co_await simloop::async_with(*lock, locked); };
  co_await simloop::async_with(simloop::timeout(1s), timed);
}
}  // namespace

TEST(AsyncioConstructs, TheDocumentedTransfer) {
  SimLoop loop;
  Lock lock;
  Account account;
  auto body = [&]() -> Coro<void> {
    co_await simloop::gather(transfer(&lock, &account), transfer(&lock, &account));
    EXPECT_EQ(loop.time(), 200ms) << "one at a time";
    EXPECT_EQ(account.balance, 100);

    co_await lock.acquire();  // held elsewhere for longer than the timeout
    std::exception_ptr e = co_await error_of(transfer(&lock, &account));
    EXPECT_TRUE(timeout_with_cancel_cause(e));
    EXPECT_EQ(loop.time(), 1200ms);
    EXPECT_TRUE(lock.locked());
    EXPECT_EQ(lock.waiters(), 0u) << "the timed-out waiter left the queue";
    lock.release();
  };
  loop.run_until_complete(body());
  EXPECT_EQ(account.balance, 100);
}

// ---- every construct leaves its context under the synchronous-resumption budget ------

// Whatever co_await the budget cuts short, the lock is released, the timer
// disarmed and the group left.
TEST(AsyncioConstructs, AsyncWithLeavesItsContextWhereverTheBudgetRunsOut) {
  for (std::uint64_t limit = 1; limit <= 16; ++limit) {
    SCOPED_TRACE(limit);
    SimLoop loop;
    Lock lock;
    Semaphore sem(1);
    std::vector<Task<int>> children;
    int cut_short = 0;
    auto one = []() -> Coro<int> { co_return 1; };
    auto synchronous = [&one](int n) -> Coro<int> {
      int sum = 0;
      for (int i = 0; i < n; ++i) sum += co_await one();
      co_return sum;
    };
    auto body = [&]() -> Coro<void> {
      auto inside = [&]() -> Coro<int> { co_return co_await synchronous(4); };
      auto in_group = [&](TaskGroup& tg) -> Coro<int> {
        children.push_back(tg.create_task(value_after(1ms, 0)));
        co_return co_await synchronous(4);
      };
      for (int round = 0; round < 8; ++round) {
        try {
          switch (round % 4) {
            case 0: co_await simloop::async_with(lock, inside); break;
            case 1: co_await simloop::async_with(sem, inside); break;
            case 2: co_await simloop::async_with(simloop::timeout(1s), inside); break;
            default: co_await simloop::async_with(TaskGroup(), in_group); break;
          }
        } catch (const simloop::SyncResumeBudgetError&) {
          ++cut_short;
        } catch (const simloop::ExceptionGroup&) {
          ++cut_short;  // the group's body was cut short
        }
        EXPECT_FALSE(lock.locked());
        EXPECT_EQ(sem.value(), 1);
      }
    };
    loop.set_max_sync_resumes(limit);
    loop.run_until_complete(body());
    EXPECT_GT(cut_short, 0);
    EXPECT_FALSE(lock.locked());
    EXPECT_EQ(sem.value(), 1);
    EXPECT_EQ(loop.timer_count(), 0u);
    for (const Task<int>& c : children) EXPECT_TRUE(c.done()) << "a group is left once its children are done";
  }
}
