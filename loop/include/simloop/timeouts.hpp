// timeout / timeout_at / Timeout and wait_for: asyncio's timeouts, with
// CPython 3.13's semantics (Lib/asyncio/timeouts.py, tasks.wait_for).
//
// Contract:
//  - Timeout(when) is asyncio.Timeout, the async context manager, as an
//    object with enter() / exit(error): enter() binds it to the running task
//    and arms a timer at `when` (call_soon if `when` <= time(); never if
//    nullopt). When the timer fires, the task is cancelled (a counted
//    request) and the timeout is "expiring". exit(error) disarms the timer;
//    if the timeout expired and uncancel() brings the task's cancel count
//    back to what it was at enter(), a CancelledError `error` becomes
//    TimeoutError (the CancelledError nested, std::rethrow_if_nested); any
//    other `error` is rethrown as is, and no error means a normal return.
//    A cancellation from outside (the count stays above) is never swallowed:
//    the CancelledError propagates.
//  - run(body) (and the free timeout(delay, body) / timeout_at(when, body))
//    does enter, co_await body, exit: the block of an `async with`.
//  - reschedule(when) moves the deadline of an active timeout; calling it
//    before enter() or after exit raises TimeoutStateError, as does entering
//    twice or exiting a timeout that is not active.
//  - wait_for(aw, timeout): with timeout > 0 (or nullopt), `async with
//    timeout(t): return await aw` (a Coro runs inline in the calling task,
//    as in 3.12+). A value the awaitable produces is returned even if the
//    timeout's cancellation reached it first (it swallowed it, or it had
//    already finished), so no result is dropped by wait_for itself; when the
//    timer fires in the same iteration as the completion but before the
//    caller resumed, the caller is cancelled and gets TimeoutError, as in
//    CPython, while the result stays in the future/task and items stay in
//    their queue (the primitives' hand-on rules). With timeout <= 0: the
//    awaitable becomes a future (a Coro a task, which never starts); a done
//    one gives its result, a pending one is cancelled and awaited, then its
//    result is returned or TimeoutError raised.
//  - The Timeout object must outlive its exit() (it is non-movable; the
//    destructor disarms the timer).
#pragma once

#include <chrono>
#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include <simloop/awaitables.hpp>
#include <simloop/primitive_errors.hpp>

namespace simloop {

class Timeout {
 public:
  enum class State { Created, Entered, Expiring, Expired, Exited };

  explicit Timeout(std::optional<Duration> when) noexcept : when_(when) {}
  Timeout(const Timeout&) = delete;
  Timeout& operator=(const Timeout&) = delete;
  ~Timeout() { handler_.cancel(); }

  std::optional<Duration> when() const noexcept { return when_; }
  State state() const noexcept { return state_; }
  // True once the deadline passed while active (asyncio's expired()).
  bool expired() const noexcept { return state_ == State::Expiring || state_ == State::Expired; }
  void reschedule(std::optional<Duration> when);

  void enter();
  // See the contract: returns normally only when `error` is null and
  // nothing is to be raised.
  void exit(std::exception_ptr error);

  // enter(); co_await aw; exit(error): the value of aw, or its error
  // (TimeoutError if it was cut short by this timeout).
  template <Awaitable A>
  Coro<await_result_t<A>> run(A aw) {
    using T = await_result_t<A>;
    enter();
    std::exception_ptr error;
    std::optional<value_or_void_t<T>> value;
    try {
      if constexpr (std::is_void_v<T>) {
        co_await std::move(aw);
      } else {
        value.emplace(co_await std::move(aw));
      }
    } catch (...) {
      error = std::current_exception();
    }
    exit(error);
    if constexpr (!std::is_void_v<T>) co_return std::move(*value);
  }

  // e.g. "<Timeout [active] when=5000000000>" (when in nanoseconds).
  std::string repr() const;

 private:
  void on_timeout();

  std::optional<Duration> when_;
  State state_ = State::Created;
  HandleRef handler_;
  AnyTask task_;
  int cancelling_ = 0;
};

// asyncio.timeout(delay): a Timeout at time() + delay (nullopt: never).
Timeout timeout(std::optional<Duration> delay);
// asyncio.timeout_at(when): a Timeout at the absolute loop time `when`.
inline Timeout timeout_at(std::optional<Duration> when) { return Timeout(when); }

namespace detail {
template <Awaitable A>
Coro<await_result_t<A>> run_with_timeout_at(std::optional<Duration> when, A aw) {
  Timeout t(when);
  if constexpr (std::is_void_v<await_result_t<A>>) {
    co_await t.run(std::move(aw));
  } else {
    co_return co_await t.run(std::move(aw));
  }
}

// asyncio.tasks._cancel_and_wait: cancel `fut` (a Future<T> or an AnyTask)
// and wait until it is done.
template <class F>
Coro<void> cancel_and_wait(F fut) {
  Future<void> waiter = Future<void>::create(fut.get_loop());
  HandleRef cb = fut.add_done_callback([waiter] {
    if (!waiter.done()) waiter.set_result();
  });
  std::exception_ptr error;
  try {
    fut.cancel();
    co_await waiter;
  } catch (...) {
    error = std::current_exception();
  }
  fut.remove_done_callback(cb);
  if (error) std::rethrow_exception(error);
}
}  // namespace detail

// `async with asyncio.timeout(delay): return await aw`.
template <Awaitable A>
Coro<await_result_t<A>> timeout(std::optional<Duration> delay, A aw) {
  std::optional<Duration> when;
  if (delay) when = EventLoop::running_or_throw("timeout").time() + *delay;
  return detail::run_with_timeout_at(when, std::move(aw));
}
// `async with asyncio.timeout_at(when): return await aw`.
template <Awaitable A>
Coro<await_result_t<A>> timeout_at(std::optional<Duration> when, A aw) {
  return detail::run_with_timeout_at(when, std::move(aw));
}

// asyncio.wait_for(aw, timeout): see the contract.
template <Awaitable A>
Coro<await_result_t<A>> wait_for(A aw, std::optional<Duration> timeout) {
  using T = await_result_t<A>;
  if (timeout && *timeout <= Duration{0}) {
    future_handle_t<A> fut = ensure_future(std::move(aw));
    if (!fut.done()) {
      co_await detail::cancel_and_wait(fut);
      if (fut.cancelled()) {
        std::exception_ptr cancelled = detail::cancelled_error_of(*fut.state());
        try {
          std::rethrow_exception(cancelled);
        } catch (const CancelledError&) {
          std::throw_with_nested(TimeoutError("wait_for: timed out (timeout <= 0) and the awaitable was cancelled"));
        }
      }
    }
    if constexpr (std::is_void_v<T>) {
      fut.result();
      co_return;
    } else {
      co_return fut.result();
    }
  }
  std::optional<Duration> when;
  if (timeout) when = EventLoop::running_or_throw("wait_for").time() + *timeout;
  Timeout t(when);
  if constexpr (std::is_void_v<T>) {
    co_await t.run(std::move(aw));
  } else {
    co_return co_await t.run(std::move(aw));
  }
}

}  // namespace simloop
