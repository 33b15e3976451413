// The core scenarios: the loop, futures, tasks, cancellation and sleep.
// Each has its asyncio twin in scenarios/<name>.py.
#include <stdexcept>
#include <string>
#include <vector>

#include "scenarios.hpp"

using namespace std::chrono_literals;
using simloop::AnyTask;
using simloop::CancelledError;
using simloop::Coro;
using simloop::Future;
using simloop::sim::SimLoop;

namespace {
using conformance::py;
}  // namespace

SIMLOOP_CONFORMANCE(seed002) {
  SimLoop loop;
  log.attach(loop);
  auto say_after_time = [&](std::chrono::seconds delay, std::string what, std::string name) -> Coro<> {
    co_await simloop::sleep(delay);
    log("{} {}", name, what);
  };
  auto main_task = [&](std::string name) -> Coro<> {
    log("{} start", name);
    co_await say_after_time(1s, "hello", name);
    co_await say_after_time(5s, "world", name);
    log("{} end", name);
  };
  auto task1 = loop.create_task(main_task("task1"));
  auto task2 = loop.create_task(main_task("task2"));
  auto both = [&]() -> Coro<> {
    co_await task1;
    co_await task2;
  };
  loop.run_until_complete(both());
  log("done");
}

SIMLOOP_CONFORMANCE(call_soon_order) {
  SimLoop loop;
  log.attach(loop);
  std::function<void(std::string)> cb = [&](std::string name) {
    log("cb {}", name);
    if (name == "A") loop.call_soon([&] { cb("D"); });
  };
  loop.call_soon([&] { cb("A"); });
  loop.call_soon([&] { cb("B"); });
  loop.call_later(0s, [&] { cb("T0"); });
  loop.call_soon([&] { cb("C"); });
  loop.call_later(500ms, [&] { cb("L"); });
  loop.call_later(500ms, [&] { loop.stop(); });
  loop.run_forever();
  log("stopped");
}

SIMLOOP_CONFORMANCE(timer_ties) {
  SimLoop loop;
  log.attach(loop);
  std::function<void(std::string)> cb = [&](std::string name) {
    log("timer {}", name);
    if (name == "X") loop.call_at(1s, [&] { cb("H"); });
  };
  for (std::string name : {"A", "B", "C", "D", "E", "F", "G"}) loop.call_at(1s, [&cb, name] { cb(name); });
  loop.call_later(500ms, [&] { cb("X"); });
  loop.call_at(1s, [&] { loop.stop(); });
  loop.run_forever();
}

SIMLOOP_CONFORMANCE(cancel_before_first_step) {
  SimLoop loop;
  log.attach(loop);
  auto child = [&]() -> Coro<int> {
    log("child started");
    co_return 1;
  };
  auto main_task = [&]() -> Coro<> {
    auto t = loop.create_task(child());
    t.cancel();
    log("cancel requested cancelling={}", t.cancelling());
    try {
      co_await t;
    } catch (const CancelledError&) {
      log("main saw CancelledError");
    }
    log("done={} cancelled={}", py(t.done()), py(t.cancelled()));
  };
  loop.run_until_complete(main_task());
}

SIMLOOP_CONFORMANCE(cancel_during_sleep) {
  SimLoop loop;
  log.attach(loop);
  auto sleeper = [&]() -> Coro<> {
    log("sleeper sleeping");
    try {
      co_await simloop::sleep(10s);
    } catch (const CancelledError&) {
      log("sleeper cancelled");
      throw;
    }
    log("sleeper woke");
  };
  auto main_task = [&]() -> Coro<> {
    auto t = loop.create_task(sleeper());
    co_await simloop::sleep(1s);
    t.cancel();
    log("cancel sent");
    try {
      co_await t;
    } catch (const CancelledError&) {
      log("main saw CancelledError");
    }
    log("cancelled={}", py(t.cancelled()));
  };
  loop.run_until_complete(main_task());
}

