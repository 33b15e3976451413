// The loop, futures, tasks and sleep: behaviour and every misuse error.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include <simloop/simloop.hpp>

using namespace std::chrono_literals;
using simloop::Coro;
using simloop::Future;
using simloop::Task;
using simloop::sim::SimLoop;

namespace {

// Collects what the loop reports, instead of printing it.
struct Reports {
  std::vector<simloop::ExceptionContext> items;
  void attach(simloop::EventLoop& loop) {
    loop.set_exception_handler(
        [this](simloop::EventLoop&, const simloop::ExceptionContext& context) { items.push_back(context); });
  }
};

Coro<int> returns(int v) { co_return v; }

}  // namespace

// ---- the loop ------------------------------------------------------------------

TEST(EventLoop, CallSoonIsFifoAndLaterCallbacksWaitForTheNextIteration) {
  SimLoop loop;
  std::vector<int> order;
  loop.call_soon([&] {
    order.push_back(1);
    loop.call_soon([&] { order.push_back(4); });
  });
  loop.call_soon([&] { order.push_back(2); });
  loop.call_soon([&] { order.push_back(3); });
  loop.run_once();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  loop.run_once();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4}));
}

TEST(EventLoop, VirtualClockJumpsToTheNextTimer) {
  SimLoop loop;
  std::vector<std::int64_t> fired_ms;
  loop.call_later(250ms, [&] { fired_ms.push_back(loop.time() / 1ms); });
  loop.call_at(1s, [&] {
    fired_ms.push_back(loop.time() / 1ms);
    loop.stop();
  });
  loop.run_forever();
  EXPECT_EQ(fired_ms, (std::vector<std::int64_t>{250, 1000}));
}

TEST(EventLoop, CancelledHandlesAndTimersDoNotRun) {
  SimLoop loop;
  int ran = 0;
  auto h = loop.call_soon([&] { ++ran; });
  auto t = loop.call_later(1s, [&] { ++ran; });
  h.cancel();
  t.cancel();
  EXPECT_TRUE(h.cancelled());
  EXPECT_EQ(loop.timer_count(), 0u);
  loop.call_later(2s, [&] { loop.stop(); });
  loop.run_forever();
  EXPECT_EQ(ran, 0);
  EXPECT_EQ(loop.time(), 2s);
}

TEST(EventLoop, ManyCancelledTimersAreDroppedFromTheHeap) {
  SimLoop loop;
  std::vector<simloop::HandleRef> timers;
  for (int i = 0; i < 1000; ++i) timers.push_back(loop.call_later(std::chrono::seconds(i + 1), [] {}));
  for (int i = 0; i < 900; ++i) timers[i].cancel();
  EXPECT_EQ(loop.timer_count(), 100u);
  loop.call_soon([&] { loop.stop(); });
  loop.run_forever();  // one iteration rebuilds the heap
  EXPECT_EQ(loop.timer_count(), 100u);
  EXPECT_EQ(loop.next_timer(), std::optional<simloop::Duration>(901s));
}

TEST(EventLoop, AnExceptionInACallbackReachesTheHandlerAndTheLoopGoesOn) {
  SimLoop loop;
  Reports reports;
  reports.attach(loop);
  bool later_ran = false;
  loop.call_soon([] { throw std::runtime_error("boom"); });
  loop.call_soon([&] {
    later_ran = true;
    loop.stop();
  });
  loop.run_forever();
  EXPECT_TRUE(later_ran);
  ASSERT_EQ(reports.items.size(), 1u);
  EXPECT_EQ(reports.items[0].message, "Exception in callback");
  EXPECT_NE(reports.items[0].source.find("core_loop_test.cpp"), std::string::npos) << reports.items[0].source;
  EXPECT_THROW(std::rethrow_exception(reports.items[0].exception), std::runtime_error);
}

