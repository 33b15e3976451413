// EventLoop::lost_wakeups() without the runner: what a DeadlockError says
// about a lost wakeup, the order of the findings (the order the primitives
// first parked a task), no verdict while a wakeup may be in flight, where a
// Condition's own lock says it was made, and the list's lifetimes (a
// primitive destroyed before its loop, one outliving it).
#include <gtest/gtest.h>

#include <optional>
#include <source_location>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <simloop/detail/source_path.hpp>
#include <simloop/simloop.hpp>

#include "support/primitive_faults.hpp"

namespace {

using namespace std::chrono_literals;
using simloop::Coro;
using simloop::Task;
using simloop::detail::PrimitiveFaults;
using simloop::sim::SimLoop;

std::string made_at(const char* kind, unsigned line) {
  return fmt::format("{} created at {}:{}", kind, simloop::detail::display_file(__FILE__), line);
}

Coro<void> take_lock(simloop::Lock* lock) {
  co_await lock->acquire();
  lock->release();
}
Coro<void> wait_event(simloop::Event* event) { co_await event->wait(); }
Coro<void> nothing() { co_return; }

// Ends the parked tasks, so the run ends cleanly: nothing else will wake them.
// (Callers name the vector: GCC 12 rejects a braced list as a coroutine's
// argument inside a coroutine.)
Coro<void> cancel_all(std::vector<Task<void>> parked) {
  for (Task<void>& t : parked) t.cancel();
  co_await simloop::wait(parked);
  for (Task<void>& t : parked) EXPECT_TRUE(t.cancelled());
}

TEST(LivenessLoop, ADeadlockNamesThePrimitiveThatLostTheWakeup) {
  // Primitives are made before the loop: they outlive the frames it destroys.
  const unsigned line = __LINE__ + 1;
  simloop::Lock lock;
  SimLoop loop;
  // The deadlocked tasks are destroyed with the loop, each reported here.
  loop.set_exception_handler([](simloop::EventLoop&, const simloop::ExceptionContext&) {});
  try {
    loop.run_until_complete([](simloop::Lock* lock) -> Coro<void> {
      co_await lock->acquire();
      Task<void> w = simloop::create_task(take_lock(lock), "w1");
      co_await simloop::sleep(1ms);
      PrimitiveFaults::release_without_wakeup(*lock);
      co_await w;
    }(&lock));
    ADD_FAILURE() << "no deadlock";
  } catch (const simloop::DeadlockError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("Lost wakeups (a primitive could admit a task parked on it):\n  " + made_at("Lock", line) +
                        " <Lock [unlocked, waiters:1]>: it is free, yet acquirers are parked on it"),
              std::string::npos)
        << what;
    EXPECT_NE(what.find("parked: 'w1'"), std::string::npos) << what;
  }
}

TEST(LivenessLoop, ADeadlockWithoutALostWakeupSaysNothingOfOne) {
  simloop::Event event;
  SimLoop loop;
  loop.set_exception_handler([](simloop::EventLoop&, const simloop::ExceptionContext&) {});
  try {
    loop.run_until_complete(wait_event(&event));
    ADD_FAILURE() << "no deadlock";
  } catch (const simloop::DeadlockError& e) {
    EXPECT_EQ(std::string(e.what()).find("Lost wakeups"), std::string::npos) << e.what();
  }
}

TEST(LivenessLoop, FindingsComeInTheOrderThePrimitivesFirstParkedATask) {
  const unsigned event_line = __LINE__ + 1;
  simloop::Event event;
  const unsigned lock_line = __LINE__ + 1;
  simloop::Lock lock;
  SimLoop loop;
  std::vector<simloop::LostWakeup> found;
  loop.run_until_complete([](SimLoop* loop, simloop::Lock* lock, simloop::Event* event,
                             std::vector<simloop::LostWakeup>* found) -> Coro<void> {
    co_await lock->acquire();
    // The lock parks a task first, though the event was made first.
    Task<void> on_lock = simloop::create_task(take_lock(lock), "on-lock");
    co_await simloop::sleep(1ms);
    Task<void> on_event = simloop::create_task(wait_event(event), "on-event");
    co_await simloop::sleep(1ms);
    PrimitiveFaults::set_without_wakeup(*event);
    PrimitiveFaults::release_without_wakeup(*lock);
    *found = loop->lost_wakeups();
    std::vector<Task<void>> parked{on_lock, on_event};
    co_await cancel_all(std::move(parked));
  }(&loop, &lock, &event, &found));
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].primitive, made_at("Lock", lock_line));
  EXPECT_EQ(found[0].tasks, std::vector<std::string>{"on-lock"});
  EXPECT_EQ(found[1].primitive, made_at("Event", event_line));
  EXPECT_EQ(found[1].tasks, std::vector<std::string>{"on-event"});
  EXPECT_EQ(found[1].describe(),
            made_at("Event", event_line) +
                " <Event [set, waiters:1]>: it is set, yet waiters are parked on it (a set() that woke nobody); "
                "parked: 'on-event'");
}

