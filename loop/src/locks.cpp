// Event, Lock, Semaphore, BoundedSemaphore, Condition, Barrier: see locks.hpp.
// Each method follows CPython 3.13's Lib/asyncio/locks.py step by step; the
// comments name the cancellation fixes that matter.
#include <simloop/locks.hpp>

#include <algorithm>

#include <fmt/format.h>

namespace simloop {

namespace {
std::string with_waiters(std::string extra, std::size_t waiters) {
  if (waiters > 0) extra += fmt::format(", waiters:{}", waiters);
  return extra;
}
}  // namespace

// ---- Lock --------------------------------------------------------------------

Coro<bool> Lock::acquire() {
  // Fair: take the lock at once only if nobody (not cancelled) waits for it.
  if (!locked_ && std::all_of(waiters_.begin(), waiters_.end(), [](const Future<void>& w) { return w.cancelled(); })) {
    locked_ = true;
    co_return true;
  }
  Future<void> fut = Future<void>::create(get_loop("Lock.acquire"));
  waiters_.push_back(fut);
  const std::exception_ptr error = co_await detail::settle(fut);
  detail::remove_first(waiters_, fut);
  if (error) {
    // Woken by release() then cancelled before running: the lock is free and
    // nobody else was woken, so wake the next waiter (CPython 3.13).
    if (detail::is_cancelled_error(error) && !locked_) wake_up_first();
    co_await detail::propagate(error);
  }
  locked_ = true;
  co_return true;
}

void Lock::release() {
  if (!locked_) throw LockNotAcquiredError("Lock.release: the lock is not acquired");
  locked_ = false;
  wake_up_first();
}

void Lock::wake_up_first() {
  if (waiters_.empty()) return;
  // A done future means that waiter is already set to wake up.
  Future<void>& fut = waiters_.front();
  if (!fut.done()) fut.set_result();
}

Coro<Held<Lock>> Lock::hold() {
  co_await acquire();
  co_return Held<Lock>(*this);
}

void Lock::check_liveness(const EventLoop& loop, std::vector<LostWakeup>& out) const {
  if (!locked_ && any_parked(waiters_)) {
    add_finding(loop, out, "Lock", repr(), "it is free, yet acquirers are parked on it (a release that woke nobody)",
                waiters_);
  }
}

std::string Lock::repr() const {
  return fmt::format("<Lock [{}]>", with_waiters(locked_ ? "locked" : "unlocked", waiters_.size()));
}

// ---- Event -------------------------------------------------------------------

void Event::set() {
  if (value_) return;
  value_ = true;
  for (Future<void>& fut : waiters_) {
    if (!fut.done()) fut.set_result();
  }
}

Coro<bool> Event::wait() {
  if (value_) co_return true;
  Future<void> fut = Future<void>::create(get_loop("Event.wait"));
  waiters_.push_back(fut);
  const std::exception_ptr error = co_await detail::settle(fut);
  detail::remove_first(waiters_, fut);
  // Raised here, not propagate()d: keeping `error` and `fut` across one more
  // suspension point makes every waiter's frame 32 bytes larger, and an
  // Event may have many parked waiters; cancelling them is the rare path.
  if (error) std::rethrow_exception(error);
  co_return true;
}

void Event::check_liveness(const EventLoop& loop, std::vector<LostWakeup>& out) const {
  if (value_ && any_parked(waiters_)) {
    add_finding(loop, out, "Event", repr(), "it is set, yet waiters are parked on it (a set() that woke nobody)",
                waiters_);
  }
}

std::string Event::repr() const {
  return fmt::format("<Event [{}]>", with_waiters(value_ ? "set" : "unset", waiters_.size()));
}

// ---- Semaphore ---------------------------------------------------------------

Semaphore::Semaphore(long value, std::source_location where) : Watched(where), value_(value) {
  if (value < 0) throw InvalidArgumentError(fmt::format("Semaphore: initial value must be >= 0, got {}", value));
}

bool Semaphore::locked() const noexcept {
  // Due to the counter, or to FIFO (waiters queued before us go first).
  return value_ == 0 ||
         std::any_of(waiters_.begin(), waiters_.end(), [](const Future<void>& w) { return !w.cancelled(); });
}

Coro<bool> Semaphore::acquire() {
  if (!locked()) {
    --value_;
    co_return true;
  }
  Future<void> fut = Future<void>::create(get_loop("Semaphore.acquire"));
  waiters_.push_back(fut);
  const std::exception_ptr error = co_await detail::settle(fut);
  detail::remove_first(waiters_, fut);
  if (error && detail::is_cancelled_error(error) && fut.done() && !fut.cancelled()) {
    // Granted a permit by wake_up_next(), but cancelled before taking it:
    // give it back (CPython 3.13, gh-90155).
    ++value_;
  }
  // Whoever leaves, wake as many waiters as there are free permits, so free
  // permits never leave a waiter waiting.
  while (value_ > 0) {
    if (!wake_up_next()) break;
  }
  if (error) co_await detail::propagate(error);
  co_return true;
}

void Semaphore::release() {
  ++value_;
  wake_up_next();
}

bool Semaphore::wake_up_next() {
  for (Future<void>& fut : waiters_) {
    if (!fut.done()) {
      --value_;  // the permit now belongs to that waiter
      fut.set_result();
      return true;
    }
  }
  return false;
}

Coro<Held<Semaphore>> Semaphore::hold() {
  co_await acquire();
  co_return Held<Semaphore>(*this);
}

void Semaphore::check_liveness(const EventLoop& loop, std::vector<LostWakeup>& out) const {
  if (value_ > 0 && any_parked(waiters_)) {
    add_finding(loop, out, kind(), repr(),
                fmt::format("{} permit(s) free, yet waiters are parked on it (a release that woke nobody)", value_),
                waiters_);
  }
}

std::string Semaphore::repr() const {
  std::string extra = locked() ? std::string("locked") : fmt::format("unlocked, value:{}", value_);
  return fmt::format("<Semaphore [{}]>", with_waiters(std::move(extra), waiters_.size()));
}

void BoundedSemaphore::release() {
  if (value_ >= bound_) {
    throw TooManyReleasesError(
        fmt::format("BoundedSemaphore.release: released too many times (the bound is {})", bound_));
  }
  Semaphore::release();
}

// ---- Condition ---------------------------------------------------------------

Condition::Condition(std::source_location where) : own_lock_(std::make_unique<Lock>(where)), lock_(own_lock_.get()) {}

Coro<Held<Condition>> Condition::hold() {
  co_await acquire();
  co_return Held<Condition>(*this);
}

Coro<bool> Condition::wait() {
  if (!locked()) throw LockNotAcquiredError("Condition.wait: the lock is not acquired; acquire it first");
  Future<void> fut = Future<void>::create(get_loop("Condition.wait"));
  release();
  waiters_.push_back(fut);
  std::exception_ptr error = co_await detail::settle(fut);
  detail::remove_first(waiters_, fut);
  // Re-acquire the lock even if the wait was cancelled; only CancelledError
  // is retried (another error must not make us spin). The most recent
  // cancellation wins, as CPython's `raise err`. Not counted against the
  // synchronous-resumption budget: wait() must return holding the lock.
  for (;;) {
    std::exception_ptr acquire_error;
    try {
      co_await detail::uncounted(acquire());
    } catch (const CancelledError&) {
      acquire_error = std::current_exception();
    } catch (...) {
      error = std::current_exception();
      break;
    }
    if (!acquire_error) break;
    error = acquire_error;
  }
  if (error) {
    // We may have been notified before the error: pass one notification on
    // (a spurious wakeup is allowed, a lost one is not; CPython 3.13).
    notify_unlocked(1);
    co_await detail::propagate(error);
  }
  co_return true;
}

void Condition::notify(std::size_t n) {
  if (!locked()) throw LockNotAcquiredError("Condition.notify: the lock is not acquired; acquire it first");
  notify_unlocked(n);
}

void Condition::notify_all() {
  if (!locked()) throw LockNotAcquiredError("Condition.notify_all: the lock is not acquired; acquire it first");
  notify_unlocked(waiters_.size());
}

void Condition::notify_unlocked(std::size_t n) {
  std::size_t idx = 0;
  for (Future<void>& fut : waiters_) {
    if (idx >= n) break;
    if (!fut.done()) {
      ++idx;
      fut.set_result();
    }
  }
}

std::string Condition::repr() const {
  return fmt::format("<Condition [{}]>", with_waiters(locked() ? "locked" : "unlocked", waiters_.size()));
}

// ---- Barrier -----------------------------------------------------------------

Barrier::Barrier(std::size_t parties, std::source_location where) : cond_(where), parties_(parties) {
  if (parties < 1) throw InvalidArgumentError("Barrier: parties must be >= 1");
  held_.assign(parties, false);
}

std::size_t Barrier::take_free_index() {
  // count_ < parties_ while filling, so a free index exists.
  std::size_t index = 0;
  while (held_[index]) ++index;
  held_[index] = true;
  ++count_;
  return index;
}

Coro<std::size_t> Barrier::wait() {
  co_await cond_.acquire();  // async with self._cond
  std::exception_ptr error;
  std::size_t index = 0;
  try {
    co_await block();  // while the barrier drains or resets
    index = take_free_index();
    std::exception_ptr inner;
    try {
      if (count_ == parties_) {
        // The last one in releases everybody: enter draining.
        state_ = State::Draining;
        ++rounds_;
        cond_.notify_all();
      } else {
        co_await wait_released();
      }
    } catch (...) {
      inner = std::current_exception();
    }
    // Left before the round filled: the index goes back to the round (CPython
    // 3.13 only decrements the count, so the next arrival would take an index
    // a waiting party still holds, and one index would never be handed out).
    if (state_ == State::Filling) held_[index] = false;
    --count_;
    exit_barrier();
    if (inner) std::rethrow_exception(inner);
  } catch (...) {
    error = std::current_exception();
  }
  cond_.release();
  if (error) std::rethrow_exception(error);
  co_return index;
}

Coro<void> Barrier::block() {
  co_await cond_.wait_for([this] { return state_ != State::Draining && state_ != State::Resetting; });
  if (state_ == State::Broken) throw BrokenBarrierError("Barrier.wait: the barrier is broken (aborted)");
}

Coro<void> Barrier::wait_released() {
  co_await cond_.wait_for([this] { return state_ != State::Filling; });
  if (state_ == State::Broken || state_ == State::Resetting) {
    throw BrokenBarrierError("Barrier.wait: the barrier was aborted or reset while waiting");
  }
}

void Barrier::exit_barrier() {
  // The last task out of a draining or resetting barrier refills it.
  if (count_ == 0) {
    if (state_ == State::Resetting || state_ == State::Draining) state_ = State::Filling;
    held_.assign(parties_, false);
    cond_.notify_all();
  }
}

Coro<void> Barrier::reset() {
  co_await cond_.acquire();
  if (count_ > 0) {
    if (state_ != State::Resetting) state_ = State::Resetting;
  } else {
    state_ = State::Filling;
  }
  cond_.notify_all();
  cond_.release();
}

Coro<void> Barrier::abort() {
  co_await cond_.acquire();
  state_ = State::Broken;
  cond_.notify_all();
  cond_.release();
}

std::string Barrier::repr() const {
  const char* names[] = {"filling", "draining", "resetting", "broken"};
  std::string extra = names[static_cast<int>(state_)];
  if (!broken()) extra += fmt::format(", waiters:{}/{}", n_waiting(), parties_);
  return fmt::format("<Barrier [{}]>", extra);
}

}  // namespace simloop