SIMLOOP_CONFORMANCE(catch_cancel_and_continue) {
  SimLoop loop;
  log.attach(loop);
  auto stubborn = [&]() -> Coro<int> {
    try {
      co_await simloop::sleep(5s);
    } catch (const CancelledError&) {
      AnyTask self = simloop::current_task();
      log("caught cancel cancelling={}", self.cancelling());
      self.uncancel();
    }
    co_await simloop::sleep(1s);
    log("carried on");
    co_return 42;
  };
  auto main_task = [&]() -> Coro<> {
    auto t = loop.create_task(stubborn());
    co_await simloop::sleep(1s);
    t.cancel();
    int r = co_await t;
    log("result {} cancelled={} cancelling={}", r, py(t.cancelled()), t.cancelling());
  };
  loop.run_until_complete(main_task());
}

SIMLOOP_CONFORMANCE(task_awaits_task) {
  SimLoop loop;
  log.attach(loop);
  auto inner = [&]() -> Coro<int> {
    log("inner start");
    co_await simloop::sleep(1s);
    log("inner end");
    co_return 2;
  };
  auto outer = [&]() -> Coro<int> {
    log("outer start");
    auto t = loop.create_task(inner());
    int v = co_await t;
    log("outer got {}", v);
    co_return v + 1;
  };
  auto main_task = [&]() -> Coro<> {
    auto t = loop.create_task(outer());
    log("main waits");
    int v = co_await t;
    log("main got {}", v);
  };
  loop.run_until_complete(main_task());
}

SIMLOOP_CONFORMANCE(exception_chain) {
  SimLoop loop;
  log.attach(loop);
  auto level3 = [&]() -> Coro<> {
    co_await simloop::sleep(1s);
    log("level3 raises");
    throw std::invalid_argument("boom");
  };
  auto level2 = [&]() -> Coro<> {
    struct Finally {
      conformance::Log& log;
      ~Finally() { log("level2 finally"); }
    } finally{log};
    co_await level3();
  };
  auto level1 = [&]() -> Coro<> {
    auto t = loop.create_task(level2());
    co_await t;
    log("level1 not reached");
  };
  auto main_task = [&]() -> Coro<> {
    try {
      co_await level1();
    } catch (const std::invalid_argument& e) {
      log("main caught {}", e.what());
    }
  };
  loop.run_until_complete(main_task());
}

SIMLOOP_CONFORMANCE(run_until_complete_mid_iteration) {
  SimLoop loop;
  log.attach(loop);
  auto quick = [&]() -> Coro<> {
    log("quick runs");
    co_return;
  };
  auto after2 = [&] {
    log("after2");
    loop.call_soon([&] { log("after3"); });
  };
  auto after = [&] {
    log("after");
    loop.call_soon(after2);
  };
  auto nothing = [&]() -> Coro<> {
    co_await simloop::sleep(0s);
    log("nothing done");
  };
  loop.call_soon([&] { log("before"); });
  auto t = loop.create_task(quick());
  loop.call_soon(after);
  loop.run_until_complete(Future<void>(t));
  log("first run returned");
  loop.run_until_complete(nothing());
  log("second run returned");
}

SIMLOOP_CONFORMANCE(done_callback_on_done_future) {
  SimLoop loop;
  log.attach(loop);
  auto main_task = [&]() -> Coro<> {
    auto f = Future<int>::create(loop);
    f.set_result(5);
    f.add_done_callback([&](Future<int>& fut) { log("callback result={}", fut.result()); });
    log("callback added");
    co_await simloop::sleep(0s);
    log("after yield");
  };
  loop.run_until_complete(main_task());
}

SIMLOOP_CONFORMANCE(three_tasks_sleep0) {
  SimLoop loop;
  log.attach(loop);
  auto worker = [&](std::string name) -> Coro<> {
    for (int i = 0; i < 3; ++i) {
      log("{} {}", name, i);
      co_await simloop::sleep(0s);
    }
    log("{} done", name);
  };
  auto main_task = [&]() -> Coro<> {
    std::vector<simloop::Task<void>> ts;
    for (std::string n : {"A", "B", "C"}) ts.push_back(loop.create_task(worker(n)));
    for (auto& t : ts) co_await t;
    log("all done");
  };
  loop.run_until_complete(main_task());
}

