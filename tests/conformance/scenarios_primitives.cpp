// The primitives' scenarios: locks, queues, gather, wait, as_completed,
// shield, timeouts, wait_for and TaskGroup, with cancellation at each await
// point of short scenarios and timeouts in the same iteration as a
// completion. Each has its asyncio twin in scenarios/<name>.py.
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "../support/raises.hpp"
#include "scenarios.hpp"

using namespace std::chrono_literals;
using simloop::CancelledError;
using simloop::Coro;
using simloop::Future;
using simloop::Task;
using simloop::sim::SimLoop;
using simloop::testing::raises;

namespace {
using conformance::py;
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

// ---- queues --------------------------------------------------------------------

SIMLOOP_CONFORMANCE(prim_queue_fifo_maxsize) {
  SimLoop loop;
  log.attach(loop);
  simloop::Queue<int> q(2);
  auto getter = [&](std::string name) -> Coro<> {
    int v = co_await q.get();
    log("{} got {}", name, v);
  };
  auto putter = [&](int v) -> Coro<> {
    co_await q.put(v);
    log("put {} qsize={} full={}", v, q.qsize(), py(q.full()));
  };
  auto main_task = [&]() -> Coro<> {
    std::vector<Task<void>> gs{simloop::create_task(getter("g1")), simloop::create_task(getter("g2"))};
    co_await simloop::sleep(0s);
    std::vector<Task<void>> ps;
    for (int v = 0; v < 6; ++v) ps.push_back(simloop::create_task(putter(v)));
    co_await simloop::gather(gs);
    co_await simloop::sleep(1ms);
    log("qsize={} full={}", q.qsize(), py(q.full()));
    while (!q.empty()) {
      log("get_nowait {}", q.get_nowait());
      co_await simloop::sleep(0s);
    }
    co_await simloop::gather(ps);
    try {
      q.get_nowait();
    } catch (const simloop::QueueEmpty&) {
      log("QueueEmpty");
    }
    q.put_nowait(1);
    q.put_nowait(2);
    try {
      q.put_nowait(3);
    } catch (const simloop::QueueFull&) {
      log("QueueFull");
    }
  };
  loop.run_until_complete(main_task());
}

SIMLOOP_CONFORMANCE(prim_queue_getter_woken_then_cancelled) {
  SimLoop loop;
  log.attach(loop);
  simloop::Queue<std::string> q;
  auto getter = [&](std::string name) -> Coro<> {
    std::string v;
    try {
      v = co_await q.get();
    } catch (const CancelledError&) {
      log("{} cancelled, qsize={}", name, q.qsize());
      throw;
    }
    log("{} got {}", name, v);
  };
  auto main_task = [&]() -> Coro<> {
    auto g1 = simloop::create_task(getter("g1"));
    auto g2 = simloop::create_task(getter("g2"));
    auto g3 = simloop::create_task(getter("g3"));
    co_await simloop::sleep(0s);
    q.put_nowait("x");
    g1.cancel();
    log("put x and cancelled g1");
    co_await simloop::sleep(0s);
    co_await simloop::sleep(0s);
    q.put_nowait("y");
    co_await simloop::gather(simloop::return_exceptions, g1, g2, g3);
    log("qsize={}", q.qsize());
  };
  loop.run_until_complete(main_task());
}

SIMLOOP_CONFORMANCE(prim_queue_putter_woken_then_cancelled) {
  SimLoop loop;
  log.attach(loop);
  simloop::Queue<int> q(1);
  auto putter = [&](int v) -> Coro<> {
    try {
      co_await q.put(v);
    } catch (const CancelledError&) {
      log("putter {} cancelled, full={}", v, py(q.full()));
      throw;
    }
    log("put {}", v);
  };
  auto main_task = [&]() -> Coro<> {
    q.put_nowait(0);
    auto p1 = simloop::create_task(putter(1));
    auto p2 = simloop::create_task(putter(2));
    co_await simloop::sleep(0s);
    log("get_nowait {}", q.get_nowait());
    p1.cancel();
    co_await simloop::gather(simloop::return_exceptions, p1, p2);
    int v = q.get_nowait();
    log("get_nowait {} empty={}", v, py(q.empty()));
  };
  loop.run_until_complete(main_task());
}

SIMLOOP_CONFORMANCE(prim_queue_join) {
  SimLoop loop;
  log.attach(loop);
  simloop::Queue<int> q;
  auto worker = [&](std::string name) -> Coro<> {
    for (;;) {
      int v = co_await q.get();
      co_await simloop::sleep(std::chrono::milliseconds(v));
      log("{} done {}", name, v);
      q.task_done();
    }
  };
  auto main_task = [&]() -> Coro<> {
    co_await q.join();
    log("join on empty returns");
    for (int v : {3, 1, 2, 1}) q.put_nowait(v);
    std::vector<Task<void>> ws{simloop::create_task(worker("w1")), simloop::create_task(worker("w2"))};
    co_await q.join();
    log("joined");
    for (auto& w : ws) w.cancel();
    co_await simloop::gather(simloop::return_exceptions, ws);
    try {
      q.task_done();
    } catch (const simloop::TaskDoneTooManyError&) {
      log("task_done called too many times");
    }
  };
  loop.run_until_complete(main_task());
}

SIMLOOP_CONFORMANCE(prim_queue_shutdown) {
  SimLoop loop;
  log.attach(loop);
  simloop::Queue<int> q(1);
  auto getter = [&](std::string name) -> Coro<> {
    try {
      for (;;) {
        int v = co_await q.get();
        log("{} got {}", name, v);
        q.task_done();
      }
    } catch (const simloop::QueueShutDown&) {
      log("{} shut down", name);
    }
  };
  auto putter = [&](int v) -> Coro<> {
    try {
      co_await q.put(v);
      log("put {}", v);
    } catch (const simloop::QueueShutDown&) {
      log("putter {} shut down", v);
    }
  };
  auto main_task = [&]() -> Coro<> {
    q.put_nowait(1);
    auto p = simloop::create_task(putter(2));
    co_await simloop::sleep(0s);
    q.shutdown();
    log("shutdown");
    try {
      q.put_nowait(3);
    } catch (const simloop::QueueShutDown&) {
      log("put_nowait raises");
    }
    co_await p;
    auto g = simloop::create_task(getter("g"));
    co_await g;
    co_await q.join();
    log("joined");
  };
  loop.run_until_complete(main_task());
}

SIMLOOP_CONFORMANCE(prim_queue_shutdown_immediate) {
  SimLoop loop;
  log.attach(loop);
  simloop::Queue<int> q;
  auto getter = [&](std::string name) -> Coro<> {
    try {
      int v = co_await q.get();
      log("{} got {}", name, v);
      q.task_done();
    } catch (const simloop::QueueShutDown&) {
      log("{} shut down", name);
    }
  };
  auto joiner = [&]() -> Coro<> {
    co_await q.join();
    log("joined");
  };
  auto main_task = [&]() -> Coro<> {
    auto g1 = simloop::create_task(getter("g1"));
    auto g2 = simloop::create_task(getter("g2"));
    co_await simloop::sleep(0s);
    q.put_nowait(1);
    q.put_nowait(2);
    q.put_nowait(3);
    auto j = simloop::create_task(joiner());
    co_await simloop::sleep(0s);
    log("qsize={}", q.qsize());
    q.shutdown(true);
    log("shutdown immediate qsize={} empty={}", q.qsize(), py(q.empty()));
    co_await simloop::gather(g1, g2, j);
    co_await getter("g3");
    try {
      q.get_nowait();
    } catch (const simloop::QueueShutDown&) {
      log("get_nowait raises");
    }
  };
  loop.run_until_complete(main_task());
}

SIMLOOP_CONFORMANCE(prim_priority_lifo_queue) {
  SimLoop loop;
  log.attach(loop);
  simloop::PriorityQueue<std::pair<int, std::string>> pq;
  simloop::LifoQueue<int> lq(2);
  auto late = [&]() -> Coro<> {
    co_await lq.put(3);
    log("put 3");
  };
  auto main_task = [&]() -> Coro<> {
    for (auto item : std::vector<std::pair<int, std::string>>{{3, "c"}, {1, "a"}, {2, "b"}, {1, "a2"}, {0, "z"}}) {
      pq.put_nowait(item);
    }
    std::string out = "priority";
    while (!pq.empty()) out += " " + (co_await pq.get()).second;
    log("{}", out);
    co_await lq.put(1);
    co_await lq.put(2);
    auto t = simloop::create_task(late());
    co_await simloop::sleep(0s);
    log("lifo got {}", co_await lq.get());
    co_await t;
    log("lifo got {}", co_await lq.get());
    log("lifo got {}", co_await lq.get());
  };
  loop.run_until_complete(main_task());
}

SIMLOOP_CONFORMANCE(prim_queue_cancel_at_each_point) {
  for (int k = 0; k < 10; ++k) {
    SimLoop loop;
    log.attach(loop);
    simloop::Queue<int> q(2);
    std::vector<int> got;
    auto producer = [&]() -> Coro<> {
      for (int i = 0; i < 5; ++i) {
        co_await q.put(i);
        co_await simloop::sleep(0s);
      }
    };
    auto consumer = [&](std::string name) -> Coro<> {
      try {
        for (;;) {
          int v = co_await q.get();
          got.push_back(v);
          q.task_done();
          co_await simloop::sleep(0s);
        }
      } catch (const CancelledError&) {
        log("k={} {} cancelled after {} items", k, name, got.size());
        throw;
      }
    };
    auto main_task = [&]() -> Coro<> {
      auto p = simloop::create_task(producer());
      std::vector<Task<void>> cs{simloop::create_task(consumer("c1")), simloop::create_task(consumer("c2"))};
      for (int j = 0; j < k; ++j) co_await simloop::sleep(0s);
      cs[0].cancel();
      co_await p;
      while (q.qsize() > 0 || !cs[1].done()) {
        co_await simloop::sleep(0s);
        if (q.empty()) break;
      }
      cs[1].cancel();
      co_await simloop::gather(simloop::return_exceptions, cs);
      std::vector<int> left;
      while (!q.empty()) left.push_back(q.get_nowait());
      std::sort(got.begin(), got.end());
      log("k={} got=[{}] left=[{}]", k, fmt::join(got, ", "), fmt::join(left, ", "));
    };
    loop.run_until_complete(main_task());
  }
}

// ---- gather, wait, as_completed, shield --------------------------------------

namespace {
Coro<std::string> logged_value_after(conformance::Log* log, std::chrono::milliseconds d, std::string v) {
  co_await simloop::sleep(d);
  (*log)("child {} done", v);
  co_return v;
}
Coro<std::string> logged_fail_after(conformance::Log* log, std::chrono::milliseconds d, std::string what) {
  co_await simloop::sleep(d);
  (*log)("child {} raising", what);
  throw std::runtime_error(what);
}
Coro<std::string> value_after(std::chrono::milliseconds d, std::string v) {
  co_await simloop::sleep(d);
  co_return v;
}
Coro<std::string> fail_after(std::chrono::milliseconds d, std::string what) {
  co_await simloop::sleep(d);
  throw std::runtime_error(what);
}
Coro<> sleep_for(std::chrono::milliseconds d) { co_await simloop::sleep(d); }
std::string joined(const std::vector<std::string>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", '" : "'") + v[i] + "'";
  return out + "]";
}
}  // namespace

