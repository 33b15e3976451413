// Queue<T>, PriorityQueue<T>, LifoQueue<T>: asyncio's queues, with CPython
// 3.13's semantics (Lib/asyncio/queues.py), shutdown included.
//
// Contract:
//  - maxsize <= 0 means unbounded. full() is qsize() >= maxsize when bounded.
//  - put(item) waits while the queue is full; get() waits while it is empty.
//    Waiting putters and getters are served FIFO. put_nowait raises QueueFull,
//    get_nowait raises QueueEmpty instead of waiting.
//  - Cancellation never loses a wakeup or an item: a getter (putter) woken by
//    put_nowait (get_nowait) and cancelled before it ran passes the wakeup on
//    to the next waiter; a cancelled waiter is removed from the queue of
//    waiters at once. An item is only removed from the queue by the get that
//    returns it: a cancelled get() never takes an item.
//  - task_done() after each processed item; join() waits until every item
//    put has been marked done. task_done() called more times than items were
//    put raises TaskDoneTooManyError.
//  - shutdown(immediate=false): put/put_nowait raise QueueShutDown from now
//    on; get/get_nowait raise it once the queue is empty; every blocked
//    putter and getter is woken (to raise or to take a remaining item).
//    shutdown(true) also empties the queue, counting each dropped item as
//    done (which may release join()).
//  - PriorityQueue pops the smallest item first (by Compare, std::less by
//    default), using the same binary-heap algorithm as Python's heapq, so
//    ties come out in the same order as in CPython and on every platform.
//    LifoQueue pops the most recently put item first.
//  - Liveness (EventLoop::lost_wakeups(), docs/primitives.md): with no
//    wakeup in flight, no getter is parked on a non-empty queue, no putter on
//    one that is not full, and no waiter of either kind on a shut-down one.
//    A queue records where it was made (the constructor's last argument) for
//    the reports; so does its join() event.
//  - A queue binds to the loop it is first used on (ForeignLoopError from
//    another loop). Queues are neither copyable nor movable and must outlive
//    the coroutines using them.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <source_location>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <simloop/awaitables.hpp>
#include <simloop/locks.hpp>
#include <simloop/primitive_errors.hpp>

namespace simloop {

namespace detail {

// Storage policies (asyncio's overridable _init/_put/_get).
template <class T>
class FifoStore {
 public:
  std::size_t size() const noexcept { return items_.size(); }
  void put(T item) { items_.push_back(std::move(item)); }
  T get() {
    T item = std::move(items_.front());
    items_.pop_front();
    return item;
  }

 private:
  std::deque<T> items_;
};

template <class T>
class LifoStore {
 public:
  std::size_t size() const noexcept { return items_.size(); }
  void put(T item) { items_.push_back(std::move(item)); }
  T get() {
    T item = std::move(items_.back());
    items_.pop_back();
    return item;
  }

 private:
  std::vector<T> items_;
};

// A min-heap with heapq's exact sift algorithms (heappush = _siftdown;
// heappop = pop last, put it at the root, _siftup then _siftdown), so the
// order of equal-priority items is CPython's, independent of the standard
// library.
template <class T, class Compare>
class HeapStore {
 public:
  std::size_t size() const noexcept { return heap_.size(); }
  void put(T item) {
    heap_.push_back(std::move(item));
    sift_down(0, heap_.size() - 1);
  }
  T get() {
    T last = std::move(heap_.back());
    heap_.pop_back();
    if (heap_.empty()) return last;
    T top = std::move(heap_.front());
    heap_.front() = std::move(last);
    sift_up(0);
    return top;
  }

