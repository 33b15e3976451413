// Queue, PriorityQueue, LifoQueue: every operation, every misuse error,
// shutdown, and cancellation of getters and putters at each await point.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include <simloop/simloop.hpp>

#include "support/primitive_checkers.hpp"

using namespace std::chrono_literals;
using simloop::Coro;
using simloop::Future;
using simloop::Task;
using simloop::sim::SimLoop;

TEST(PrimitivesQueue, NowaitOperationsAndSizes) {
  simloop::Queue<int> q(2);
  EXPECT_EQ(q.maxsize(), 2);
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.full());
  q.put_nowait(1);
  q.put_nowait(2);
  EXPECT_TRUE(q.full());
  EXPECT_EQ(q.qsize(), 2u);
  EXPECT_THROW(q.put_nowait(3), simloop::QueueFull);
  EXPECT_EQ(q.get_nowait(), 1);
  EXPECT_EQ(q.get_nowait(), 2);
  EXPECT_THROW(q.get_nowait(), simloop::QueueEmpty);
  EXPECT_EQ(q.repr(), "<Queue maxsize=2 tasks=2>");
}

TEST(PrimitivesQueue, UnboundedNeverFull) {
  simloop::Queue<int> q;
  for (int i = 0; i < 100; ++i) q.put_nowait(i);
  EXPECT_FALSE(q.full());
  simloop::Queue<int> negative(-1);
  negative.put_nowait(1);
  EXPECT_FALSE(negative.full());
}

TEST(PrimitivesQueue, PriorityAndLifoOrder) {
  simloop::PriorityQueue<std::pair<int, std::string>> pq;
  pq.put_nowait({3, "c"});
  pq.put_nowait({1, "a"});
  pq.put_nowait({2, "b"});
  pq.put_nowait({1, "a2"});
  EXPECT_EQ(pq.get_nowait().second, "a");
  EXPECT_EQ(pq.get_nowait().second, "a2");
  EXPECT_EQ(pq.get_nowait().second, "b");
  EXPECT_EQ(pq.get_nowait().second, "c");
  simloop::LifoQueue<int> lq;
  lq.put_nowait(1);
  lq.put_nowait(2);
  lq.put_nowait(3);
  EXPECT_EQ(lq.get_nowait(), 3);
  EXPECT_EQ(lq.get_nowait(), 2);
  EXPECT_EQ(lq.get_nowait(), 1);
}

// Ties under a comparator that sees only the priority come out in heapq's
// order (checked against CPython 3.13: heapq with key-only comparison of
// (5,'a'),(5,'b'),(5,'c'),(1,'d'),(5,'e') pops d, c, e, a, b).
TEST(PrimitivesQueue, PriorityTiesFollowHeapq) {
  struct ByPriority {
    bool operator()(const std::pair<int, char>& a, const std::pair<int, char>& b) const { return a.first < b.first; }
  };
  simloop::PriorityQueue<std::pair<int, char>, ByPriority> pq;
  for (auto item : {std::pair{5, 'a'}, {5, 'b'}, {5, 'c'}, {1, 'd'}, {5, 'e'}}) pq.put_nowait(item);
  std::string out;
  while (!pq.empty()) out += pq.get_nowait().second;
  EXPECT_EQ(out, "dceab");
}

TEST(PrimitivesQueue, GetWaitsPutWaitsFifo) {
  SimLoop loop;
  simloop::Queue<int> q(1);
  std::vector<std::string> log;
  auto getter = [&](std::string name) -> Coro<void> {
    int v = co_await q.get();
    log.push_back(name + "=" + std::to_string(v));
  };
  auto putter = [&](int v) -> Coro<void> {
    co_await q.put(v);
    log.push_back("put " + std::to_string(v));
  };
  auto body = [&]() -> Coro<void> {
    auto g1 = simloop::create_task(getter("g1"));
    auto g2 = simloop::create_task(getter("g2"));
    co_await simloop::sleep(0ms);
    EXPECT_EQ(q.getters(), 2u);
    auto p1 = simloop::create_task(putter(1));
    auto p2 = simloop::create_task(putter(2));
    auto p3 = simloop::create_task(putter(3));
    co_await g1;
    co_await g2;
    co_await p1;
    co_await p2;
    co_await simloop::sleep(0ms);
    EXPECT_EQ(q.qsize(), 1u);
    EXPECT_EQ(q.get_nowait(), 3);
    co_await p3;
  };
  loop.run_until_complete(body());
  // As CPython 3.13 logs it: put 1 wakes g1, whose get frees the slot for p2.
  EXPECT_EQ(log, (std::vector<std::string>{"put 1", "g1=1", "put 2", "g2=2", "put 3"}));
}

