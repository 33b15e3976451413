// detail::propagate: a coroutine that ends with an error without raising it
// in its own frame must look, to everyone outside, exactly like one that
// raised it: the awaiter catches the same exception, the coroutine counts as
// finished, a task takes it as its outcome, and the frame's locals die.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include <simloop/simloop.hpp>

#include "support/raises.hpp"

using simloop::Coro;
using simloop::sim::SimLoop;
using simloop::testing::raises;

namespace {

struct CountsDestruction {
  int* destroyed;
  ~CountsDestruction() { ++*destroyed; }
};

Coro<int> ends_with(std::exception_ptr error, int* destroyed) {
  CountsDestruction local{destroyed};
  co_await simloop::sleep(std::chrono::nanoseconds(0));
  co_await simloop::detail::propagate(error);
  co_return 1;  // never reached
}

}  // namespace

TEST(CoroPropagate, TheAwaiterCatchesTheSameErrorAndTheFrameIsGone) {
  SimLoop loop;
  int destroyed = 0;
  const auto error = std::make_exception_ptr(std::runtime_error("boom"));
  auto body = [&]() -> Coro<std::string> {
    try {
      co_await ends_with(error, &destroyed);
    } catch (const std::runtime_error& e) {
      // The temporary Coro (and its frame) died while the error left the
      // co_await expression.
      co_return std::string(e.what()) + " destroyed=" + std::to_string(destroyed);
    }
    co_return "no error";
  };
  EXPECT_EQ(loop.run_until_complete(body()), "boom destroyed=1");
}

TEST(CoroPropagate, ACoroEndedByPropagateIsDoneAndCannotBeAwaitedAgain) {
  SimLoop loop;
  int destroyed = 0;
  auto body = [&]() -> Coro<bool> {
    Coro<int> c = ends_with(std::make_exception_ptr(std::logic_error("x")), &destroyed);
    EXPECT_FALSE(c.done());
    EXPECT_THROW(co_await c, std::logic_error);
    EXPECT_TRUE(c.done());
    EXPECT_EQ(destroyed, 0);  // the frame lives until the Coro dies
    bool refused = false;
    try {
      co_await c;
    } catch (const simloop::InvalidStateError&) {
      refused = true;
    }
    co_return refused;
  };
  EXPECT_TRUE(loop.run_until_complete(body()));
  EXPECT_EQ(destroyed, 1);
}

TEST(CoroPropagate, ATaskWhoseCoroutinePropagatesFinishesWithThatError) {
  SimLoop loop;
  int destroyed = 0;
  auto failed = loop.create_task(ends_with(std::make_exception_ptr(std::runtime_error("task error")), &destroyed));
  auto cancelled =
      loop.create_task(ends_with(std::make_exception_ptr(simloop::CancelledError("by propagate")), &destroyed));
  auto body = [&]() -> Coro<> { co_await simloop::sleep(std::chrono::seconds(1)); };
  loop.run_until_complete(body());
  ASSERT_TRUE(failed.done());
  EXPECT_FALSE(failed.cancelled());
  EXPECT_THROW(std::rethrow_exception(failed.exception()), std::runtime_error);
  ASSERT_TRUE(cancelled.done());
  EXPECT_TRUE(cancelled.cancelled());
  EXPECT_EQ(destroyed, 2);  // a finished task drops its frame at once
}

TEST(CoroPropagate, ACancelledGetAsATaskOfItsOwnIsCancelledAndLeavesNoWaiter) {
  SimLoop loop;
  simloop::Queue<int> q;
  auto body = [&]() -> Coro<int> {
    auto getter = simloop::create_task(q.get());
    co_await simloop::sleep(std::chrono::nanoseconds(0));
    EXPECT_EQ(q.getters(), 1u);
    getter.cancel("stop");
    if (auto cancelled = co_await raises<simloop::CancelledError>(getter)) {
      EXPECT_EQ(std::string(cancelled->what()), "stop");
    }
    EXPECT_TRUE(getter.cancelled());
    co_return static_cast<int>(q.getters());
  };
  EXPECT_EQ(loop.run_until_complete(body()), 0);
}

// A task cancelled before its first step ends without its coroutine being
// resumed (no statement of it could catch the CancelledError), but exactly
// as if the error had been raised at its top: cancelled, with the message,
// its frame (and parameters) destroyed, no longer among the loop's tasks.
TEST(TaskCancelledBeforeItsFirstStep, EndsCancelledWithTheMessageAndItsFrameDestroyed) {
  SimLoop loop;
  int destroyed = 0;
  bool ran = false;
  auto child = [&ran](CountsDestruction param) -> Coro<int> {
    ran = true;
    co_return *param.destroyed;
  };
  auto body = [&]() -> Coro<std::string> {
    auto t = simloop::create_task(child(CountsDestruction{&destroyed}));
    t.cancel("why");
    EXPECT_EQ(simloop::all_tasks(loop).size(), 2u);
    const auto cancelled = co_await raises<simloop::CancelledError>(t);
    const std::string message = cancelled ? cancelled->what() : "";
    EXPECT_TRUE(t.cancelled());
    EXPECT_EQ(simloop::all_tasks(loop).size(), 1u);
    co_return message;
  };
  EXPECT_EQ(loop.run_until_complete(body()), "why");
  EXPECT_FALSE(ran);
  EXPECT_GE(destroyed, 1);
}