// A woken waiter (its future done, its step queued) is not parked; nor is
// any verdict given while some task's step is queued.
TEST(LivenessLoop, NoVerdictWhileAWakeupMayBeInFlight) {
  simloop::Lock lock;
  SimLoop loop;
  std::vector<std::size_t> seen;
  loop.run_until_complete([](SimLoop* loop, simloop::Lock* lock, std::vector<std::size_t>* seen) -> Coro<void> {
    co_await lock->acquire();
    Task<void> w = simloop::create_task(take_lock(lock), "w1");
    co_await simloop::sleep(1ms);
    lock->release();  // wakes w1: its step is queued, the lock is free
    seen->push_back(loop->lost_wakeups().size());
    co_await w;
    co_await lock->acquire();
    Task<void> w2 = simloop::create_task(take_lock(lock), "w2");
    co_await simloop::sleep(1ms);
    PrimitiveFaults::release_without_wakeup(*lock);
    Task<void> other = simloop::create_task(nothing(), "other");  // its first step is queued
    seen->push_back(loop->lost_wakeups().size());
    co_await other;  // now nothing but w2 is pending, and w2 is parked
    seen->push_back(loop->lost_wakeups().size());
    std::vector<Task<void>> parked{w2};
    co_await cancel_all(std::move(parked));
  }(&loop, &lock, &seen));
  EXPECT_EQ(seen, (std::vector<std::size_t>{0, 0, 1}));
}

TEST(LivenessLoop, AConditionsOwnLockSaysWhereTheConditionWasMade) {
  const unsigned line = __LINE__ + 1;
  simloop::Condition cond;
  SimLoop loop;
  std::vector<simloop::LostWakeup> found;
  loop.run_until_complete(
      [](SimLoop* loop, simloop::Condition* cond, std::vector<simloop::LostWakeup>* found) -> Coro<void> {
        co_await cond->acquire();
        Task<void> w = simloop::create_task(take_lock(&PrimitiveFaults::lock_of(*cond)), "w1");
        co_await simloop::sleep(1ms);
        PrimitiveFaults::release_without_wakeup(PrimitiveFaults::lock_of(*cond));
        co_await simloop::sleep(1ms);
        *found = loop->lost_wakeups();
        std::vector<Task<void>> parked{w};
        co_await cancel_all(std::move(parked));
      }(&loop, &cond, &found));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].primitive, made_at("Lock", line));
}

TEST(LivenessLoop, APrimitiveDestroyedBeforeItsLoopLeavesTheList) {
  const unsigned line = __LINE__ + 1;
  simloop::Lock later;
  SimLoop loop;
  std::vector<simloop::LostWakeup> found;
  loop.run_until_complete(
      [](SimLoop* loop, simloop::Lock* later, std::vector<simloop::LostWakeup>* found) -> Coro<void> {
        {
          simloop::Lock first;  // joins the list, then is destroyed with this scope
          co_await first.acquire();
          Task<void> w = simloop::create_task(take_lock(&first), "w0");
          co_await simloop::sleep(1ms);
          first.release();
          co_await w;
        }
        co_await later->acquire();
        Task<void> w = simloop::create_task(take_lock(later), "w1");
        co_await simloop::sleep(1ms);
        PrimitiveFaults::release_without_wakeup(*later);
        co_await simloop::sleep(1ms);
        *found = loop->lost_wakeups();
        std::vector<Task<void>> parked{w};
        co_await cancel_all(std::move(parked));
      }(&loop, &later, &found));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].primitive, made_at("Lock", line));
}

TEST(LivenessLoop, APrimitiveOutlivingItsLoopIsLetGo) {
  simloop::Event event;  // destroyed after both loops
  {
    SimLoop loop;
    loop.run_until_complete([](simloop::Event* event) -> Coro<void> {
      Task<void> w = simloop::create_task(wait_event(event), "w1");
      co_await simloop::sleep(1ms);
      event->set();
      co_await w;
    }(&event));
  }
  // Still bound to the destroyed loop (and unlinked from its list): another
  // loop refuses it, and its destructor touches no loop.
  SimLoop other;
  event.clear();
  EXPECT_THROW(other.run_until_complete(wait_event(&event)), simloop::ForeignLoopError);
  EXPECT_TRUE(other.lost_wakeups().empty());
}

}  // namespace