// A getter woken by put_nowait and cancelled before it runs hands the wakeup
// on: the next getter gets the item, and the cancelled one leaves no trace.
TEST(PrimitivesQueue, WokenThenCancelledGetterPassesTheWakeupOn) {
  SimLoop loop;
  simloop::Queue<int> q;
  std::vector<std::string> log;
  auto getter = [&](std::string name) -> Coro<void> {
    int v = co_await q.get();
    log.push_back(name + "=" + std::to_string(v));
  };
  auto body = [&]() -> Coro<void> {
    auto g1 = simloop::create_task(getter("g1"));
    auto g2 = simloop::create_task(getter("g2"));
    co_await simloop::sleep(0ms);
    q.put_nowait(7);  // wakes g1
    g1.cancel();      // g1 cancelled before it runs
    co_await g2;
    EXPECT_TRUE(g1.cancelled());
    EXPECT_EQ(q.getters(), 0u);
    EXPECT_TRUE(q.empty());
  };
  loop.run_until_complete(body());
  EXPECT_EQ(log, (std::vector<std::string>{"g2=7"}));
}

TEST(PrimitivesQueue, WokenThenCancelledPutterPassesTheSlotOn) {
  SimLoop loop;
  simloop::Queue<int> q(1);
  auto putter = [&](int v) -> Coro<void> { co_await q.put(v); };
  auto body = [&]() -> Coro<void> {
    q.put_nowait(0);
    auto p1 = simloop::create_task(putter(1));
    auto p2 = simloop::create_task(putter(2));
    co_await simloop::sleep(0ms);
    EXPECT_EQ(q.putters(), 2u);
    EXPECT_EQ(q.get_nowait(), 0);  // wakes p1
    p1.cancel();
    co_await p2;
    EXPECT_TRUE(p1.cancelled());
    EXPECT_EQ(q.get_nowait(), 2);
    EXPECT_EQ(q.putters(), 0u);
  };
  loop.run_until_complete(body());
}

TEST(PrimitivesQueue, CancelledGetterNeverTakesAnItem) {
  SimLoop loop;
  simloop::Queue<int> q;
  auto getter = [&]() -> Coro<int> { co_return co_await q.get(); };
  auto body = [&]() -> Coro<void> {
    auto g = simloop::create_task(getter());
    co_await simloop::sleep(0ms);
    g.cancel();
    co_await simloop::sleep(0ms);
    q.put_nowait(5);
    EXPECT_TRUE(g.cancelled());
    EXPECT_EQ(q.qsize(), 1u);
    EXPECT_EQ(q.getters(), 0u);
  };
  loop.run_until_complete(body());
}

TEST(PrimitivesQueue, TaskDoneAndJoin) {
  SimLoop loop;
  simloop::Queue<int> q;
  EXPECT_THROW(q.task_done(), simloop::TaskDoneTooManyError);
  std::vector<std::string> log;
  auto worker = [&]() -> Coro<void> {
    for (int i = 0; i < 3; ++i) {
      int v = co_await q.get();
      co_await simloop::sleep(1ms);
      log.push_back("done " + std::to_string(v));
      q.task_done();
    }
  };
  auto body = [&]() -> Coro<void> {
    co_await q.join();  // nothing unfinished: returns at once
    for (int i = 0; i < 3; ++i) q.put_nowait(i);
    EXPECT_EQ(q.unfinished_tasks(), 3u);
    auto w = simloop::create_task(worker());
    co_await q.join();
    log.push_back("joined");
    co_await w;
    EXPECT_THROW(q.task_done(), simloop::TaskDoneTooManyError);
  };
  loop.run_until_complete(body());
  EXPECT_EQ(log, (std::vector<std::string>{"done 0", "done 1", "done 2", "joined"}));
  EXPECT_EQ(loop.time(), 3ms);
}

TEST(PrimitivesQueue, ShutdownLetsGettersDrainThenRaises) {
  SimLoop loop;
  simloop::Queue<int> q(1);
  std::vector<std::string> log;
  auto getter = [&]() -> Coro<void> {
    try {
      for (;;) log.push_back("got " + std::to_string(co_await q.get()));
    } catch (const simloop::QueueShutDown&) {
      log.push_back("getter shut down");
    }
  };
  auto putter = [&](int v) -> Coro<void> {
    try {
      co_await q.put(v);
      log.push_back("put " + std::to_string(v));
    } catch (const simloop::QueueShutDown&) {
      log.push_back("putter shut down");
    }
  };
  auto body = [&]() -> Coro<void> {
    q.put_nowait(1);
    auto p = simloop::create_task(putter(2));
    co_await simloop::sleep(0ms);
    q.shutdown();
    EXPECT_TRUE(q.is_shutdown());
    EXPECT_THROW(q.put_nowait(3), simloop::QueueShutDown);
    co_await p;
    auto g = simloop::create_task(getter());
    co_await g;
    EXPECT_THROW(q.get_nowait(), simloop::QueueShutDown);
    EXPECT_EQ(q.repr(), "<Queue maxsize=1 tasks=1 shutdown>");
  };
  loop.run_until_complete(body());
  EXPECT_EQ(log, (std::vector<std::string>{"putter shut down", "got 1", "getter shut down"}));
}