SIMLOOP_CONFORMANCE(prim_gather_results) {
  SimLoop loop;
  log.attach(loop);
  auto main_task = [&]() -> Coro<> {
    Future<std::string> fut = Future<std::string>::create(loop);
    loop.call_later(5ms, [fut] { fut.set_result("fut"); });
    Task<std::string> task = simloop::create_task(logged_value_after(&log, 1ms, "task"));
    auto [r0, r1, r2] = co_await simloop::gather(fut, task, logged_value_after(&log, 3ms, "coro"));
    log("results {} {} {}", r0, r1, r2);
    Task<std::string> slow = simloop::create_task(logged_value_after(&log, 10ms, "slow"));
    try {
      co_await simloop::gather(slow, logged_fail_after(&log, 1ms, "boom"));
    } catch (const std::runtime_error& e) {
      log("gather raised {}, slow.done={}", e.what(), py(slow.done()));
    }
    log("slow result {}", co_await slow);
    auto [x, bad] = co_await simloop::gather(simloop::return_exceptions, logged_value_after(&log, 2ms, "x"),
                                             logged_fail_after(&log, 1ms, "bad"));
    std::string what;
    try {
      bad.value();
    } catch (const std::runtime_error& e) {
      what = e.what();
    }
    log("return_exceptions {} RuntimeError:{}", x.value(), what);
    auto empty = co_await simloop::gather();
    log("empty {}", std::tuple_size_v<decltype(empty)> == 0 ? "[]" : "?");
  };
  loop.run_until_complete(main_task());
}

