// Tests that tolerate injected cancellation (docs/exploration.md, "Tests
// that tolerate injected cancellation"). Each passes under SIMLOOP_CANCEL
// (the suite runs this binary with SIMLOOP_CANCEL=0.2 over 300 seeds)
// because it awaits its tasks so that a cancelled task does not become the
// scenario's own CancelledError, and because it checks what must hold
// whichever task was cancelled (no connection leaked, every request either
// served or cancelled) rather than one expected result.
//
//   SIMLOOP_CANCEL=0.2 SIMLOOP_RUNS=300 ./tolerate_cancellation
#include <cstdlib>
#include <tuple>
#include <vector>

#include <simloop/sim/gtest.hpp>
#include <simloop/simloop.hpp>

using namespace std::chrono_literals;

namespace {

// A pool of two connections: a request takes one, talks over it and gives
// it back.
struct Pool {
  int free = 2;
  int served = 0;
};

// Requests found cancelled, over every run of every test: the last test
// checks that the injection reached them at all.
int cancelled_requests = 0;

// Gives the connection back however the request ends: a value, an
// exception, or a cancellation at any of its awaits.
class Lease {
 public:
  explicit Lease(Pool* pool) : pool_(pool) { --pool_->free; }
  ~Lease() { ++pool_->free; }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

 private:
  Pool* pool_;
};

simloop::Coro<int> request(Pool* pool, int n) {
  while (pool->free == 0) co_await simloop::sleep(1ms);  // wait for a free connection
  Lease lease(pool);
  co_await simloop::sleep(2ms);  // send
  co_await simloop::sleep(3ms);  // receive
  ++pool->served;
  co_return n * 10;
}

// The same clean-up written out: catch CancelledError, undo, and re-raise.
// Swallowing it would make a cancelled task look as if it had succeeded
// (and C++ allows no co_await inside the handler, so undo synchronously).
simloop::Coro<int> request_by_hand(Pool* pool, int n) {
  while (pool->free == 0) co_await simloop::sleep(1ms);
  --pool->free;
  try {
    co_await simloop::sleep(5ms);
  } catch (const simloop::CancelledError&) {
    ++pool->free;
    throw;
  }
  ++pool->free;
  ++pool->served;
  co_return n * 10;
}

}  // namespace

// A TaskGroup: a cancelled child adds nothing to the group's errors, so the
// group ends normally. Up to three injected cancellations per run here.
SIMLOOP_TEST_OPTIONS(TolerateCancellation, TaskGroup, ([] {
                       simloop::sim::RunnerOptions o;
                       o.sim.max_injected_cancels = 3;
                       return o;
                     }())) {
  Pool pool;
  auto three_requests = [&pool](simloop::TaskGroup& tg) -> simloop::Coro<void> {
    for (int i = 0; i < 3; ++i) tg.create_task(request(&pool, i));
    co_return;
  };
  co_await simloop::with_task_group(three_requests);
  SIMLOOP_ASSERT_EQ(pool.free, 2) << "a connection leaked";
  SIMLOOP_ASSERT_LE(pool.served, 3);
}

// wait(): never raises a child's exception; look at each task afterwards.
SIMLOOP_TEST(TolerateCancellation, Wait) {
  Pool pool;
  std::vector<simloop::Task<int>> tasks;
  for (int i = 0; i < 3; ++i) tasks.push_back(loop.create_task(request(&pool, i)));
  co_await simloop::wait(tasks);
  int served = 0;
  for (auto& t : tasks) {
    if (t.cancelled()) {  // injected: it got nothing, and holds nothing
      ++cancelled_requests;
      continue;
    }
    SIMLOOP_ASSERT_EQ(t.result() % 10, 0);
    ++served;
  }
  SIMLOOP_ASSERT_EQ(pool.free, 2) << "a connection leaked";
  SIMLOOP_ASSERT_EQ(pool.served, served);
}

// gather(return_exceptions, ...): every result is an Outcome, a value or
// the child's exception; a cancelled child's is a CancelledError.
SIMLOOP_TEST(TolerateCancellation, GatherReturnExceptions) {
  Pool pool;
  auto all =
      simloop::gather(simloop::return_exceptions, request(&pool, 1), request(&pool, 2), request_by_hand(&pool, 3));
  auto [a, b, c] = co_await all;
  int served = 0;
  for (const simloop::Outcome<int>* outcome : {&a, &b, &c}) {
    if (outcome->cancelled()) {
      ++cancelled_requests;
      continue;
    }
    SIMLOOP_ASSERT(outcome->has_value()) << "a request failed otherwise than by a cancellation";
    ++served;
  }
  SIMLOOP_ASSERT_EQ(pool.free, 2) << "a connection leaked";
  SIMLOOP_ASSERT_EQ(pool.served, served);
}

// Awaiting a task directly raises its CancelledError in the awaiting task.
// Catch it, and re-raise unless it is the awaited task's alone: when the
// awaiting task is itself being cancelled (cancelling() > 0), the
// cancellation must go on. (Injection spares the scenario's main task, so
// here it is always the child's; in a helper task it may not be.)
SIMLOOP_TEST(TolerateCancellation, AwaitEachTask) {
  Pool pool;
  std::vector<simloop::Task<int>> tasks;
  for (int i = 0; i < 3; ++i) tasks.push_back(loop.create_task(request(&pool, i)));
  int served = 0;
  for (auto& t : tasks) {
    try {
      co_await t;
      ++served;
    } catch (const simloop::CancelledError&) {
      if (simloop::current_task(loop).cancelling() > 0) throw;
      ++cancelled_requests;
    }
  }
  SIMLOOP_ASSERT_EQ(pool.free, 2) << "a connection leaked";
  SIMLOOP_ASSERT_EQ(pool.served, served);
}

// Under SIMLOOP_CANCEL the tests above must have met cancelled requests:
// if none was ever cancelled, they proved nothing.
TEST(TolerateCancellation, InjectionReachedTheRequests) {
  const char* p = std::getenv("SIMLOOP_CANCEL");
  if (p == nullptr || std::strtod(p, nullptr) == 0.0) GTEST_SKIP() << "SIMLOOP_CANCEL is not set";
  if (GTEST_FLAG_GET(filter) != "*") GTEST_SKIP() << "the other tests did not all run";
  EXPECT_GT(cancelled_requests, 0);
}