TEST(PrimitivesQueue, ShutdownImmediateDropsItemsAndReleasesJoin) {
  SimLoop loop;
  simloop::Queue<int> q;
  std::vector<std::string> log;
  auto joiner = [&]() -> Coro<void> {
    co_await q.join();
    log.push_back("joined");
  };
  auto getter = [&]() -> Coro<void> {
    try {
      co_await q.get();
      log.push_back("got");
    } catch (const simloop::QueueShutDown&) {
      log.push_back("getter shut down");
    }
  };
  auto body = [&]() -> Coro<void> {
    auto g = simloop::create_task(getter());
    co_await simloop::sleep(0ms);
    q.put_nowait(1);  // wakes g ...
    q.put_nowait(2);
    auto j = simloop::create_task(joiner());
    q.shutdown(true);  // ... but the queue is emptied before g runs
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.unfinished_tasks(), 0u);
    co_await g;
    co_await j;
    EXPECT_THROW(q.get_nowait(), simloop::QueueShutDown);
    EXPECT_THROW(q.put_nowait(1), simloop::QueueShutDown);
  };
  loop.run_until_complete(body());
  EXPECT_EQ(log, (std::vector<std::string>{"getter shut down", "joined"}));
}

TEST(PrimitivesQueue, ForeignLoopRaises) {
  SimLoop loop1;
  SimLoop loop2;
  simloop::Queue<int> q;
  auto getter = [&]() -> Coro<int> { co_return co_await q.get(); };
  auto g = loop1.create_task(getter());
  loop1.run_once();
  EXPECT_THROW(loop2.run_until_complete(getter()), simloop::ForeignLoopError);
  q.put_nowait(1);
  EXPECT_EQ(loop1.run_until_complete(Future<int>(g)), 1);
}

// Every item got exactly once, with consumers cancelled at every point of a
// short scenario.
TEST(PrimitivesQueue, ExactlyOnceUnderConsumerCancellationAtEveryPoint) {
  std::size_t with_cancel = 0;
  for (std::size_t at = 0; at < 24; ++at) {
    for (std::size_t who = 0; who < 6; ++who) {
      SimLoop loop;
      simloop::testing::QueueScenario s;
      const bool cb = who >= 3;
      s.cancels = {{who % 3, at, cb}, {(who + 1) % 3, at + 3, cb}};
      auto r = simloop::testing::check_queue_exactly_once(loop, s);
      EXPECT_TRUE(r.ok) << "cancel consumer " << who << " at " << at << ": " << r.message;
      with_cancel += r.cancelled;
    }
  }
  EXPECT_GT(with_cancel, 0u) << "the scenarios did cancel consumers";
}

// Producers paced by timers, so consumers wait at every put; each consumer
// is cancelled at each iteration around each put.
TEST(PrimitivesQueue, ExactlyOnceWithPacedProducersAndCancelsAroundEachPut) {
  std::size_t with_cancel = 0;
  for (int ms = 0; ms <= 4; ++ms) {
    for (std::size_t after = 0; after < 4; ++after) {
      for (std::size_t who = 0; who < 3; ++who) {
        SimLoop loop;
        simloop::testing::QueueScenario s;
        s.producers = 1;
        s.items_per_producer = 4;
        s.produce_gap = 1ms;
        s.cancels = {{who, after, false, std::chrono::milliseconds(ms)}};
        auto r = simloop::testing::check_queue_exactly_once(loop, s);
        EXPECT_TRUE(r.ok) << "cancel consumer " << who << " at " << ms << "ms+" << after << ": " << r.message;
        with_cancel += r.cancelled;
      }
    }
  }
  EXPECT_GT(with_cancel, 0u);
}

TEST(PrimitivesQueue, ExactlyOnceWhenEveryConsumerIsCancelled) {
  SimLoop loop;
  simloop::testing::QueueScenario s;
  s.produce_gap = 1ms;
  s.cancels = {{0, 2}, {1, 3}, {2, 4}};
  auto r = simloop::testing::check_queue_exactly_once(loop, s);
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.cancelled, 3u);
  EXPECT_FALSE(r.drained.empty());
}
