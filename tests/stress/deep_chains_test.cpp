// Robustness: depth and volume that must not overflow the stack or leak,
// in the -O0 build as in the optimized ones (cppcoro's "lots of synchronous
// completions" idea, plus deep chains, many tasks, and closing a busy loop).
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include <simloop/simloop.hpp>

using namespace std::chrono_literals;
using simloop::Coro;
using simloop::sim::SimLoop;

namespace {

Coro<int> completes_synchronously(int i) { co_return i & 1; }

Coro<std::int64_t> million_synchronous_awaits() {
  std::int64_t sum = 0;
  for (int i = 0; i < 1'000'000; ++i) sum += co_await completes_synchronously(i);
  co_return sum;
}

// Each level awaits the next; the bottom yields to the loop once, so the
// whole chain is suspended and resumed through the ready queue too.
Coro<std::int64_t> chain(int depth) {
  if (depth == 0) {
    co_await simloop::sleep(0s);
    co_return 0;
  }
  std::int64_t below = co_await chain(depth - 1);
  co_return below + 1;
}

Coro<int> short_lived(int i) {
  co_await simloop::sleep(0s);
  co_return i;
}

Coro<> parked_forever(simloop::Future<void> never) { co_await never; }

}  // namespace

TEST(Stress, MillionSynchronousAwaitsDoNotGrowTheStack) {
  SimLoop loop;
  EXPECT_EQ(loop.run_until_complete(million_synchronous_awaits()), 500'000);
}

TEST(Stress, HundredThousandDeepChainOfAwaits) {
  SimLoop loop;
  EXPECT_EQ(loop.run_until_complete(chain(100'000)), 100'000);
}

TEST(Stress, HundredThousandTasksCreatedAndCompleted) {
  SimLoop loop;
  auto body = []() -> Coro<std::int64_t> {
    std::vector<simloop::Task<int>> tasks;
    tasks.reserve(100'000);
    for (int i = 0; i < 100'000; ++i) tasks.push_back(simloop::create_task(short_lived(i)));
    std::int64_t sum = 0;
    for (auto& t : tasks) sum += co_await t;
    co_return sum;
  };
  EXPECT_EQ(loop.run_until_complete(body()), std::int64_t{100'000} * 99'999 / 2);
  EXPECT_EQ(simloop::all_tasks(loop).size(), 0u);
  EXPECT_EQ(loop.tasks_created(), 100'001u);
}

TEST(Stress, ClosingWithTenThousandPendingTasksReportsEachAndLeaksNothing) {
  std::vector<std::string> reports;
  {
    SimLoop loop;
    loop.set_exception_handler([&](simloop::EventLoop&, const simloop::ExceptionContext& context) {
      reports.push_back(context.message + " " + context.source);
    });
    auto never = simloop::Future<void>::create(loop);
    auto body = [&]() -> Coro<> {
      for (int i = 0; i < 10'000; ++i) loop.create_task(parked_forever(never));
      co_await simloop::sleep(0s);  // every task reaches its co_await
    };
    loop.run_until_complete(body());
    EXPECT_EQ(simloop::all_tasks(loop).size(), 10'000u);
    loop.close();
    EXPECT_TRUE(loop.is_closed());
    EXPECT_EQ(simloop::all_tasks(loop).size(), 0u);
  }
  ASSERT_EQ(reports.size(), 10'000u);
  // Reported in creation order: Task-1 ran the body, so the parked ones are Task-2...
  EXPECT_NE(reports.front().find("Task was destroyed but it is pending!"), std::string::npos);
  EXPECT_NE(reports.front().find("name='Task-2'"), std::string::npos) << reports.front();
  EXPECT_NE(reports.back().find("name='Task-10001'"), std::string::npos) << reports.back();
  EXPECT_NE(reports.front().find("deep_chains_test.cpp"), std::string::npos) << reports.front();
}

namespace {
Coro<int> never_finishes(simloop::Future<int> never) { co_return co_await never; }
}  // namespace

// A pending gather and a pending shield close reference cycles between their
// outer future and the children (each holds the other until one completes).
// Closing the loop must break them: the sanitizer build's leak check fails
// this test otherwise.
TEST(Stress, ClosingWithPendingGatherAndShieldLeaksNothing) {
  int reports = 0;
  {
    SimLoop loop;
    loop.set_exception_handler([&](simloop::EventLoop&, const simloop::ExceptionContext&) { ++reports; });
    auto never = simloop::Future<int>::create(loop);
    auto gathering = [&]() -> Coro<> {
      std::vector<simloop::Task<int>> children;
      for (int i = 0; i < 3; ++i) children.push_back(loop.create_task(never_finishes(never)));
      co_await simloop::gather(children);
    };
    auto shielding = [&]() -> Coro<int> {
      co_return co_await simloop::shield(loop.create_task(never_finishes(never)));
    };
    auto body = [&]() -> Coro<> {
      loop.create_task(gathering());
      loop.create_task(shielding());
      co_await simloop::sleep(0s);
      co_await simloop::sleep(0s);
    };
    loop.run_until_complete(body());
    EXPECT_EQ(simloop::all_tasks(loop).size(), 6u);
    loop.close();
  }
  EXPECT_EQ(reports, 6);  // each pending task reported once
}