TEST(EventLoop, StopLetsTheCurrentIterationFinish) {
  SimLoop loop;
  std::vector<std::string> order;
  loop.call_soon([&] {
    order.push_back("stop");
    loop.stop();
  });
  loop.call_soon([&] { order.push_back("same iteration"); });
  loop.call_soon([&] { loop.call_soon([&] { order.push_back("next iteration"); }); });
  loop.run_forever();
  EXPECT_EQ(order, (std::vector<std::string>{"stop", "same iteration"}));
  EXPECT_FALSE(loop.is_running());
}

TEST(EventLoop, DeadlockIsReportedWithTheTaskDump) {
  SimLoop loop;
  auto never = Future<int>::create(loop);
  auto stuck = [&]() -> Coro<int> { co_return co_await never; };
  try {
    loop.run_until_complete(stuck());
    FAIL() << "expected a DeadlockError";
  } catch (const simloop::DeadlockError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("deadlock"), std::string::npos);
    EXPECT_NE(what.find("name='Task-1'"), std::string::npos) << what;
    EXPECT_NE(what.find("wait_for=<Future pending>"), std::string::npos) << what;
    EXPECT_NE(what.find("core_loop_test.cpp"), std::string::npos) << what;
  }
  Reports reports;
  reports.attach(loop);
  loop.close();
  EXPECT_EQ(reports.items.size(), 1u);
}

// ---- misuse: each raises its own error with a message ---------------------------

TEST(Misuse, CompletingADoneFuture) {
  SimLoop loop;
  auto f = Future<int>::create(loop);
  f.set_result(1);
  EXPECT_THROW(f.set_result(2), simloop::FutureAlreadyDoneError);
  EXPECT_THROW(f.set_exception(std::runtime_error("x")), simloop::FutureAlreadyDoneError);
  try {
    f.set_result(3);
  } catch (const simloop::FutureAlreadyDoneError& e) {
    EXPECT_NE(std::string(e.what()).find("already done"), std::string::npos) << e.what();
  }
  EXPECT_EQ(f.result(), 1);
  EXPECT_FALSE(f.cancel());
}

TEST(Misuse, ReadingAPendingFuture) {
  SimLoop loop;
  auto f = Future<int>::create(loop);
  EXPECT_THROW(f.result(), simloop::FutureNotDoneError);
  EXPECT_THROW(f.exception(), simloop::FutureNotDoneError);
  try {
    f.result();
  } catch (const simloop::FutureNotDoneError& e) {
    EXPECT_NE(std::string(e.what()).find("still pending"), std::string::npos) << e.what();
  }
}

TEST(Misuse, RunningAClosedLoop) {
  SimLoop loop;
  loop.close();
  EXPECT_THROW(loop.run_forever(), simloop::LoopClosedError);
  EXPECT_THROW(loop.run_until_complete(returns(1)), simloop::LoopClosedError);
  EXPECT_THROW(loop.call_soon([] {}), simloop::LoopClosedError);
  EXPECT_THROW(loop.call_later(1s, [] {}), simloop::LoopClosedError);
  try {
    loop.run_forever();
  } catch (const simloop::LoopClosedError& e) {
    EXPECT_NE(std::string(e.what()).find("closed"), std::string::npos);
  }
}

TEST(Misuse, RunForeverWhileRunning) {
  SimLoop loop;
  bool raised = false;
  loop.call_soon([&] {
    try {
      loop.run_forever();
    } catch (const simloop::LoopRunningError& e) {
      raised = std::string(e.what()).find("already running") != std::string::npos;
    }
    loop.stop();
  });
  loop.run_forever();
  EXPECT_TRUE(raised);
  bool close_refused = false;
  loop.call_soon([&] {
    try {
      loop.close();
    } catch (const simloop::LoopRunningError&) {
      close_refused = true;
    }
  });
  EXPECT_EQ(loop.run_until_complete(returns(1)), 1);
  EXPECT_TRUE(close_refused);
  EXPECT_FALSE(loop.is_closed());
}