 private:
  bool less(const T& a, const T& b) const { return less_(a, b); }
  // heapq._siftdown: move the item at pos up towards startpos.
  void sift_down(std::size_t startpos, std::size_t pos) {
    T newitem = std::move(heap_[pos]);
    while (pos > startpos) {
      std::size_t parentpos = (pos - 1) >> 1;
      if (less(newitem, heap_[parentpos])) {
        heap_[pos] = std::move(heap_[parentpos]);
        pos = parentpos;
        continue;
      }
      break;
    }
    heap_[pos] = std::move(newitem);
  }
  // heapq._siftup: bubble the smaller child up to a leaf, then _siftdown.
  void sift_up(std::size_t pos) {
    std::size_t endpos = heap_.size();
    std::size_t startpos = pos;
    T newitem = std::move(heap_[pos]);
    std::size_t childpos = 2 * pos + 1;
    while (childpos < endpos) {
      std::size_t rightpos = childpos + 1;
      if (rightpos < endpos && !less(heap_[childpos], heap_[rightpos])) childpos = rightpos;
      heap_[pos] = std::move(heap_[childpos]);
      pos = childpos;
      childpos = 2 * pos + 1;
    }
    heap_[pos] = std::move(newitem);
    sift_down(startpos, pos);
  }

  std::vector<T> heap_;
  [[no_unique_address]] Compare less_{};
};

// What a queue's repr() and its liveness check read, outside the template
// (their formatting is compiled once, in the library, not in every user).
struct QueueView {
  const char* kind;  // "Queue", "PriorityQueue", "LifoQueue"
  long maxsize;
  std::size_t qsize;
  std::size_t unfinished_tasks;
  bool full;
  bool shutdown;
};
std::string queue_repr(const QueueView& q, std::size_t getters, std::size_t putters);
// Appends a finding for parked getters (the queue holds items or is shut
// down) and one for parked putters (it is not full or is shut down).
void check_queue_liveness(const Watched& queue, const EventLoop& loop, std::vector<LostWakeup>& out, const QueueView& q,
                          const std::deque<Future<void>>& getters, const std::deque<Future<void>>& putters);

// The name a liveness report gives a queue over `Store`.
template <class Store>
inline constexpr const char* queue_kind = "Queue";
template <class T>
inline constexpr const char* queue_kind<LifoStore<T>> = "LifoQueue";
template <class T, class Compare>
inline constexpr const char* queue_kind<HeapStore<T, Compare>> = "PriorityQueue";

}  // namespace detail

template <class T, class Store>
class BasicQueue : private detail::Watched {
 public:
  explicit BasicQueue(long maxsize = 0, std::source_location where = std::source_location::current())
      : Watched(where), maxsize_(maxsize), finished_(where) {
    finished_.set();
  }
  BasicQueue(const BasicQueue&) = delete;
  BasicQueue& operator=(const BasicQueue&) = delete;

  std::size_t qsize() const noexcept { return store_.size(); }
  long maxsize() const noexcept { return maxsize_; }
  bool empty() const noexcept { return store_.size() == 0; }
  bool full() const noexcept { return maxsize_ > 0 && qsize() >= static_cast<std::size_t>(maxsize_); }
  bool is_shutdown() const noexcept { return is_shutdown_; }
  std::size_t unfinished_tasks() const noexcept { return unfinished_tasks_; }
  std::size_t getters() const noexcept { return getters_.size(); }
  std::size_t putters() const noexcept { return putters_.size(); }

  Coro<void> put(T item) {
    while (full()) {
      if (is_shutdown_) throw QueueShutDown("Queue.put: the queue is shut down");
      Future<void> putter = Future<void>::create(get_loop("Queue.put"));
      putters_.push_back(putter);
      const std::exception_ptr error = co_await detail::settle(putter);
      if (error) {
        putter.cancel();  // in case it is not done yet
        // It may already be gone (popped by get_nowait or shutdown).
        detail::remove_first(putters_, putter);
        // Woken by get_nowait() but cannot take the slot: wake the next one.
        if (!full() && !putter.cancelled()) wakeup_next(putters_);
        co_await detail::propagate(error);
      }
    }
    put_nowait(std::move(item));
  }

  void put_nowait(T item) {
    if (is_shutdown_) throw QueueShutDown("Queue.put_nowait: the queue is shut down");
    if (full()) throw QueueFull(fmt::format("Queue.put_nowait: the queue is full (maxsize={})", maxsize_));
    store_.put(std::move(item));
    ++unfinished_tasks_;
    finished_.clear();
    wakeup_next(getters_);
  }

