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
