// The primitives' scenarios: locks, queues, gather, wait, as_completed,
// shield, timeouts, wait_for and TaskGroup, with cancellation at each await
// point of short scenarios and timeouts in the same iteration as a
// completion. Each has its asyncio twin in scenarios/<name>.py.
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "scenarios.hpp"

using namespace std::chrono_literals;
using simloop::CancelledError;
using simloop::Coro;
using simloop::Future;
using simloop::Task;
using simloop::sim::SimLoop;

namespace {
const char* py(bool b) { return b ? "True" : "False"; }
}  // namespace

// ---- Lock ----------------------------------------------------------------------

SIMLOOP_CONFORMANCE(prim_lock_fifo) {
  SimLoop loop;
  log.attach(loop);
  simloop::Lock lock;
  auto worker = [&](std::string name) -> Coro<> {
    log("{} wants", name);
    auto held = co_await lock.hold();
    log("{} in", name);
    co_await simloop::sleep(1ms);
    log("{} out", name);
  };
  auto main_task = [&]() -> Coro<> {
    std::vector<Task<void>> ts;
    for (std::string n : {"a", "b", "c"}) ts.push_back(simloop::create_task(worker(n)));
    co_await simloop::sleep(0s);
    log("locked={}", py(lock.locked()));
    for (auto& t : ts) co_await t;
    log("locked={}", py(lock.locked()));
  };
  loop.run_until_complete(main_task());
}

SIMLOOP_CONFORMANCE(prim_lock_woken_then_cancelled) {
  SimLoop loop;
  log.attach(loop);
  simloop::Lock lock;
  auto waiter = [&](std::string name) -> Coro<> {
    try {
      co_await lock.acquire();
    } catch (const CancelledError&) {
      log("{} cancelled, locked={}", name, py(lock.locked()));
      throw;
    }
    log("{} acquired", name);
    lock.release();
  };
  auto main_task = [&]() -> Coro<> {
    co_await lock.acquire();
    auto b = simloop::create_task(waiter("b"));
    auto c = simloop::create_task(waiter("c"));
    co_await simloop::sleep(0s);
    lock.release();
    b.cancel();
    log("released and cancelled b");
    co_await simloop::sleep(0s);
    co_await simloop::sleep(0s);
    co_await c;
    log("b.cancelled={} locked={}", py(b.cancelled()), py(lock.locked()));
  };
  loop.run_until_complete(main_task());
}

SIMLOOP_CONFORMANCE(prim_lock_cancel_at_each_point) {
  for (int k = 0; k < 8; ++k) {
    SimLoop loop;
    log.attach(loop);
    simloop::Lock lock;
    int inside = 0;
    auto worker = [&](std::string name) -> Coro<> {
      int i = 0;
      try {
        for (i = 0; i < 2; ++i) {
          co_await lock.acquire();
          std::exception_ptr error;
          try {
            ++inside;
            if (inside > 1) log("TWO INSIDE");
            co_await simloop::sleep(0s);
          } catch (...) {
            error = std::current_exception();
          }
          --inside;
          lock.release();
          if (error) std::rethrow_exception(error);
        }
      } catch (const CancelledError&) {
        log("{} cancelled at round {}", name, i);
        throw;
      }
      log("{} done", name);
    };
    auto main_task = [&]() -> Coro<> {
      std::vector<Task<void>> ts;
      for (std::string n : {"a", "b", "c"}) ts.push_back(simloop::create_task(worker(n)));
      for (int j = 0; j < k; ++j) co_await simloop::sleep(0s);
      ts[1].cancel();
      co_await simloop::gather(simloop::return_exceptions, ts);
      log("k={} locked={}", k, py(lock.locked()));
    };
    loop.run_until_complete(main_task());
  }
}

// ---- Event -----------------------------------------------------------------------

