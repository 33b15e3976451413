// TaskGroup: results, first-failure cancellation, the exception group,
// outer cancellation and the uncancel count, and every misuse error.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <simloop/simloop.hpp>

#include "support/raises.hpp"

using namespace std::chrono_literals;
using simloop::Coro;
using simloop::Future;
using simloop::Task;
using simloop::TaskGroup;
using simloop::sim::SimLoop;
using simloop::testing::raises;

namespace {
Coro<int> value_after(std::chrono::milliseconds d, int v) {
  co_await simloop::sleep(d);
  co_return v;
}
Coro<void> fail_after(std::chrono::milliseconds d, std::string what) {
  co_await simloop::sleep(d);
  throw std::runtime_error(what);
}
std::vector<std::string> whats(const simloop::ExceptionGroup& g) {
  std::vector<std::string> out;
  for (const auto& e : g.exceptions()) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      out.push_back(x.what());
    }
  }
  return out;
}
}  // namespace

TEST(PrimitivesTaskGroup, WaitsForEveryChild) {
  SimLoop loop;
  auto body = [&]() -> Coro<int> {
    Task<int> a, b;
    co_await simloop::with_task_group([&](TaskGroup& tg) -> Coro<void> {
      a = tg.create_task(value_after(2ms, 1));
      b = tg.create_task(value_after(5ms, 2));
      EXPECT_EQ(tg.size(), 2u);
      EXPECT_EQ(tg.repr(), "<TaskGroup tasks=2 entered>");
      co_return;
    });
    EXPECT_EQ(loop.time(), 5ms);
    co_return a.result() + b.result();
  };
  EXPECT_EQ(loop.run_until_complete(body()), 3);
}

TEST(PrimitivesTaskGroup, ReturnsTheBodysValue) {
  SimLoop loop;
  auto body = [&]() -> Coro<int> {
    co_return co_await simloop::with_task_group([&](TaskGroup& tg) -> Coro<int> {
      Task<int> t = tg.create_task(value_after(1ms, 20));
      co_return 1 + co_await t;
    });
  };
  EXPECT_EQ(loop.run_until_complete(body()), 21);
}

TEST(PrimitivesTaskGroup, FirstFailureCancelsSiblingsAndTheBody) {
  SimLoop loop;
  std::vector<std::string> log;
  auto sibling = [&]() -> Coro<void> {
    try {
      co_await simloop::sleep(10ms);
    } catch (const simloop::CancelledError&) {
      log.push_back("sibling cancelled");
      throw;
    }
  };
  auto body = [&]() -> Coro<void> {
    std::vector<std::string> errors;
    try {
      co_await simloop::with_task_group([&](TaskGroup& tg) -> Coro<void> {
        tg.create_task(sibling());
        tg.create_task(fail_after(1ms, "one"));
        tg.create_task(fail_after(1ms, "two"));
        try {
          co_await simloop::sleep(10ms);
        } catch (const simloop::CancelledError&) {
          log.push_back("body cancelled");
          throw;
        }
      });
    } catch (const simloop::ExceptionGroup& g) {
      errors = whats(g);
    }
    EXPECT_EQ(errors, (std::vector<std::string>{"one", "two"}));
    EXPECT_EQ(loop.time(), 1ms);
    EXPECT_EQ(simloop::current_task().cancelling(), 0) << "the group took its cancel request back";
    co_await simloop::sleep(1ms);  // the parent is not cancelled afterwards
  };
  loop.run_until_complete(body());
  EXPECT_EQ(log, (std::vector<std::string>{"sibling cancelled", "body cancelled"}));
}

TEST(PrimitivesTaskGroup, BodyErrorCancelsChildrenAndJoinsTheGroup) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    Task<int> child;
    std::vector<std::string> errors;
    try {
      co_await simloop::with_task_group([&](TaskGroup& tg) -> Coro<void> {
        child = tg.create_task(value_after(10ms, 0));
        co_await simloop::sleep(1ms);
        throw std::runtime_error("body");
      });
    } catch (const simloop::ExceptionGroup& g) {
      errors = whats(g);
    }
    EXPECT_EQ(errors, (std::vector<std::string>{"body"}));
    EXPECT_TRUE(child.cancelled());
  };
  loop.run_until_complete(body());
}