  Coro<T> get() {
    while (empty()) {
      if (is_shutdown_) throw QueueShutDown("Queue.get: the queue is shut down and empty");
      Future<void> getter = Future<void>::create(get_loop("Queue.get"));
      getters_.push_back(getter);
      const std::exception_ptr error = co_await detail::settle(getter);
      if (error) {
        getter.cancel();  // in case it is not done yet
        detail::remove_first(getters_, getter);
        // Woken by put_nowait() but cannot take the item: wake the next
        // getter, so the item is not stranded (CPython's fix).
        if (!empty() && !getter.cancelled()) wakeup_next(getters_);
        co_await detail::propagate(error);
      }
    }
    co_return get_nowait();
  }

  T get_nowait() {
    if (empty()) {
      if (is_shutdown_) throw QueueShutDown("Queue.get_nowait: the queue is shut down and empty");
      throw QueueEmpty("Queue.get_nowait: the queue is empty");
    }
    T item = store_.get();
    wakeup_next(putters_);
    return item;
  }

  void task_done() {
    if (unfinished_tasks_ == 0) {
      throw TaskDoneTooManyError("Queue.task_done: called more times than there were items put in the queue");
    }
    if (--unfinished_tasks_ == 0) finished_.set();
  }

  Coro<void> join() {
    if (unfinished_tasks_ > 0) co_await finished_.wait();
  }

  void shutdown(bool immediate = false) {
    is_shutdown_ = true;
    if (immediate) {
      while (!empty()) {
        store_.get();
        if (unfinished_tasks_ > 0) --unfinished_tasks_;
      }
      if (unfinished_tasks_ == 0) finished_.set();
    }
    // Every getter re-checks emptiness (to raise QueueShutDown or take an item).
    while (!getters_.empty()) {
      Future<void> getter = std::move(getters_.front());
      getters_.pop_front();
      if (!getter.done()) getter.set_result();
    }
    while (!putters_.empty()) {
      Future<void> putter = std::move(putters_.front());
      putters_.pop_front();
      if (!putter.done()) putter.set_result();
    }
  }

  // e.g. "<Queue maxsize=2 _getters[1] tasks=3 shutdown>" (no item values).
  std::string repr() const { return detail::queue_repr(view(), getters_.size(), putters_.size()); }
  using Watched::created_at;

 private:
  friend struct detail::PrimitiveFaults;
  detail::QueueView view() const noexcept {
    return {detail::queue_kind<Store>, maxsize_, qsize(), unfinished_tasks_, full(), is_shutdown_};
  }
  void check_liveness(const EventLoop& loop, std::vector<LostWakeup>& out) const override {
    detail::check_queue_liveness(*this, loop, out, view(), getters_, putters_);
  }

  // Wakes the first waiter not done yet, dropping the done ones before it.
  static void wakeup_next(std::deque<Future<void>>& waiters) {
    while (!waiters.empty()) {
      Future<void> waiter = std::move(waiters.front());
      waiters.pop_front();
      if (!waiter.done()) {
        waiter.set_result();
        break;
      }
    }
  }

  long maxsize_;
  Store store_;
  std::deque<Future<void>> getters_;
  std::deque<Future<void>> putters_;
  std::size_t unfinished_tasks_ = 0;
  Event finished_;
  bool is_shutdown_ = false;
};

// FIFO queue (asyncio.Queue).
template <class T>
using Queue = BasicQueue<T, detail::FifoStore<T>>;
// Smallest first (asyncio.PriorityQueue), heapq order for ties.
template <class T, class Compare = std::less<T>>
using PriorityQueue = BasicQueue<T, detail::HeapStore<T, Compare>>;
// Last in, first out (asyncio.LifoQueue).
template <class T>
using LifoQueue = BasicQueue<T, detail::LifoStore<T>>;

}  // namespace simloop