TEST(Misuse, AwaitingAFutureOfAnotherLoop) {
  SimLoop other;
  SimLoop loop;
  auto foreign = Future<int>::create(other);
  auto body = [&]() -> Coro<int> { co_return co_await foreign; };
  try {
    loop.run_until_complete(body());
    FAIL() << "expected ForeignLoopError";
  } catch (const simloop::ForeignLoopError& e) {
    EXPECT_NE(std::string(e.what()).find("another event loop"), std::string::npos) << e.what();
  }
  EXPECT_THROW(loop.run_until_complete(Future<int>(foreign)), simloop::ForeignLoopError);
}

TEST(Misuse, ATaskAwaitingItself) {
  SimLoop loop;
  Task<int> self;
  auto body = [&]() -> Coro<int> {
    co_await simloop::sleep(0s);
    co_return co_await self;
  };
  self = loop.create_task(body());
  try {
    loop.run_until_complete(Future<int>(self));
    FAIL() << "expected SelfAwaitError";
  } catch (const simloop::SelfAwaitError& e) {
    EXPECT_NE(std::string(e.what()).find("awaits itself"), std::string::npos) << e.what();
  }
}

TEST(Misuse, AwaitingACoroTwiceOrOutsideALoop) {
  SimLoop loop;
  auto body = []() -> Coro<int> {
    Coro<int> c = returns(4);
    int a = co_await c;
    int b = co_await c;  // already awaited
    co_return a + b;
  };
  EXPECT_THROW(loop.run_until_complete(body()), simloop::InvalidStateError);
  EXPECT_THROW(simloop::create_task(returns(1)), simloop::NoRunningTaskError);
}

// ---- futures --------------------------------------------------------------------

TEST(Future, DoneCallbacksRunThroughTheReadyQueueInOrder) {
  SimLoop loop;
  auto f = Future<std::string>::create(loop);
  std::vector<std::string> seen;
  f.add_done_callback([&](Future<std::string>& done) { seen.push_back("a:" + done.result()); });
  auto b = f.add_done_callback([&] { seen.push_back("b"); });
  f.add_done_callback([&] { seen.push_back("c"); });
  EXPECT_EQ(f.remove_done_callback(b), 1u);
  f.set_result("x");
  EXPECT_TRUE(seen.empty()) << "callbacks must not run inline";
  loop.run_once();
  EXPECT_EQ(seen, (std::vector<std::string>{"a:x", "c"}));
  f.add_done_callback([&] { seen.push_back("late"); });
  EXPECT_EQ(seen.size(), 2u);
  loop.run_once();
  EXPECT_EQ(seen.back(), "late");
}

TEST(Future, NeverRetrievedExceptionIsReportedWhenTheFutureDies) {
  SimLoop loop;
  Reports reports;
  reports.attach(loop);
  {
    auto f = Future<int>::create(loop);
    f.set_exception(std::runtime_error("lost"));
  }
  ASSERT_EQ(reports.items.size(), 1u);
  EXPECT_EQ(reports.items[0].message, "Future exception was never retrieved");
  {
    auto f = Future<int>::create(loop);
    f.set_exception(std::runtime_error("seen"));
    EXPECT_TRUE(f.exception() != nullptr);
  }
  EXPECT_EQ(reports.items.size(), 1u);
}

TEST(Future, CancelledFutureRaisesCancelledErrorWithItsMessage) {
  SimLoop loop;
  auto f = Future<void>::create(loop);
  EXPECT_TRUE(f.cancel("why"));
  EXPECT_TRUE(f.cancelled());
  EXPECT_FALSE(f.cancel());
  try {
    f.result();
    FAIL();
  } catch (const simloop::CancelledError& e) {
    EXPECT_EQ(e.message(), "why");
  }
}

TEST(Future, CancelledErrorIsNotAStdException) {
  static_assert(!std::is_base_of_v<std::exception, simloop::CancelledError>);
  SimLoop loop;
  bool swallowed_by_std_exception = false;
  auto body = [&]() -> Coro<> {
    try {
      co_await simloop::sleep(10s);
    } catch (const std::exception&) {
      swallowed_by_std_exception = true;
    }
  };
  auto task = loop.create_task(body());
  loop.call_later(1s, [&] { task.cancel(); });
  EXPECT_THROW(loop.run_until_complete(Future<void>(task)), simloop::CancelledError);
  EXPECT_FALSE(swallowed_by_std_exception);
}