SIMLOOP_CONFORMANCE(prim_gather_cancel) {
  SimLoop loop;
  log.attach(loop);
  auto child = [&](std::string name, std::chrono::milliseconds d) -> Coro<std::string> {
    try {
      co_await simloop::sleep(d);
    } catch (const CancelledError&) {
      log("{} cancelled", name);
      throw;
    }
    log("{} done", name);
    co_return name;
  };
  auto main_task = [&]() -> Coro<> {
    auto a = simloop::create_task(child("a", 5ms));
    auto b = simloop::create_task(child("b", 1ms));
    auto g = simloop::gather(a, b);
    co_await simloop::sleep(2ms);
    log("cancel gather -> {}", py(g.cancel()));
    try {
      co_await g;
    } catch (const CancelledError&) {
      log("gather raised CancelledError");
    }
    log("a.cancelled={} b.cancelled={} again={}", py(a.cancelled()), py(b.cancelled()), py(g.cancel()));
    auto c = simloop::create_task(child("c", 5ms));
    auto d = simloop::create_task(child("d", 2ms));
    loop.call_later(1ms, [c] { c.cancel("stop"); });
    auto [rc, rd] = co_await simloop::gather(simloop::return_exceptions, c, d);
    std::string msg;
    try {
      rc.value();
    } catch (const CancelledError& e) {
      msg = e.message();
    }
    log("outcomes CancelledError('{}') {}", msg, rd.value());
    auto e = simloop::create_task(child("e", 5ms));
    loop.call_later(1ms, [e] { e.cancel(); });
    try {
      co_await simloop::gather(e);
    } catch (const CancelledError&) {
      log("gather of a cancelled child raised CancelledError");
    }
  };
  loop.run_until_complete(main_task());
}

