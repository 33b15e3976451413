// Event, Lock, Semaphore, BoundedSemaphore, Condition, Barrier: asyncio's
// synchronization primitives, with CPython 3.13's semantics.
//
// Contract (each mirrors Lib/asyncio/locks.py of CPython 3.13):
//  - Waiters are served FIFO. Every wait is a future the waiter awaits; a
//    release/set/notify completes the future of the first waiter(s) not done.
//  - Cancellation never loses a wakeup, a permit or a notification:
//      * Lock: a waiter cancelled after release() chose it wakes the next
//        waiter (if the lock is still free), so the lock is never held twice
//        and never left free with a waiter stranded;
//      * Semaphore: a waiter cancelled after being granted a permit gives it
//        back, and whoever leaves acquire() wakes as many waiters as there are
//        free permits: free permits never leave a waiter waiting;
//      * Condition: a waiter that leaves wait() by an exception (cancellation
//        included) after possibly being notified passes one notification on
//        (a spurious wakeup is allowed, a lost one is not); wait() re-acquires
//        the lock before returning or raising, even when cancelled.
//  - Lock: acquire() takes the lock at once only if it is free and no
//    non-cancelled waiter is queued (fairness). release() of an unlocked lock
//    raises LockNotAcquiredError.
//  - Event: set() wakes every waiter; wait() on a set event returns at once;
//    clear() resets the flag.
//  - Semaphore(value): value < 0 raises InvalidArgumentError. locked() is true
//    when value is 0 or a non-cancelled waiter is queued (FIFO: newcomers
//    wait behind them). BoundedSemaphore raises TooManyReleasesError when a
//    release would exceed the initial value.
//  - Condition: wait()/notify() without holding the lock raise
//    LockNotAcquiredError. wait_for(pred) waits until pred() is truthy and
//    returns its last value. notify(n) wakes up to n waiters; notify_all()
//    wakes all. A Condition may share a Lock (Condition(lock)).
//  - Barrier(parties): parties < 1 raises InvalidArgumentError. wait()
//    returns a distinct index in [0, parties) once `parties` tasks wait:
//    each round hands out every index exactly once, even when a waiter is
//    cancelled while it fills (its index goes to the next arrival; CPython
//    3.13 hands out a held index twice there, see docs/loop.md);
//    abort() breaks it (waiters and later callers get BrokenBarrierError);
//    reset() breaks current waiters and refills.
//  - Liveness (EventLoop::lost_wakeups(), docs/primitives.md): with no
//    wakeup in flight, a free Lock, a Semaphore with value() > 0 and a set
//    Event have no task parked on them. Lock, Event and the semaphores record
//    where they were made (the constructor's last argument, defaulted to the
//    caller's location) for the reports; a Condition's own lock and a
//    Barrier's condition record the Condition's or Barrier's.
//  - A primitive binds to the loop it is first used on; using it from
//    another loop raises ForeignLoopError. Primitives are neither copyable nor
//    movable (waiting coroutines refer to them); they must outlive their users.
//  - Held<L> (from hold()) releases on destruction, like `async with lock`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <source_location>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <simloop/awaitables.hpp>
#include <simloop/primitive_errors.hpp>

namespace simloop {

// Holds an acquired Lock, Semaphore or Condition and releases it when
// destroyed (or at release()), as `async with` does.
template <class L>
class [[nodiscard]] Held {
 public:
  explicit Held(L& l) noexcept : l_(&l) {}
  Held(Held&& o) noexcept : l_(std::exchange(o.l_, nullptr)) {}
  Held& operator=(Held&&) = delete;
  ~Held() {
    if (l_ == nullptr) return;
    try {
      l_->release();
    } catch (const Error&) {
      // The loop is closed (its frames are being destroyed): nobody can
      // wait for the release any more.
    }
  }
  void release() {
    if (l_ != nullptr) std::exchange(l_, nullptr)->release();
  }
  bool owns() const noexcept { return l_ != nullptr; }

 private:
  L* l_;
};

class Lock : private detail::Watched {
 public:
  Lock(std::source_location where = std::source_location::current()) noexcept : Watched(where) {}
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

  bool locked() const noexcept { return locked_; }
  Coro<bool> acquire();
  void release();
  // acquire(), then a guard that releases.
  Coro<Held<Lock>> hold();
  std::size_t waiters() const noexcept { return waiters_.size(); }
  // e.g. "<Lock [locked, waiters:2]>"
  std::string repr() const;
  using Watched::created_at;