SIMLOOP_CONFORMANCE(prim_event) {
  SimLoop loop;
  log.attach(loop);
  simloop::Event ev;
  auto waiter = [&](std::string name) -> Coro<> {
    try {
      bool r = co_await ev.wait();
      log("{} woke {}", name, py(r));
    } catch (const CancelledError&) {
      log("{} cancelled", name);
      throw;
    }
  };
  auto main_task = [&]() -> Coro<> {
    auto a = simloop::create_task(waiter("a"));
    auto b = simloop::create_task(waiter("b"));
    auto c = simloop::create_task(waiter("c"));
    co_await simloop::sleep(1ms);
    c.cancel();
    co_await simloop::sleep(0s);
    ev.set();
    log("set is_set={}", py(ev.is_set()));
    co_await simloop::gather(simloop::return_exceptions, a, b);
    ev.clear();
    log("cleared is_set={}", py(ev.is_set()));
    auto d = simloop::create_task(waiter("d"));
    co_await simloop::sleep(1ms);
    ev.set();
    b.cancel();
    co_await d;
    ev.clear();
    auto e = simloop::create_task(waiter("e"));
    co_await simloop::sleep(0s);
    ev.set();
    e.cancel();
    co_await simloop::gather(simloop::return_exceptions, e);
    log("e.cancelled={}", py(e.cancelled()));
  };
  loop.run_until_complete(main_task());
}

// ---- Semaphore -------------------------------------------------------------------

SIMLOOP_CONFORMANCE(prim_semaphore_fifo) {
  SimLoop loop;
  log.attach(loop);
  simloop::Semaphore sem(2);
  auto worker = [&](int i) -> Coro<> {
    auto held = co_await sem.hold();
    log("{} in", i);
    co_await simloop::sleep(std::chrono::milliseconds(i + 1));
    log("{} out", i);
  };
  auto main_task = [&]() -> Coro<> {
    std::vector<Task<void>> ts;
    for (int i = 0; i < 5; ++i) ts.push_back(simloop::create_task(worker(i)));
    co_await simloop::sleep(0s);
    log("locked={}", py(sem.locked()));
    auto late = simloop::create_task(worker(9));
    for (auto& t : ts) co_await t;
    co_await late;
    log("locked={}", py(sem.locked()));
  };
  loop.run_until_complete(main_task());
}

SIMLOOP_CONFORMANCE(prim_semaphore_granted_then_cancelled) {
  SimLoop loop;
  log.attach(loop);
  simloop::Semaphore sem(0);
  auto waiter = [&](std::string name) -> Coro<> {
    try {
      co_await sem.acquire();
    } catch (const CancelledError&) {
      log("{} cancelled", name);
      throw;
    }
    log("{} acquired", name);
  };
  auto main_task = [&]() -> Coro<> {
    auto b = simloop::create_task(waiter("b"));
    auto c = simloop::create_task(waiter("c"));
    auto d = simloop::create_task(waiter("d"));
    co_await simloop::sleep(0s);
    sem.release();
    b.cancel();
    log("released and cancelled b");
    co_await simloop::sleep(0s);
    co_await simloop::sleep(0s);
    log("locked={}", py(sem.locked()));
    sem.release();
    co_await c;
    co_await d;
    log("locked={}", py(sem.locked()));
    simloop::BoundedSemaphore bs(1);
    co_await bs.acquire();
    bs.release();
    try {
      bs.release();
    } catch (const simloop::TooManyReleasesError&) {
      log("bounded: released too many times");
    }
  };
  loop.run_until_complete(main_task());
}

// ---- Condition -------------------------------------------------------------------

SIMLOOP_CONFORMANCE(prim_condition_notify) {
  SimLoop loop;
  log.attach(loop);
  simloop::Condition cond;
  auto waiter = [&](std::string name) -> Coro<> {
    auto held = co_await cond.hold();
    co_await cond.wait();
    log("{} notified, locked={}", name, py(cond.locked()));
  };
  auto main_task = [&]() -> Coro<> {
    std::vector<Task<void>> ts;
    for (std::string n : {"a", "b", "c", "d"}) ts.push_back(simloop::create_task(waiter(n)));
    co_await simloop::sleep(0s);
    {
      auto held = co_await cond.hold();
      cond.notify(1);
      log("notify(1)");
    }
    co_await simloop::sleep(1ms);
    {
      auto held = co_await cond.hold();
      cond.notify(2);
      log("notify(2)");
    }
    co_await simloop::sleep(1ms);
    {
      auto held = co_await cond.hold();
      cond.notify_all();
      log("notify_all");
    }
    for (auto& t : ts) co_await t;
    try {
      cond.notify();
    } catch (const simloop::LockNotAcquiredError&) {
      log("notify without the lock raises");
    }
  };
  loop.run_until_complete(main_task());
}

