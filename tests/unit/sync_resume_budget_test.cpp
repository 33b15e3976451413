// The budget of synchronous resumptions per step: a loop of co_awaits that
// all complete at once (it never yields) ends with SyncResumeBudgetError
// instead of running forever inside one callback; legitimate synchronous
// work under the budget, spread over steps or not, is unaffected.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include <simloop/simloop.hpp>

using namespace std::chrono_literals;
using simloop::Coro;
using simloop::SyncResumeBudgetError;
using simloop::sim::SimLoop;

namespace {

constexpr std::uint64_t kLimit = 1000;

std::string budget_message(std::uint64_t limit, const std::string& task) {
  return "more than " + std::to_string(limit) + " synchronous resumptions in one step of task '" + task +
         "' without yielding to the loop (a livelock that never suspends?); the limit is "
         "EventLoop::set_max_sync_resumes (SIMLOOP_MAX_SYNC_RESUMES in the runner)";
}

Coro<int> completes_synchronously(int i) { co_return i & 1; }

// `for (;;) co_await sync_coro();` counting the awaits that completed.
Coro<void> spin_on_sync_coro(std::uint64_t* completed) {
  for (;;) {
    co_await completes_synchronously(1);
    ++*completed;
  }
}

// `q.put_nowait(x); co_await q.get();` forever: the queue is never empty.
Coro<void> spin_on_queue(simloop::Queue<int>* q, std::uint64_t* completed) {
  for (;;) {
    q->put_nowait(1);
    co_await q->get();
    ++*completed;
  }
}

// co_await of a future that is already done, forever.
Coro<void> spin_on_done_future(simloop::Future<int> done, std::uint64_t* completed) {
  for (;;) {
    co_await done;
    ++*completed;
  }
}

// `n` synchronous awaits in one step.
Coro<std::int64_t> synchronous_awaits(std::uint64_t n) {
  std::int64_t sum = 0;
  for (std::uint64_t i = 0; i < n; ++i) sum += co_await completes_synchronously(1);
  co_return sum;
}

// Each level awaits the next: `depth` synchronous awaits in one step, then
// one yield, then `depth` synchronous completions resuming the awaiters.
Coro<std::int64_t> chain(int depth) {
  if (depth == 0) {
    co_await simloop::sleep(0s);
    co_return 0;
  }
  std::int64_t below = co_await chain(depth - 1);
  co_return below + 1;
}

Coro<void> sets_after_a_second(bool* flag) {
  co_await simloop::sleep(1s);
  *flag = true;
}

// Runs `coro` as a task named `name` and returns what it raised.
template <class T>
std::string failure_of(SimLoop& loop, Coro<T> coro, const std::string& name) {
  auto task = loop.create_task(std::move(coro), name);
  try {
    loop.run_until_complete(simloop::Future<T>(task));
  } catch (const SyncResumeBudgetError& e) {
    return e.what();
  }
  return "no SyncResumeBudgetError";
}

}  // namespace

TEST(SyncResumeBudget, DefaultsToTenMillionAndIsSettable) {
  SimLoop loop;
  EXPECT_EQ(loop.max_sync_resumes(), 10'000'000u);
  loop.set_max_sync_resumes(kLimit);
  EXPECT_EQ(loop.max_sync_resumes(), kLimit);
}

TEST(SyncResumeBudget, AnEndlessLoopOfSynchronousCorosFailsItsTask) {
  SimLoop loop;
  loop.set_max_sync_resumes(kLimit);
  std::uint64_t completed = 0;
  EXPECT_EQ(failure_of(loop, spin_on_sync_coro(&completed), "spinner"), budget_message(kLimit, "spinner"));
  EXPECT_EQ(completed, kLimit);  // the limit is exact: the next co_await raised
}

TEST(SyncResumeBudget, AnEndlessPutNowaitThenGetLoopFailsItsTask) {
  SimLoop loop;
  loop.set_max_sync_resumes(kLimit);
  simloop::Queue<int> q;
  std::uint64_t completed = 0;
  EXPECT_EQ(failure_of(loop, spin_on_queue(&q, &completed), "consumer"), budget_message(kLimit, "consumer"));
  EXPECT_EQ(completed, kLimit);
  EXPECT_EQ(q.qsize(), 1u);  // the failing get() never started, so it took nothing
}

