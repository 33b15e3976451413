#include <gtest/gtest.h>

#include <simloop/simloop.hpp>

using namespace std::chrono_literals;
using simloop::Coro;

TEST(Smoke, SleepAdvancesVirtualTime) {
  simloop::sim::SimLoop loop;
  auto body = [&]() -> Coro<int> {
    co_await simloop::sleep(2s);
    co_return 7;
  };
  EXPECT_EQ(loop.run_until_complete(body()), 7);
  EXPECT_EQ(loop.time(), 2s);
}