SIMLOOP_CONFORMANCE(prim_gather_cancel_awaiter) {
  SimLoop loop;
  log.attach(loop);
  auto child = [&](std::string name, std::chrono::milliseconds d) -> Coro<std::string> {
    try {
      co_await simloop::sleep(d);
    } catch (const CancelledError&) {
      log("{} cancelled", name);
      throw;
    }
    co_return name;
  };
  auto waiter = [&]() -> Coro<> {
    try {
      co_await simloop::gather(child("a", 5ms), child("b", 5ms));
    } catch (const CancelledError&) {
      log("waiter cancelled");
      throw;
    }
  };
  auto main_task = [&]() -> Coro<> {
    auto w = simloop::create_task(waiter());
    co_await simloop::sleep(1ms);
    w.cancel();
    try {
      co_await w;
    } catch (const CancelledError&) {
      log("w.cancelled={}", py(w.cancelled()));
    }
  };
  loop.run_until_complete(main_task());
}

SIMLOOP_CONFORMANCE(prim_wait_modes) {
  SimLoop loop;
  log.attach(loop);
  auto names = [](const std::vector<Task<std::string>>& fs) {
    std::vector<std::string> out;
    for (const auto& f : fs) out.push_back(f.get_name());
    std::sort(out.begin(), out.end());
    return joined(out);
  };
  auto main_task = [&]() -> Coro<> {
    std::vector<Task<std::string>> ts{simloop::create_task(value_after(3ms, "a"), "a"),
                                      simloop::create_task(value_after(1ms, "b"), "b"),
                                      simloop::create_task(value_after(2ms, "c"), "c")};
    auto r = co_await simloop::wait(ts, std::nullopt, simloop::FIRST_COMPLETED);
    log("FIRST_COMPLETED done={} pending={}", names(r.done), names(r.pending));
    r = co_await simloop::wait(ts, 1500us);
    log("timeout done={} pending={}", names(r.done), names(r.pending));
    r = co_await simloop::wait(ts);
    log("ALL_COMPLETED done={} pending={}", names(r.done), names(r.pending));
    std::vector<Task<std::string>> us{simloop::create_task(value_after(1ms, "x"), "x"),
                                      simloop::create_task(fail_after(2ms, "y"), "y"),
                                      simloop::create_task(value_after(9ms, "z"), "z")};
    r = co_await simloop::wait(us, std::nullopt, simloop::FIRST_EXCEPTION);
    log("FIRST_EXCEPTION done={} pending={} z.cancelled={}", names(r.done), names(r.pending), py(us[2].cancelled()));
    try {
      co_await simloop::wait(std::vector<Task<std::string>>{});
    } catch (const simloop::InvalidArgumentError&) {
      log("empty set raises");
    }
    co_await us[2];
  };
  loop.run_until_complete(main_task());
}

