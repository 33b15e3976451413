// A primitive bound to a loop stays bound to that loop, not to its address:
// used on a new loop built where the destroyed one lived, it raises
// ForeignLoopError.
#include <gtest/gtest.h>

#include <cstddef>
#include <new>
#include <string>
#include <vector>

#include <simloop/simloop.hpp>

using namespace std::chrono_literals;
using simloop::Coro;
using simloop::sim::SimLoop;

namespace {

// Storage for one loop at a time: each loop made here has the same address.
class LoopSlot {
 public:
  LoopSlot() = default;
  LoopSlot(const LoopSlot&) = delete;
  LoopSlot& operator=(const LoopSlot&) = delete;
  ~LoopSlot() { destroy(); }

  SimLoop& make() {
    destroy();
    loop_ = new (bytes_) SimLoop();
    loop_->set_exception_handler(
        [this](simloop::EventLoop&, const simloop::ExceptionContext& context) { reports_.push_back(context.message); });
    return *loop_;
  }
  void destroy() {
    if (loop_ != nullptr) {
      loop_->~SimLoop();
      loop_ = nullptr;
    }
  }
  const void* address() const noexcept { return bytes_; }

 private:
  alignas(SimLoop) std::byte bytes_[sizeof(SimLoop)];
  SimLoop* loop_ = nullptr;
  std::vector<std::string> reports_;
};

// Each scenario makes the primitive wait once (which binds it to the running
// loop) and ends with every wait finished, so nothing refers to the loop.
Coro<void> lock_contended(simloop::Lock* lock) {
  auto held = co_await lock->hold();
  auto waiter = simloop::create_task(lock->hold());  // waits: binds the lock
  co_await simloop::sleep(0s);
  held.release();
  (void)co_await std::move(waiter);  // the waiter's Held goes at once
}

Coro<void> event_waited(simloop::Event* event) {
  event->clear();
  auto waiter = simloop::create_task(event->wait());
  co_await simloop::sleep(0s);
  event->set();
  co_await waiter;
}

Coro<void> semaphore_contended(simloop::Semaphore* sem) {
  auto held = co_await sem->hold();
  auto waiter = simloop::create_task(sem->hold());
  co_await simloop::sleep(0s);
  held.release();
  (void)co_await std::move(waiter);  // the waiter's Held goes at once
}

Coro<void> wait_notified(simloop::Condition* cond) {
  auto held = co_await cond->hold();
  co_await cond->wait();
}
Coro<void> condition_waited(simloop::Condition* cond) {
  auto waiter = simloop::create_task(wait_notified(cond));
  co_await simloop::sleep(0s);
  {
    auto held = co_await cond->hold();
    cond->notify();
  }
  co_await waiter;
}

Coro<void> queue_waited(simloop::Queue<int>* queue) {
  auto getter = simloop::create_task(queue->get());
  co_await simloop::sleep(0s);
  queue->put_nowait(1);
  co_await getter;
}

Coro<void> barrier_passed(simloop::Barrier* barrier) {
  auto other = simloop::create_task(barrier->wait());
  co_await barrier->wait();  // the first in waits: binds the barrier's condition
  co_await other;
}

// Runs scenario(primitive) on a loop, destroys it, then runs it again on a
// loop built at the same address: the second run must raise ForeignLoopError.
template <class P, class S>
void expect_foreign_on_a_loop_at_the_same_address(P& primitive, S scenario) {
  LoopSlot slot;
  SimLoop& a = slot.make();
  const std::uint64_t a_id = a.id();
  ASSERT_NO_THROW(a.run_until_complete(scenario(&primitive)));
  slot.destroy();
  SimLoop& b = slot.make();
  ASSERT_EQ(static_cast<const void*>(&b), static_cast<const void*>(&a));
  ASSERT_EQ(static_cast<const void*>(&b), slot.address());
  EXPECT_GT(b.id(), a_id);
  EXPECT_THROW(b.run_until_complete(scenario(&primitive)), simloop::ForeignLoopError);
}

}  // namespace

TEST(LoopIdentity, EveryLoopHasANewIdEvenAtTheSameAddress) {
  LoopSlot slot;
  std::uint64_t last = 0;
  for (int i = 0; i < 3; ++i) {
    const std::uint64_t id = slot.make().id();
    EXPECT_GT(id, last);
    last = id;
  }
  SimLoop elsewhere;
  EXPECT_GT(elsewhere.id(), last);
}

TEST(LoopIdentity, LockBoundToADestroyedLoopIsForeignToANewLoopAtItsAddress) {
  simloop::Lock lock;
  expect_foreign_on_a_loop_at_the_same_address(lock, lock_contended);
}

TEST(LoopIdentity, EventBoundToADestroyedLoopIsForeignToANewLoopAtItsAddress) {
  simloop::Event event;
  expect_foreign_on_a_loop_at_the_same_address(event, event_waited);
}

TEST(LoopIdentity, SemaphoreBoundToADestroyedLoopIsForeignToANewLoopAtItsAddress) {
  simloop::Semaphore sem(1);
  expect_foreign_on_a_loop_at_the_same_address(sem, semaphore_contended);
}

TEST(LoopIdentity, ConditionBoundToADestroyedLoopIsForeignToANewLoopAtItsAddress) {
  simloop::Condition cond;
  expect_foreign_on_a_loop_at_the_same_address(cond, condition_waited);
}

TEST(LoopIdentity, QueueBoundToADestroyedLoopIsForeignToANewLoopAtItsAddress) {
  simloop::Queue<int> queue;
  expect_foreign_on_a_loop_at_the_same_address(queue, queue_waited);
}

TEST(LoopIdentity, BarrierBoundToADestroyedLoopIsForeignToANewLoopAtItsAddress) {
  simloop::Barrier barrier(2);
  expect_foreign_on_a_loop_at_the_same_address(barrier, barrier_passed);
}