SIMLOOP_CONFORMANCE(cancel_message) {
  SimLoop loop;
  log.attach(loop);
  auto child = [&]() -> Coro<> {
    try {
      co_await simloop::sleep(10s);
    } catch (const CancelledError& e) {
      log("child cancelled msg={}", e.message());
      throw;
    }
  };
  auto main_task = [&]() -> Coro<> {
    auto t = loop.create_task(child());
    co_await simloop::sleep(1s);
    t.cancel("bye");
    try {
      co_await t;
    } catch (const CancelledError& e) {
      log("main saw msg={}", e.message());
    }
  };
  loop.run_until_complete(main_task());
}

SIMLOOP_CONFORMANCE(cancel_propagates_to_awaited_task) {
  SimLoop loop;
  log.attach(loop);
  simloop::Task<void> inner_task;
  auto inner = [&]() -> Coro<> {
    try {
      co_await simloop::sleep(10s);
    } catch (const CancelledError&) {
      log("inner cancelled");
      throw;
    }
  };
  auto outer = [&]() -> Coro<> {
    inner_task = loop.create_task(inner());
    try {
      co_await inner_task;
    } catch (const CancelledError&) {
      log("outer cancelled");
      throw;
    }
  };
  auto main_task = [&]() -> Coro<> {
    auto t = loop.create_task(outer());
    co_await simloop::sleep(1s);
    t.cancel();
    co_await simloop::sleep(0s);
    log("inner done={} outer done={}", py(inner_task.done()), py(t.done()));
    co_await simloop::sleep(0s);
    log("inner cancelled={} outer cancelled={}", py(inner_task.cancelled()), py(t.cancelled()));
  };
  loop.run_until_complete(main_task());
}

SIMLOOP_CONFORMANCE(timer_cancel) {
  SimLoop loop;
  log.attach(loop);
  auto h1 = loop.call_later(1s, [&] { log("X fired"); });
  auto h2 = loop.call_later(2s, [&] { log("Y fired"); });
  loop.call_later(500ms, [&] {
    h1.cancel();
    log("X cancelled={} Y cancelled={}", py(h1.cancelled()), py(h2.cancelled()));
  });
  loop.call_later(3s, [&] { loop.stop(); });
  loop.run_forever();
  log("stopped");
}

SIMLOOP_CONFORMANCE(done_callbacks_order) {
  SimLoop loop;
  log.attach(loop);
  auto f = Future<int>::create(loop);
  auto cb_b = [&](Future<int>& fut) { log("B sees {}", fut.result()); };
  f.add_done_callback([&](Future<int>& fut) { log("A sees {}", fut.result()); });
  auto b1 = f.add_done_callback(cb_b);
  f.add_done_callback([&](Future<int>& fut) { log("C sees {}", fut.result()); });
  auto b2 = f.add_done_callback(cb_b);
  // asyncio removes every registration of an equal function; simloop
  // identifies each registration by the handle add_done_callback returned.
  log("removed {}", f.remove_done_callback(b1) + f.remove_done_callback(b2));
  loop.call_later(1s, [&] {
    log("completing");
    f.set_result(7);
    log("completed");
  });
  loop.call_later(1s, [&] { log("same-time timer"); });
  loop.call_later(2s, [&] { loop.stop(); });
  loop.run_forever();
}

