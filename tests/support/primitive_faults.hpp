// The states simloop's primitives would be left in by a lost-wakeup bug, for
// tests of the liveness check (EventLoop::lost_wakeups()). Each function is
// the buggy half of a real operation: it changes the primitive's state as
// release(), set(), put_nowait(), get_nowait() or shutdown() does, but wakes
// nobody. The primitives befriend detail::PrimitiveFaults and nothing in the
// library defines it, so this header is its only definition (identical in
// every test that includes it).
#pragma once

#include <utility>

#include <simloop/locks.hpp>
#include <simloop/queues.hpp>

namespace simloop::detail {

struct PrimitiveFaults {
  // release() without waking the first waiter.
  static void release_without_wakeup(Lock& lock) { lock.locked_ = false; }
  // The lock a Condition waits with (its own, unless it was given one).
  static Lock& lock_of(Condition& condition) { return *condition.lock_; }
  // set() without waking the waiters.
  static void set_without_wakeup(Event& event) { event.value_ = true; }
  // release() of a Semaphore or BoundedSemaphore without waking a waiter.
  static void release_without_wakeup(Semaphore& semaphore) { ++semaphore.value_; }
  // put_nowait(item) without waking a getter.
  template <class T, class Store>
  static void put_without_wakeup(BasicQueue<T, Store>& queue, T item) {
    queue.store_.put(std::move(item));
    ++queue.unfinished_tasks_;
    queue.finished_.clear();
  }
  // get_nowait() without waking a putter.
  template <class T, class Store>
  static T get_without_wakeup(BasicQueue<T, Store>& queue) {
    return queue.store_.get();
  }
  // shutdown() without waking the parked getters and putters.
  template <class T, class Store>
  static void shutdown_without_wakeup(BasicQueue<T, Store>& queue) {
    queue.is_shutdown_ = true;
  }
  // The last task_done() without waking join()'s waiters.
  template <class T, class Store>
  static void finish_without_wakeup(BasicQueue<T, Store>& queue) {
    queue.unfinished_tasks_ = 0;
    set_without_wakeup(queue.finished_);
  }
};

}  // namespace simloop::detail