TEST(SyncResumeBudget, AnEndlessLoopOverADoneFutureFailsItsTask) {
  SimLoop loop;
  loop.set_max_sync_resumes(kLimit);
  auto done = simloop::Future<int>::create(loop);
  done.set_result(1);
  std::uint64_t completed = 0;
  EXPECT_EQ(failure_of(loop, spin_on_done_future(done, &completed), "poller"), budget_message(kLimit, "poller"));
  EXPECT_EQ(completed, kLimit);
}

TEST(SyncResumeBudget, TheErrorIsRaisedAtTheCoAwaitAndCanBeCaught) {
  SimLoop loop;
  loop.set_max_sync_resumes(kLimit);
  auto body = []() -> Coro<std::uint64_t> {
    std::uint64_t completed = 0;
    try {
      for (;;) {
        co_await completes_synchronously(0);
        ++completed;
      }
    } catch (const SyncResumeBudgetError&) {
    }
    // Caught: the budget starts over, and the task may go on.
    completed += static_cast<std::uint64_t>(co_await synchronous_awaits(kLimit - 1));
    co_return completed;
  };
  EXPECT_EQ(loop.run_until_complete(body()), 2 * kLimit - 1);
}

TEST(SyncResumeBudget, ExactlyTheLimitInOneStepPassesAndOneMoreFails) {
  SimLoop loop;
  loop.set_max_sync_resumes(kLimit);
  // The task's root coroutine makes one counted co_await (of synchronous_awaits) itself.
  auto exactly = [](std::uint64_t n) -> Coro<std::int64_t> { co_return co_await synchronous_awaits(n); };
  EXPECT_EQ(loop.run_until_complete(exactly(kLimit - 1)), static_cast<std::int64_t>(kLimit - 1));
  EXPECT_EQ(failure_of(loop, exactly(kLimit), "over"), budget_message(kLimit, "over"));
}

TEST(SyncResumeBudget, TheBudgetIsPerStep) {
  SimLoop loop;
  loop.set_max_sync_resumes(kLimit);
  // Ten times the limit in all, but never more than the limit in one step.
  auto body = []() -> Coro<std::int64_t> {
    std::int64_t sum = 0;
    for (int round = 0; round < 10; ++round) {
      sum += co_await synchronous_awaits(kLimit / 2);
      co_await simloop::sleep(0s);
    }
    co_return sum;
  };
  EXPECT_EQ(loop.run_until_complete(body()), static_cast<std::int64_t>(10 * (kLimit / 2)));
}

TEST(SyncResumeBudget, ADeepChainUnderTheLimitIsUnaffected) {
  SimLoop loop;
  loop.set_max_sync_resumes(kLimit);
  EXPECT_EQ(loop.run_until_complete(chain(static_cast<int>(kLimit) - 1)), static_cast<std::int64_t>(kLimit - 1));
}

TEST(SyncResumeBudget, ZeroMeansNoLimit) {
  SimLoop loop;
  loop.set_max_sync_resumes(0);
  EXPECT_EQ(loop.run_until_complete(synchronous_awaits(100 * kLimit)), static_cast<std::int64_t>(100 * kLimit));
}

TEST(SyncResumeBudget, AWaitingTaskGroupIsStillLeftWhenItsBodyUsedUpTheBudget) {
  SimLoop loop;
  loop.set_max_sync_resumes(kLimit);
  bool child_finished = false;
  // Counted co_awaits before the group is left: the root's co_await of
  // with_task_group, with_task_group's co_await of the body, then `n` in
  // the body. Leaving the group (co_await tg.exit) is not counted.
  auto run = [&](std::uint64_t n) -> Coro<void> {
    co_await simloop::sleep(0s);  // a new step, with a full budget
    auto body = [&child_finished, n](simloop::TaskGroup& tg) -> Coro<void> {
      tg.create_task(sets_after_a_second(&child_finished));
      co_await synchronous_awaits(n - 1);  // this co_await and the n - 1 inside
    };
    co_await simloop::with_task_group(body);
  };
  // The budget used up exactly: the group is still left, waiting for its child.
  loop.run_until_complete(run(kLimit - 2));
  EXPECT_TRUE(child_finished);
  // One more: the body raises, and the group cancels its child and waits.
  child_finished = false;
  try {
    loop.run_until_complete(run(kLimit - 1));
    ADD_FAILURE() << "no error";
  } catch (const simloop::ExceptionGroup& group) {
    ASSERT_EQ(group.exceptions().size(), 1u);
    EXPECT_THROW(std::rethrow_exception(group.exceptions().front()), SyncResumeBudgetError);
  }
  EXPECT_FALSE(child_finished);
  EXPECT_EQ(simloop::all_tasks(loop).size(), 0u);
}