TEST(Future, MoveOnlyResultsMoveOutOfAnRvalueAwait) {
  SimLoop loop;
  auto body = [&]() -> Coro<int> {
    auto make = []() -> Coro<std::unique_ptr<int>> { co_return std::make_unique<int>(9); };
    std::unique_ptr<int> p = co_await loop.create_task(make());
    co_return *p;
  };
  EXPECT_EQ(loop.run_until_complete(body()), 9);
}

// ---- tasks ----------------------------------------------------------------------

TEST(Task, FirstStepIsScheduledNotRunEagerly) {
  SimLoop loop;
  bool started = false;
  auto body = [&]() -> Coro<> {
    started = true;
    co_return;
  };
  auto outer = [&]() -> Coro<> {
    auto t = loop.create_task(body());
    EXPECT_FALSE(started);
    co_await t;
    EXPECT_TRUE(started);
  };
  loop.run_until_complete(outer());
  EXPECT_TRUE(started);
}

TEST(Task, NamesCurrentTaskAllTasksAndRepr) {
  SimLoop loop;
  auto body = [&]() -> Coro<std::string> {
    simloop::AnyTask me = simloop::current_task();
    co_await simloop::sleep(1s);
    co_return me.get_name();
  };
  auto outer = [&]() -> Coro<std::string> {
    auto named = loop.create_task(body(), "worker");
    auto unnamed = loop.create_task(body());
    co_await simloop::sleep(0s);
    auto tasks = simloop::all_tasks(loop);
    EXPECT_EQ(tasks.size(), 3u);
    EXPECT_NE(named.repr().find("name='worker'"), std::string::npos);
    EXPECT_NE(named.repr().find("wait_for=<Future pending>"), std::string::npos) << named.repr();
    EXPECT_NE(named.repr().find("core_loop_test.cpp"), std::string::npos) << named.repr();
    std::string a = co_await named;
    std::string b = co_await unnamed;
    co_return a + "," + b;
  };
  EXPECT_EQ(loop.run_until_complete(outer()), "worker,Task-3");
  EXPECT_TRUE(simloop::all_tasks(loop).empty());
  EXPECT_FALSE(simloop::current_task(loop));
}

TEST(Task, DumpTasksShowsWhereEachTaskWaits) {
  SimLoop loop;
  auto never = Future<void>::create(loop);
  auto parked = [&]() -> Coro<> { co_await never; };
  auto t = loop.create_task(parked(), "parked");
  loop.run_once();
  const std::string dump = loop.dump_tasks();
  EXPECT_NE(dump.find("<Task pending name='parked'"), std::string::npos) << dump;
  EXPECT_NE(dump.find("core_loop_test.cpp:"), std::string::npos) << dump;
  EXPECT_NE(dump.find("wait_for=<Future pending>"), std::string::npos) << dump;
  Reports reports;
  reports.attach(loop);
  loop.close();
  ASSERT_EQ(reports.items.size(), 1u);
  EXPECT_EQ(reports.items[0].message, "Task was destroyed but it is pending!");
  EXPECT_FALSE(t.done());
}

TEST(Task, ExceptionNeverRetrievedFromATaskIsReported) {
  Reports reports;
  {
    SimLoop loop;
    reports.attach(loop);
    auto failing = []() -> Coro<> {
      throw std::runtime_error("nobody looks");
      co_return;
    };
    {
      auto t = loop.create_task(failing());
      loop.run_once();
      EXPECT_TRUE(t.done());
    }
    EXPECT_EQ(reports.items.size(), 1u);
    if (!reports.items.empty()) {
      EXPECT_EQ(reports.items[0].message, "Task exception was never retrieved");
    }
  }
}

