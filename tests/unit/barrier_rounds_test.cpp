// Barrier hands out every index of a round exactly once, whatever is
// cancelled when (CPython 3.13's Barrier does not: see docs/loop.md).
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include <simloop/simloop.hpp>

#include "support/raises.hpp"

using namespace std::chrono_literals;
using simloop::Coro;
using simloop::sim::SimLoop;
using simloop::testing::raises;

namespace {

struct Outcomes {
  std::map<std::string, std::size_t> index;  // party -> index returned
  std::map<std::string, std::uint64_t> round;
  std::vector<std::string> cancelled;
};

Coro<void> party(simloop::Barrier* b, std::string name, Outcomes* out) {
  const auto cancelled =
      co_await raises<simloop::CancelledError>([](simloop::Barrier* b, std::string name, Outcomes* out) -> Coro<void> {
        const std::size_t i = co_await b->wait();
        out->index[name] = i;
        out->round[name] = b->rounds();
      }(b, name, out));
  if (cancelled) out->cancelled.push_back(name);
}

}  // namespace

// CPython 3.13: a waits (0), b waits (1), a is cancelled, c takes index 1
// again (b holds it), d trips the round with 2, and 0 is never handed out.
TEST(BarrierRounds, AWaiterCancelledWhileFillingGivesItsIndexToTheNextArrival) {
  SimLoop loop;
  simloop::Barrier barrier(3);
  Outcomes out;
  auto body = [&]() -> Coro<void> {
    auto a = simloop::create_task(party(&barrier, "a", &out));
    co_await simloop::sleep(0s);
    auto b = simloop::create_task(party(&barrier, "b", &out));
    co_await simloop::sleep(0s);
    EXPECT_EQ(barrier.n_waiting(), 2u);
    a.cancel();
    co_await simloop::sleep(0s);
    EXPECT_EQ(barrier.n_waiting(), 1u);
    auto c = simloop::create_task(party(&barrier, "c", &out));
    co_await simloop::sleep(0s);
    EXPECT_EQ(barrier.n_waiting(), 2u);
    auto d = simloop::create_task(party(&barrier, "d", &out));
    co_await a;
    co_await b;
    co_await c;
    co_await d;
  };
  loop.run_until_complete(body());
  EXPECT_EQ(out.cancelled, std::vector<std::string>{"a"});
  EXPECT_EQ(out.index, (std::map<std::string, std::size_t>{{"b", 1}, {"c", 0}, {"d", 2}}));
  EXPECT_EQ(barrier.rounds(), 1u);
}

// The highest index's holder cancelled: the next arrival takes that index.
TEST(BarrierRounds, TheLastIndexFreedIsTakenAgain) {
  SimLoop loop;
  simloop::Barrier barrier(2);
  Outcomes out;
  auto body = [&]() -> Coro<void> {
    auto a = simloop::create_task(party(&barrier, "a", &out));
    co_await simloop::sleep(0s);
    a.cancel();
    co_await a;
    auto b = simloop::create_task(party(&barrier, "b", &out));
    auto c = simloop::create_task(party(&barrier, "c", &out));
    co_await b;
    co_await c;
  };
  loop.run_until_complete(body());
  EXPECT_EQ(out.index, (std::map<std::string, std::size_t>{{"b", 0}, {"c", 1}}));
}

// Cancelled after the round filled (its wakeup queued): the party raises
// CancelledError, its index stays spent, the others return theirs, and the
// next round starts again from index 0.
TEST(BarrierRounds, AWaiterCancelledWhileDrainingKeepsTheRoundWhole) {
  SimLoop loop;
  simloop::Barrier barrier(3);
  Outcomes out;
  auto body = [&]() -> Coro<void> {
    auto a = simloop::create_task(party(&barrier, "a", &out));
    auto b = simloop::create_task(party(&barrier, "b", &out));
    co_await simloop::sleep(0s);
    auto c = simloop::create_task(party(&barrier, "c", &out));
    // c fills the round in its first step; a's wakeup is queued behind it.
    loop.call_soon([a] { a.cancel(); });
    co_await a;
    co_await b;
    co_await c;
    EXPECT_EQ(barrier.rounds(), 1u);
    EXPECT_EQ(barrier.n_waiting(), 0u);
    auto d = simloop::create_task(party(&barrier, "d", &out));
    auto e = simloop::create_task(party(&barrier, "e", &out));
    auto f = simloop::create_task(party(&barrier, "f", &out));
    co_await d;
    co_await e;
    co_await f;
  };
  loop.run_until_complete(body());
  EXPECT_EQ(out.cancelled, std::vector<std::string>{"a"});
  EXPECT_EQ(out.index, (std::map<std::string, std::size_t>{{"b", 1}, {"c", 2}, {"d", 0}, {"e", 1}, {"f", 2}}));
  EXPECT_EQ(out.round["b"], 1u);
  EXPECT_EQ(out.round["f"], 2u);
  EXPECT_EQ(barrier.rounds(), 2u);
}