TEST(PrimitivesTaskGroup, OuterCancellationWhileExitingPropagates) {
  SimLoop loop;
  Task<int> child;
  auto parent = [&]() -> Coro<void> {
    co_await simloop::with_task_group([&](TaskGroup& tg) -> Coro<void> {
      child = tg.create_task(value_after(10ms, 0));
      co_return;
    });
  };
  auto body = [&]() -> Coro<void> {
    Task<void> p = simloop::create_task(parent());
    co_await simloop::sleep(1ms);
    p.cancel();
    EXPECT_TRUE(co_await raises<simloop::CancelledError>(p));
    EXPECT_TRUE(child.cancelled());
    EXPECT_EQ(loop.time(), 1ms);
  };
  loop.run_until_complete(body());
}

// A child fails and the parent is also cancelled from outside: the group
// raises its ExceptionGroup, and the outer cancellation is kept (the parent
// is cancelled again at its next await).
TEST(PrimitivesTaskGroup, OuterCancellationAndChildFailureKeepBoth) {
  SimLoop loop;
  std::vector<std::string> log;
  auto parent = [&]() -> Coro<void> {
    try {
      co_await simloop::with_task_group([&](TaskGroup& tg) -> Coro<void> {
        tg.create_task(fail_after(1ms, "child"));
        co_await simloop::sleep(10ms);
      });
    } catch (const simloop::ExceptionGroup&) {
      log.push_back("group, cancelling=" + std::to_string(simloop::current_task().cancelling()));
    }
    co_await simloop::sleep(1ms);
    log.push_back("not reached");
  };
  auto body = [&]() -> Coro<void> {
    Task<void> p = simloop::create_task(parent());
    co_await simloop::sleep(0ms);            // the parent creates the child,
    co_await simloop::sleep(0ms);            // the child arms its timer first ...
    loop.call_at(1ms, [p] { p.cancel(); });  // ... so the outer cancel comes right after the failure
    EXPECT_TRUE(co_await raises<simloop::CancelledError>(p));
  };
  loop.run_until_complete(body());
  EXPECT_EQ(log, (std::vector<std::string>{"group, cancelling=1"}));
}

TEST(PrimitivesTaskGroup, CancelledChildrenAddNothing) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    co_await simloop::with_task_group([&](TaskGroup& tg) -> Coro<void> {
      Task<int> t = tg.create_task(value_after(10ms, 0));
      co_await simloop::sleep(1ms);
      t.cancel();
    });
    EXPECT_EQ(loop.time(), 1ms);
  };
  loop.run_until_complete(body());
}

TEST(PrimitivesTaskGroup, MisuseRaises) {
  SimLoop loop;
  auto body = [&]() -> Coro<void> {
    TaskGroup tg;
    EXPECT_THROW(tg.create_task(value_after(1ms, 0)), simloop::TaskGroupStateError);
    tg.enter();
    EXPECT_THROW(tg.enter(), simloop::TaskGroupStateError);
    tg.create_task(value_after(1ms, 0));
    co_await tg.exit(nullptr);
    EXPECT_THROW(tg.create_task(value_after(1ms, 0)), simloop::TaskGroupStateError);

    TaskGroup aborting;
    aborting.enter();
    aborting.create_task(fail_after(0ms, "x"));
    std::exception_ptr e;
    try {
      co_await simloop::sleep(1ms);
    } catch (const simloop::CancelledError&) {
      e = std::current_exception();
    }
    EXPECT_TRUE(e) << "the failing child cancels the parent";
    EXPECT_THROW(aborting.create_task(value_after(1ms, 0)), simloop::TaskGroupStateError);
    const auto group = co_await raises<simloop::ExceptionGroup>(aborting.exit(e));
    EXPECT_TRUE(group && group->exceptions().size() == 1);
  };
  loop.run_until_complete(body());
  TaskGroup outside;
  EXPECT_THROW(outside.enter(), simloop::NoRunningTaskError);
}