SIMLOOP_CONFORMANCE(prim_as_completed) {
  SimLoop loop;
  log.attach(loop);
  auto main_task = [&]() -> Coro<> {
    std::vector<Task<std::string>> ts{simloop::create_task(value_after(3ms, "a")),
                                      simloop::create_task(value_after(1ms, "b")),
                                      simloop::create_task(value_after(2ms, "c"))};
    auto it = simloop::as_completed(ts);
    while (it.has_next()) {
      Future<std::string> f = co_await it.next();
      log("next {}", co_await f);
    }
    std::vector<Task<std::string>> us{simloop::create_task(value_after(1ms, "x")),
                                      simloop::create_task(value_after(10ms, "y"))};
    auto it2 = simloop::as_completed(us, 5ms);
    while (it2.has_next()) {
      try {
        log("result {}", co_await it2.next_result());
      } catch (const simloop::TimeoutError&) {
        log("TimeoutError");
      }
    }
    log("y.done={}", py(us[1].done()));
    co_await us[1];
  };
  loop.run_until_complete(main_task());
}

SIMLOOP_CONFORMANCE(prim_shield) {
  SimLoop loop;
  log.attach(loop);
  auto inner = [&]() -> Coro<int> {
    try {
      co_await simloop::sleep(5ms);
    } catch (const CancelledError&) {
      log("inner cancelled");
      throw;
    }
    log("inner finished");
    co_return 42;
  };
  auto waiter = [&](Task<int> t) -> Coro<int> {
    try {
      co_return co_await simloop::shield(t);
    } catch (const CancelledError&) {
      log("waiter cancelled");
      throw;
    }
  };
  auto main_task = [&]() -> Coro<> {
    auto t = simloop::create_task(inner());
    auto w = simloop::create_task(waiter(t));
    co_await simloop::sleep(1ms);
    w.cancel();
    try {
      co_await w;
    } catch (const CancelledError&) {
      log("w.cancelled={} t.done={}", py(w.cancelled()), py(t.done()));
    }
    log("inner result {}", co_await t);
    auto t2 = simloop::create_task(inner());
    loop.call_later(1ms, [t2] { t2.cancel(); });
    try {
      co_await simloop::shield(t2);
    } catch (const CancelledError&) {
      log("shield of a cancelled inner raised CancelledError");
    }
  };
  loop.run_until_complete(main_task());
}

// ---- timeouts and wait_for -----------------------------------------------------