SIMLOOP_CONFORMANCE(prim_condition_notified_then_cancelled) {
  SimLoop loop;
  log.attach(loop);
  simloop::Condition cond;
  auto waiter = [&](std::string name) -> Coro<> {
    auto held = co_await cond.hold();
    try {
      co_await cond.wait();
    } catch (const CancelledError&) {
      log("{} cancelled, locked={}", name, py(cond.locked()));
      throw;
    }
    log("{} notified", name);
  };
  auto main_task = [&]() -> Coro<> {
    auto a = simloop::create_task(waiter("a"));
    auto b = simloop::create_task(waiter("b"));
    co_await simloop::sleep(0s);
    {
      auto held = co_await cond.hold();
      cond.notify(1);
      a.cancel();
      log("notified one and cancelled a");
    }
    co_await simloop::gather(simloop::return_exceptions, a, b);
    log("a.cancelled={} b.done={} locked={}", py(a.cancelled()), py(b.done()), py(cond.locked()));
  };
  loop.run_until_complete(main_task());
}

SIMLOOP_CONFORMANCE(prim_condition_wait_for) {
  SimLoop loop;
  log.attach(loop);
  simloop::Condition cond;
  int v = 0;
  auto setter = [&]() -> Coro<> {
    for (int i = 1; i < 5; ++i) {
      co_await simloop::sleep(1ms);
      auto held = co_await cond.hold();
      v = i;
      log("set {}", i);
      cond.notify_all();
    }
  };
  auto main_task = [&]() -> Coro<> {
    auto t = simloop::create_task(setter());
    {
      auto held = co_await cond.hold();
      int r = co_await cond.wait_for([&] { return v >= 3 ? v : 0; });
      log("predicate value {}", r);
    }
    co_await t;
  };
  loop.run_until_complete(main_task());
}

// ---- Barrier ---------------------------------------------------------------------

SIMLOOP_CONFORMANCE(prim_barrier) {
  SimLoop loop;
  log.attach(loop);
  simloop::Barrier b(3);
  auto party = [&](std::string name, std::chrono::milliseconds delay) -> Coro<> {
    co_await simloop::sleep(delay);
    try {
      std::size_t i = co_await b.wait();
      log("{} passed index={}", name, i);
    } catch (const simloop::BrokenBarrierError&) {
      log("{} broken", name);
    }
  };
  auto main_task = [&]() -> Coro<> {
    std::vector<Task<void>> ts;
    int k = 0;
    for (std::string n : {"a", "b", "c"}) ts.push_back(simloop::create_task(party(n, std::chrono::milliseconds(k++))));
    co_await simloop::sleep(1500us);
    log("n_waiting={}", b.n_waiting());
    co_await simloop::gather(ts);
    ts.clear();
    for (std::string n : {"d", "e"}) ts.push_back(simloop::create_task(party(n, 0ms)));
    co_await simloop::sleep(1ms);
    co_await b.reset();
    co_await simloop::gather(ts);
    log("after reset broken={} n_waiting={}", py(b.broken()), b.n_waiting());
    ts.clear();
    for (std::string n : {"f", "g"}) ts.push_back(simloop::create_task(party(n, 0ms)));
    co_await simloop::sleep(1ms);
    co_await b.abort();
    co_await simloop::gather(ts);
    co_await party("h", 0ms);
    log("broken={}", py(b.broken()));
  };
  loop.run_until_complete(main_task());
}
