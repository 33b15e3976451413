// Which message a CancelledError carries when several cancels race: the
// twins of scenarios/cancel_twice_keeps_first_message.py and
// scenarios/wait_for_outer_cancel_message.py.
#include <string>

#include "scenarios.hpp"

using namespace std::chrono_literals;
using simloop::CancelledError;
using simloop::Coro;
using simloop::sim::SimLoop;

namespace {

using conformance::py;
std::string msg(const CancelledError& e) { return e.message().empty() ? "<none>" : e.message(); }

}  // namespace

SIMLOOP_CONFORMANCE(cancel_twice_keeps_first_message) {
  SimLoop loop;
  log.attach(loop);
  auto sleeper = [&]() -> Coro<> {
    try {
      co_await simloop::sleep(10s);
    } catch (const CancelledError& e) {
      log("sleeper msg={} cancelling={}", msg(e), simloop::current_task().cancelling());
      throw;
    }
  };
  auto future_waiter = [&](simloop::Future<int> fut) -> Coro<> {
    try {
      co_await fut;
    } catch (const CancelledError& e) {
      log("future_waiter msg={} cancelling={}", msg(e), simloop::current_task().cancelling());
      throw;
    }
  };
  auto task_waiter = [&](simloop::Task<void> inner) -> Coro<> {
    try {
      co_await inner;
    } catch (const CancelledError& e) {
      log("task_waiter msg={} cancelling={}", msg(e), simloop::current_task().cancelling());
      throw;
    }
  };
  auto twice = [&](simloop::AnyTask task, std::string first_label, std::string first, std::string second) {
    log("cancel {}: {}", first_label, py(task.cancel(first)));
    log("cancel {}: {}", second, py(task.cancel(second)));
  };
  auto main_task = [&]() -> Coro<> {
    auto t = loop.create_task(sleeper());
    co_await simloop::sleep(1s);
    loop.call_soon([&, t] { twice(t, "one", "one", "two"); });
    try {
      co_await t;
    } catch (const CancelledError& e) {
      log("main saw sleeper msg={} cancelled={}", msg(e), py(t.cancelled()));
    }

    auto fut = simloop::Future<int>::create(loop);
    auto w = loop.create_task(future_waiter(fut));
    co_await simloop::sleep(1s);
    loop.call_soon([&, w] { twice(w, "first", "first", "second"); });
    try {
      co_await w;
    } catch (const CancelledError& e) {
      log("main saw future_waiter msg={} fut.cancelled={}", msg(e), py(fut.cancelled()));
    }

    fut = simloop::Future<int>::create(loop);
    w = loop.create_task(future_waiter(fut));
    co_await simloop::sleep(1s);
    loop.call_soon([&, w] { twice(w, "None", "", "late"); });
    try {
      co_await w;
    } catch (const CancelledError& e) {
      log("main saw future_waiter msg={}", msg(e));
    }

    auto inner = loop.create_task(sleeper());
    auto outer = loop.create_task(task_waiter(inner));
    co_await simloop::sleep(1s);
    loop.call_soon([&, outer] { twice(outer, "alpha", "alpha", "beta"); });
    try {
      co_await outer;
    } catch (const CancelledError& e) {
      log("main saw task_waiter msg={} inner.cancelled={}", msg(e), py(inner.cancelled()));
    }

    fut = simloop::Future<int>::create(loop);
    w = loop.create_task(future_waiter(fut));
    co_await simloop::sleep(1s);
    loop.call_soon([&, fut, w] {
      fut.set_result(1);
      log("cancel x: {}", py(w.cancel("x")));
      log("cancel y: {}", py(w.cancel("y")));
    });
    try {
      co_await w;
    } catch (const CancelledError& e) {
      log("main saw future_waiter msg={}", msg(e));
    }
  };
  loop.run_until_complete(main_task());
}

SIMLOOP_CONFORMANCE(wait_for_outer_cancel_message) {
  for (bool as_task : {true, false}) {
    for (bool cancel_first : {true, false}) {
      SimLoop loop;
      log.attach(loop);
      auto inner = [&]() -> Coro<std::string> {
        try {
          co_await simloop::sleep(10ms);
          co_return "done";
        } catch (const CancelledError& e) {
          log("  inner msg={}", msg(e));
          throw;
        }
      };
      auto caller = [&]() -> Coro<> {
        try {
          std::string r = as_task ? co_await simloop::wait_for(simloop::create_task(inner()), 5ms)
                                  : co_await simloop::wait_for(inner(), 5ms);
          log("  caller result {}", r);
        } catch (const simloop::TimeoutError&) {
          log("  caller TimeoutError");
        } catch (const CancelledError& e) {
          log("  caller msg={} cancelling={}", msg(e), simloop::current_task().cancelling());
          throw;
        }
      };
      auto main_task = [&]() -> Coro<> {
        const auto base = loop.time();
        log("{} cancel_first={}", as_task ? "task" : "coroutine", py(cancel_first));
        auto t = loop.create_task(caller());
        if (cancel_first) loop.call_at(base + 5ms, [t] { t.cancel("outer"); });
        co_await simloop::sleep(0s);
        if (!cancel_first) loop.call_at(base + 5ms, [t] { t.cancel("outer"); });
        try {
          co_await t;
        } catch (const CancelledError& e) {
          log("  main msg={} t.cancelled={}", msg(e), py(t.cancelled()));
        }
      };
      loop.run_until_complete(main_task());
    }
  }
}