SIMLOOP_CONFORMANCE(prim_timeout) {
  SimLoop loop;
  log.attach(loop);
  auto main_body = [&]() -> Coro<> {
    {
      simloop::Timeout cm = simloop::timeout(2ms);
      try {
        co_await cm.run(value_after(10ms, "1"));
      } catch (const simloop::TimeoutError& e) {
        std::string cause = "None";
        try {
          std::rethrow_if_nested(e);
        } catch (const CancelledError&) {
          cause = "CancelledError";
        }
        log("TimeoutError cause={} expired={} cancelling={}", cause, py(cm.expired()),
            simloop::current_task().cancelling());
      }
    }
    {
      simloop::Timeout cm = simloop::timeout(5ms);
      std::string v = co_await cm.run(value_after(1ms, "7"));
      log("in time {} expired={}", v, py(cm.expired()));
    }
    simloop::Timeout cm = simloop::timeout(std::nullopt);
    cm.enter();
    cm.reschedule(loop.time() + 3ms);
    std::exception_ptr error;
    try {
      co_await simloop::sleep(1s);
    } catch (const CancelledError&) {
      log("body cancelled by the rescheduled timeout");
      error = std::current_exception();
    }
    cm.exit(error);
    log("unreachable");
  };
  auto outer = [&]() -> Coro<> {
    try {
      co_await main_body();
    } catch (const simloop::TimeoutError&) {
      log("rescheduled timeout raised TimeoutError");
    }
    auto past = [&]() -> Coro<> {
      co_await simloop::sleep(0s);
      log("timeout_at in the past: one iteration runs");
      co_await simloop::sleep(0s);
    };
    try {
      co_await simloop::timeout_at(loop.time() - 1s, past());
    } catch (const simloop::TimeoutError&) {
      log("past deadline raised TimeoutError");
    }
  };
  loop.run_until_complete(outer());
}

SIMLOOP_CONFORMANCE(prim_timeout_outer_cancel) {
  for (bool cancel_first : {true, false}) {
    SimLoop loop;
    log.attach(loop);
    auto inner = [&]() -> Coro<> {
      try {
        co_await simloop::timeout(5ms, sleep_for(10ms));
      } catch (const simloop::TimeoutError&) {
        log("inner TimeoutError");
      } catch (const CancelledError&) {
        log("inner CancelledError cancelling={}", simloop::current_task().cancelling());
        throw;
      }
    };
    auto main_task = [&]() -> Coro<> {
      auto t = simloop::create_task(inner());
      if (cancel_first) loop.call_at(5ms, [t] { t.cancel(); });
      co_await simloop::sleep(0s);
      if (!cancel_first) loop.call_at(5ms, [t] { t.cancel(); });
      try {
        co_await t;
      } catch (const CancelledError&) {
        log("cancel_first={} t.cancelled={}", py(cancel_first), py(t.cancelled()));
      }
      t = simloop::create_task(inner());
      co_await simloop::sleep(1ms);
      t.cancel();
      try {
        co_await t;
      } catch (const CancelledError&) {
        log("early cancel t.cancelled={}", py(t.cancelled()));
      }
    };
    loop.run_until_complete(main_task());
  }
}

SIMLOOP_CONFORMANCE(prim_wait_for) {
  SimLoop loop;
  log.attach(loop);
  auto return_42 = [&]() -> Coro<int> {
    try {
      co_await simloop::sleep(10ms);
    } catch (const CancelledError&) {
      log("return_42 swallowed the cancel");
    }
    co_return 42;
  };
  bool started = false;
  auto foo = [&]() -> Coro<> {
    started = true;
    co_return;
  };
  auto main_task = [&]() -> Coro<> {
    log("in time {}", co_await simloop::wait_for(value_after(1ms, "4"), 5ms));
    auto t = simloop::create_task(value_after(10ms, "0"));
    try {
      co_await simloop::wait_for(t, 2ms);
    } catch (const simloop::TimeoutError&) {
      log("TimeoutError t.cancelled={}", py(t.cancelled()));
    }
    log("swallowed {}", co_await simloop::wait_for(return_42(), 1ms));
    Future<int> fut = Future<int>::create(loop);
    fut.set_result(3);
    log("zero timeout done future {}", co_await simloop::wait_for(fut, 0ms));
    try {
      co_await simloop::wait_for(foo(), 0ms);
    } catch (const simloop::TimeoutError&) {
      log("zero timeout coroutine: TimeoutError started={}", py(started));
    }
    t = simloop::create_task(value_after(10ms, "0"));
    co_await simloop::sleep(0s);
    try {
      co_await simloop::wait_for(t, -1s);
    } catch (const simloop::TimeoutError&) {
      log("negative timeout t.cancelled={}", py(t.cancelled()));
    }
    auto inner = simloop::create_task(value_after(100s, "0"));
    auto w = simloop::create_task(simloop::wait_for(inner, 60s));
    loop.call_soon([w] { w.cancel(); });
    if (co_await raises<CancelledError>(w)) {
      co_await simloop::sleep(0s);
      log("waiter cancelled inner.cancelled={}", py(inner.cancelled()));
    }
  };
  loop.run_until_complete(main_task());
}