SIMLOOP_CONFORMANCE(cancelling_counts) {
  SimLoop loop;
  log.attach(loop);
  auto child = [&]() -> Coro<std::string> {
    try {
      co_await simloop::sleep(10s);
    } catch (const CancelledError&) {
      AnyTask t = simloop::current_task();
      log("child cancelling={}", t.cancelling());
      log("uncancel -> {}", t.uncancel());
      log("uncancel -> {}", t.uncancel());
      log("uncancel -> {}", t.uncancel());
    }
    co_return "survived";
  };
  auto main_task = [&]() -> Coro<> {
    auto t = loop.create_task(child());
    co_await simloop::sleep(1s);
    log("cancel -> {}", py(t.cancel()));
    log("cancel -> {}", py(t.cancel()));
    log("cancelling={}", t.cancelling());
    std::string r = co_await t;
    log("result={} cancel after done -> {}", r, py(t.cancel()));
  };
  loop.run_until_complete(main_task());
}

SIMLOOP_CONFORMANCE(cancel_after_wakeup_queued) {
  SimLoop loop;
  log.attach(loop);
  auto waiter = [&](Future<int> f) -> Coro<> {
    try {
      int v = co_await f;
      log("waiter got {}", v);
    } catch (const CancelledError&) {
      log("waiter cancelled; future result was {}", f.result());
      throw;
    }
  };
  // The canceller runs in the same callback that completes the future.
  auto main_task = [&]() -> Coro<> {
    auto f = Future<int>::create(loop);
    auto t = loop.create_task(waiter(f));
    co_await simloop::sleep(0s);
    loop.call_soon([&, f, t] {
      f.set_result(1);
      log("cancel -> {}", py(t.cancel()));
    });
    try {
      co_await t;
    } catch (const CancelledError&) {
      log("task cancelled={}", py(t.cancelled()));
    }
  };
  loop.run_until_complete(main_task());
}

SIMLOOP_CONFORMANCE(nested_coros_sleep) {
  SimLoop loop;
  log.attach(loop);
  auto leaf = [&](int n) -> Coro<int> {
    co_await simloop::sleep(250ms * n);
    log("leaf {}", n);
    co_return n;
  };
  auto middle = [&](int n) -> Coro<int> {
    int a = co_await leaf(n);
    int b = co_await leaf(n + 1);
    log("middle {} -> {}", n, a + b);
    co_return a + b;
  };
  auto main_task = [&]() -> Coro<> {
    auto t = loop.create_task(middle(1));
    int v = co_await middle(2);
    int w = co_await t;
    log("main {} {}", v, w);
  };
  loop.run_until_complete(main_task());
}

SIMLOOP_CONFORMANCE(sleep_result) {
  SimLoop loop;
  log.attach(loop);
  auto main_task = [&]() -> Coro<> {
    std::string v = co_await simloop::sleep(250ms, std::string("value"));
    log("got {}", v);
    int w = co_await simloop::sleep(0s, 3);
    log("got {}", w);
  };
  loop.run_until_complete(main_task());
}

SIMLOOP_CONFORMANCE(exception_in_callback) {
  SimLoop loop;
  log.attach(loop);
  loop.set_exception_handler(
      [&](simloop::EventLoop&, const simloop::ExceptionContext& ctx) { log("handler: {}", ctx.message); });
  loop.call_soon([&] {
    log("bad raises");
    throw std::runtime_error("oops");
  });
  loop.call_soon([&] { log("still running"); });
  loop.call_later(1s, [&] { log("timer after error"); });
  loop.call_later(1s, [&] { loop.stop(); });
  loop.run_forever();
}

SIMLOOP_CONFORMANCE(future_from_timer) {
  SimLoop loop;
  log.attach(loop);
  auto main_task = [&]() -> Coro<> {
    auto f = Future<std::string>::create(loop);
    loop.call_later(1500ms, [f] { f.set_result("ready"); });
    auto g = Future<int>::create(loop);
    loop.call_later(500ms, [g] { g.set_exception(std::out_of_range("missing")); });
    try {
      co_await g;
    } catch (const std::out_of_range&) {
      log("g raised KeyError");
    }
    std::string v = co_await f;
    log("f gave {}", v);
  };
  loop.run_until_complete(main_task());
}