TEST(Task, CancelWhileItsWakeupIsQueuedRaisesCancelledError) {
  SimLoop loop;
  auto f = Future<int>::create(loop);
  bool got_value = false;
  auto waiter = [&]() -> Coro<> {
    co_await f;
    got_value = true;
  };
  auto t = loop.create_task(waiter());
  loop.run_once();  // the task now waits on f
  f.set_result(1);  // its wakeup is queued
  EXPECT_TRUE(t.cancel());
  loop.run_once();
  EXPECT_TRUE(t.cancelled());
  EXPECT_FALSE(got_value);
}

TEST(Task, SelfCancelCancelsTheNextAwait) {
  SimLoop loop;
  bool reached = false;
  auto body = [&]() -> Coro<> {
    simloop::current_task().cancel();
    co_await simloop::sleep(1s);
    reached = true;
  };
  EXPECT_THROW(loop.run_until_complete(body()), simloop::CancelledError);
  EXPECT_FALSE(reached);
  EXPECT_EQ(loop.time(), 0s);
}

TEST(Task, CancelledTaskThatReturnsNormallyAfterCancelIsCancelled) {
  // Cancelled while running its last step: asyncio cancels it instead of
  // setting the result (Task.__step, "cancelled right before coro stops").
  SimLoop loop;
  auto body = [&]() -> Coro<int> {
    simloop::current_task().cancel();
    co_return 5;
  };
  auto t = loop.create_task(body());
  loop.run_once();
  EXPECT_TRUE(t.cancelled());
}

TEST(Sleep, ZeroYieldsExactlyOneIteration) {
  SimLoop loop;
  std::vector<std::string> order;
  auto body = [&]() -> Coro<> {
    order.push_back("before");
    co_await simloop::sleep(0s);
    order.push_back("after");
  };
  loop.create_task(body());
  loop.call_soon([&] { loop.call_soon([&] { order.push_back("cb2"); }); });
  loop.run_once();
  EXPECT_EQ(order, (std::vector<std::string>{"before"}));
  loop.run_once();
  EXPECT_EQ(order, (std::vector<std::string>{"before", "after", "cb2"}));
}

TEST(Sleep, ResumesNoEarlierThanItsDelay) {
  SimLoop loop;
  auto body = [&]() -> Coro<simloop::Duration> {
    loop.call_later(300ms, [] {});
    const auto start = loop.time();
    co_await simloop::sleep(1500us);
    co_await simloop::sleep(std::chrono::duration<double>(0.25));
    co_return loop.time() - start;
  };
  EXPECT_EQ(loop.run_until_complete(body()), 1500us + 250ms);
}

TEST(Task, SwallowedCancelIsReportedWhenAsked) {
  SimLoop loop;
  Reports reports;
  reports.attach(loop);
  loop.set_report_swallowed_cancel(true);
  auto swallows = []() -> Coro<int> {
    try {
      co_await simloop::sleep(10s);
    } catch (const simloop::CancelledError&) {
      // swallowed: neither rethrown nor uncancelled
    }
    co_return 1;
  };
  auto cleans_up = []() -> Coro<int> {
    try {
      co_await simloop::sleep(10s);
    } catch (const simloop::CancelledError&) {
      simloop::current_task().uncancel();  // a deliberate, declared swallow
    }
    co_return 2;
  };
  auto a = loop.create_task(swallows(), "swallows");
  auto b = loop.create_task(cleans_up(), "cleans_up");
  loop.call_later(1s, [&] {
    a.cancel();
    b.cancel();
  });
  auto both = [&]() -> Coro<int> { co_return co_await a + co_await b; };
  EXPECT_EQ(loop.run_until_complete(both()), 3);
  ASSERT_EQ(reports.items.size(), 1u);
  EXPECT_NE(reports.items[0].message.find("swallowed a cancel request"), std::string::npos);
  EXPECT_NE(reports.items[0].source.find("name='swallows'"), std::string::npos) << reports.items[0].source;
}