SIMLOOP_CONFORMANCE(prim_wait_for_same_iteration) {
  for (bool complete_first : {true, false}) {
    SimLoop loop;
    log.attach(loop);
    auto main_task = [&]() -> Coro<> {
      Future<int> fut = Future<int>::create(loop);
      if (complete_first) loop.call_at(2ms, [fut] { fut.set_result(5); });
      auto w = simloop::create_task(simloop::wait_for(fut, 2ms));
      co_await simloop::sleep(0s);
      if (!complete_first) {
        loop.call_at(2ms, [&, fut] { log("completer sees fut.cancelled={}", py(fut.cancelled())); });
      }
      try {
        int v = co_await w;
        log("complete_first={} result {}", py(complete_first), v);
      } catch (const simloop::TimeoutError&) {
        log("complete_first={} TimeoutError fut.done={}", py(complete_first), py(fut.done()));
      }
      if (fut.done() && !fut.cancelled()) log("result kept in the future: {}", fut.result());
      simloop::Queue<std::string> q;
      auto base = loop.time();
      if (complete_first) loop.call_at(base + 2ms, [&q] { q.put_nowait("item"); });
      auto g = simloop::create_task(simloop::wait_for(q.get(), 2ms));
      co_await simloop::sleep(0s);
      if (!complete_first) loop.call_at(base + 2ms, [&q] { q.put_nowait("item"); });
      try {
        log("get {}", co_await g);
      } catch (const simloop::TimeoutError&) {
        log("get TimeoutError");
      }
      co_await simloop::sleep(0s);
      log("qsize={}", q.qsize());
    };
    loop.run_until_complete(main_task());
  }
}

// ---- TaskGroup ---------------------------------------------------------------

SIMLOOP_CONFORMANCE(prim_taskgroup) {
  SimLoop loop;
  log.attach(loop);
  auto sibling = [&]() -> Coro<> {
    try {
      co_await simloop::sleep(10ms);
    } catch (const CancelledError&) {
      log("sibling cancelled");
      throw;
    }
  };
  auto whats = [](const simloop::ExceptionGroup& g) {
    std::vector<std::string> out;
    for (const auto& e : g.exceptions()) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        out.push_back(x.what());
      }
    }
    return joined(out);
  };
  auto main_task = [&]() -> Coro<> {
    Task<std::string> a, b;
    co_await simloop::with_task_group([&](simloop::TaskGroup& tg) -> Coro<> {
      a = tg.create_task(value_after(2ms, "1"));
      b = tg.create_task(value_after(5ms, "2"));
      co_return;
    });
    log("all done {}", std::stoi(a.result()) + std::stoi(b.result()));
    try {
      co_await simloop::with_task_group([&](simloop::TaskGroup& tg) -> Coro<> {
        tg.create_task(sibling());
        tg.create_task(logged_fail_after(&log, 1ms, "one"));
        tg.create_task(logged_fail_after(&log, 1ms, "two"));
        try {
          co_await simloop::sleep(10ms);
        } catch (const CancelledError&) {
          log("body cancelled");
          throw;
        }
      });
    } catch (const simloop::ExceptionGroup& g) {
      log("group {} cancelling={}", whats(g), simloop::current_task().cancelling());
    }
    Task<std::string> c;
    simloop::TaskGroup tg;
    tg.enter();
    std::exception_ptr error;
    try {
      c = tg.create_task(value_after(10ms, "0"));
      co_await simloop::sleep(1ms);
      throw std::runtime_error("body");
    } catch (...) {
      error = std::current_exception();
    }
    try {
      co_await tg.exit(error);
    } catch (const simloop::ExceptionGroup& g) {
      log("body error group {} child.cancelled={}", whats(g), py(c.cancelled()));
    }
    try {
      tg.create_task(value_after(0ms, "0"));
    } catch (const simloop::TaskGroupStateError&) {
      log("create_task on a finished group raises");
    }
  };
  loop.run_until_complete(main_task());
}