 private:
  friend struct detail::PrimitiveFaults;
  void check_liveness(const EventLoop& loop, std::vector<LostWakeup>& out) const override;
  void wake_up_first();
  std::deque<Future<void>> waiters_;
  bool locked_ = false;
};

class Event : private detail::Watched {
 public:
  Event(std::source_location where = std::source_location::current()) noexcept : Watched(where) {}
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  bool is_set() const noexcept { return value_; }
  void set();
  void clear() noexcept { value_ = false; }
  Coro<bool> wait();
  std::size_t waiters() const noexcept { return waiters_.size(); }
  std::string repr() const;
  using Watched::created_at;

 private:
  friend struct detail::PrimitiveFaults;
  void check_liveness(const EventLoop& loop, std::vector<LostWakeup>& out) const override;
  std::deque<Future<void>> waiters_;
  bool value_ = false;
};

class Semaphore : private detail::Watched {
 public:
  explicit Semaphore(long value = 1, std::source_location where = std::source_location::current());
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;
  virtual ~Semaphore() = default;

  bool locked() const noexcept;
  Coro<bool> acquire();
  virtual void release();
  Coro<Held<Semaphore>> hold();
  // The counter (free permits not yet handed to a woken waiter).
  long value() const noexcept { return value_; }
  std::size_t waiters() const noexcept { return waiters_.size(); }
  std::string repr() const;
  using Watched::created_at;

 protected:
  // The kind the liveness report names.
  virtual const char* kind() const noexcept { return "Semaphore"; }
  long value_;

 private:
  friend struct detail::PrimitiveFaults;
  void check_liveness(const EventLoop& loop, std::vector<LostWakeup>& out) const override;
  bool wake_up_next();
  std::deque<Future<void>> waiters_;
};

class BoundedSemaphore final : public Semaphore {
 public:
  explicit BoundedSemaphore(long value = 1, std::source_location where = std::source_location::current())
      : Semaphore(value, where), bound_(value) {}
  void release() override;

 private:
  const char* kind() const noexcept override { return "BoundedSemaphore"; }
  long bound_;
};

class Condition : private detail::LoopBound {
 public:
  // Its own lock records `where` as its creation place.
  Condition(std::source_location where = std::source_location::current());
  // A condition over an existing lock (which must outlive it).
  explicit Condition(Lock& lock) noexcept : lock_(&lock) {}
  Condition(const Condition&) = delete;
  Condition& operator=(const Condition&) = delete;

  bool locked() const noexcept { return lock_->locked(); }
  Coro<bool> acquire() { return lock_->acquire(); }
  void release() { lock_->release(); }
  Coro<Held<Condition>> hold();

  Coro<bool> wait();
  // Waits until predicate() is truthy; returns its last value.
  template <class P>
  Coro<std::decay_t<std::invoke_result_t<P&>>> wait_for(P predicate) {
    auto result = predicate();
    while (!result) {
      co_await wait();
      result = predicate();
    }
    co_return result;
  }
  void notify(std::size_t n = 1);
  void notify_all();
  std::size_t waiters() const noexcept { return waiters_.size(); }
  std::string repr() const;

 private:
  friend struct detail::PrimitiveFaults;
  void notify_unlocked(std::size_t n);
  std::unique_ptr<Lock> own_lock_;
  Lock* lock_;
  std::deque<Future<void>> waiters_;
};

class Barrier : private detail::LoopBound {
 public:
  explicit Barrier(std::size_t parties, std::source_location where = std::source_location::current());
  Barrier(const Barrier&) = delete;
  Barrier& operator=(const Barrier&) = delete;

  // Returns this task's index in [0, parties).
  Coro<std::size_t> wait();
  Coro<void> reset();
  Coro<void> abort();
  std::size_t parties() const noexcept { return parties_; }
  std::size_t n_waiting() const noexcept { return state_ == State::Filling ? count_ : 0; }
  bool broken() const noexcept { return state_ == State::Broken; }
  // How many rounds have passed (the barrier filled and released its
  // parties). Not in asyncio: it lets a test tell rounds apart. A party's
  // wait() returns before any later round can fill, so rounds() read just
  // after it returns is the number of the round that party passed.
  std::uint64_t rounds() const noexcept { return rounds_; }
  std::string repr() const;

 private:
  enum class State { Filling, Draining, Resetting, Broken };
  Coro<void> block();
  Coro<void> wait_released();
  void exit_barrier();

  // The index a party arriving now takes: the lowest one no party of the
  // filling round holds.
  std::size_t take_free_index();

  Condition cond_;
  std::size_t parties_;
  State state_ = State::Filling;
  // Filling: the parties waiting, each holding one index. Draining or
  // resetting: the parties not yet out.
  std::size_t count_ = 0;
  // Filling: which indices of this round are held. A party leaving before
  // the round is full (cancelled, say) gives its index back, so each round
  // hands out every index in [0, parties) exactly once.
  std::vector<bool> held_;
  std::uint64_t rounds_ = 0;
};

}  // namespace simloop