SIMLOOP_CONFORMANCE(prim_taskgroup_outer_cancel) {
  SimLoop loop;
  log.attach(loop);
  auto child = [&](std::string name) -> Coro<> {
    try {
      co_await simloop::sleep(10ms);
    } catch (const CancelledError&) {
      log("{} cancelled", name);
      throw;
    }
  };
  auto parent_waiting = [&]() -> Coro<> {
    co_await simloop::with_task_group([&](simloop::TaskGroup& tg) -> Coro<> {
      tg.create_task(child("c"));
      co_return;
    });
  };
  auto parent_failing = [&]() -> Coro<> {
    try {
      co_await simloop::with_task_group([&](simloop::TaskGroup& tg) -> Coro<> {
        tg.create_task(logged_fail_after(&log, 1ms, "child"));
        co_await simloop::sleep(10ms);
      });
    } catch (const simloop::ExceptionGroup&) {
      log("group, cancelling={}", simloop::current_task().cancelling());
    }
    co_await simloop::sleep(1ms);
    log("not reached");
  };
  auto main_task = [&]() -> Coro<> {
    auto p = simloop::create_task(parent_waiting());
    co_await simloop::sleep(1ms);
    p.cancel();
    try {
      co_await p;
    } catch (const CancelledError&) {
      log("parent cancelled={}", py(p.cancelled()));
    }
    p = simloop::create_task(parent_failing());
    co_await simloop::sleep(0s);
    co_await simloop::sleep(0s);
    loop.call_at(loop.time() + 1ms, [p] { p.cancel(); });
    try {
      co_await p;
    } catch (const CancelledError&) {
      log("parent cancelled={}", py(p.cancelled()));
    }
  };
  loop.run_until_complete(main_task());
}

SIMLOOP_CONFORMANCE(gather_cancel_swallowed_by_last_child) {
  SimLoop loop;
  log.attach(loop);
  auto quits = []() -> Coro<std::string> {
    co_await simloop::sleep(1s);
    co_return "quits";
  };
  auto stubborn = [&](std::string name, bool yield_first) -> Coro<std::string> {
    try {
      if (yield_first) co_await simloop::sleep(0s);
      co_await simloop::sleep(1s);
    } catch (const CancelledError&) {
      log("{} swallows the cancellation", name);
    }
    co_return name;
  };
  auto round = [&](bool yield_first) -> Coro<> {
    auto a = simloop::create_task(quits());
    auto b = simloop::create_task(stubborn(yield_first ? "queued" : "waiting", yield_first));
    auto g = simloop::gather(simloop::return_exceptions, a, b);
    co_await simloop::sleep(0s);
    log("cancel returned {}", py(g.cancel("stop now")));
    std::string outcome = "gather returned";
    try {
      co_await g;
    } catch (const CancelledError& e) {
      outcome = e.message().empty() ? "gather raised CancelledError args=()"
                                    : fmt::format("gather raised CancelledError args=('{}',)", e.message());
    }
    log("{}", outcome);
    log("a cancelled={} b cancelled={} b result={}", py(a.cancelled()), py(b.cancelled()), b.result());
  };
  auto main_task = [&]() -> Coro<> {
    co_await round(false);
    co_await round(true);
  };
  loop.run_until_complete(main_task());
}
