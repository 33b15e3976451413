// async_with(cm, body): asyncio's `async with cm as x: <body>` as one
// co_await, for a timeout, a TaskGroup, a Lock, a Semaphore (bounded or not)
// and a Condition.
//
// Contract:
//  - `co_await async_with(cm, body)` enters `cm`, runs `co_await body(x)` (or
//    `co_await body()` when body takes no argument), leaves `cm` and returns
//    the body's value. `x` is what `as x` binds in asyncio: the Timeout, the
//    TaskGroup, the lock, semaphore or condition itself. `body` is any
//    callable returning an awaitable, typically a coroutine lambda
//    (`[&](TaskGroup& tg) -> Coro<int> {...}`); it is kept in the frame of
//    the coroutine async_with returns, so it may capture by reference what
//    the caller keeps alive until the co_await ends.
//  - Leaving is asyncio's __aexit__ with the body's outcome, after the body
//    is done (no co_await runs inside a catch block):
//      * async_with(timeout(d) / timeout_at(when) / Timeout(when), body):
//        Timeout::enter() / exit(error): if the deadline passes, the task is
//        cancelled at its current co_await and the CancelledError this
//        caused becomes TimeoutError (the CancelledError nested); a
//        cancellation from outside propagates as CancelledError. A prvalue
//        Timeout only gives its deadline: async_with enters a Timeout of its
//        own at that deadline (one already entered raises
//        TimeoutStateError); a Timeout lvalue is entered itself (it must
//        outlive the co_await; its expired() can be read afterwards).
//      * async_with(TaskGroup(), body): TaskGroup::enter() / exit(error):
//        waits for every child, raises ExceptionGroup with the children's
//        errors (and the body's), as with_task_group does. A prvalue group
//        stands for a new one that async_with owns (an entered group raises
//        TaskGroupStateError); a TaskGroup lvalue is entered itself (it must
//        outlive the co_await).
//      * async_with(lock, body) for a Lock, Semaphore, BoundedSemaphore or
//        Condition (anything with acquire() -> Coro<bool> and release()):
//        `co_await acquire()`, then release() however the body ends (value,
//        exception, cancellation). A cancellation while waiting to acquire
//        raises CancelledError from async_with without running the body and
//        without releasing (the primitive hands a wakeup it got on). If the
//        release itself raises (the body released the lock), that error
//        propagates, replacing the body's, as an exception raised by
//        __aexit__ does. If the loop closes with the body suspended, the
//        frame's destruction releases (Held's rule).
//  - Exceptions propagate as from `async with`: the body's exception is
//    raised again after leaving; CancelledError is never swallowed.
//  - Coroutine parameters are taken by value only: the lock, Timeout or
//    TaskGroup lvalue is referred to by address and must outlive the co_await.
//  - With GCC 12, name a lambda that captures by value before the co_await
//    it is passed to (GCC 12 destroys such a temporary twice when the
//    expression suspends; docs/loop.md):
//
//        auto body = [name](simloop::Lock&) -> simloop::Coro<void> { ... };
//        co_await simloop::async_with(lock, std::move(body));
//
//    A lambda capturing by reference only ([&]) may be written in place.
#pragma once

#include <concepts>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include <simloop/awaitables.hpp>
#include <simloop/locks.hpp>
#include <simloop/primitive_errors.hpp>
#include <simloop/task_group.hpp>
#include <simloop/timeouts.hpp>

namespace simloop {

// What async_with enters as a lock: Lock, Semaphore, BoundedSemaphore,
// Condition, or any type with acquire() -> Coro<bool> and release().
template <class L>
concept AsyncLockable = requires(L& l) {
  { l.acquire() } -> std::same_as<Coro<bool>>;
  l.release();
};

// A body async_with can run with the context manager C: callable with C&
// (what `as x` binds) or with nothing, returning an awaitable.
template <class F, class C>
concept AsyncWithBody = (std::is_invocable_v<F&, C&> && Awaitable<std::invoke_result_t<F&, C&>>) ||
                        (!std::is_invocable_v<F&, C&> && std::is_invocable_v<F&> &&
                         Awaitable<std::invoke_result_t<F&>>);

namespace detail {

// body(cm) when body takes the context manager, else body().
template <class F, class C>
decltype(auto) call_body(F& body, C& cm) {
  if constexpr (std::is_invocable_v<F&, C&>) {
    return body(cm);
  } else {
    return body();
  }
}

template <class F, class C>
using async_with_result_t = await_result_t<decltype(call_body(std::declval<F&>(), std::declval<C&>()))>;

// `co_await body(cm)` into `value` (for a non-void result), its exception
// into the returned pointer: the try block of every async_with below.
template <class F, class C, class V>
Coro<std::exception_ptr> run_body(F* body, C* cm, V* value) {
  using T = async_with_result_t<F, C>;
  std::exception_ptr error;
  try {
    if constexpr (std::is_void_v<T>) {
      co_await call_body(*body, *cm);
    } else {
      value->emplace(co_await call_body(*body, *cm));
    }
  } catch (...) {
    error = std::current_exception();  // not swallowed: the caller raises it after leaving
  }
  co_return error;
}

template <class L, class F>
Coro<async_with_result_t<F, L>> async_with_lock(L* lock, F body) {
  using T = async_with_result_t<F, L>;
  co_await lock->acquire();
  Held<L> held(*lock);  // releases if the frame is destroyed with the body suspended
  std::optional<value_or_void_t<T>> value;
  std::exception_ptr error = co_await uncounted(run_body(&body, lock, &value));
  held.release();
  if (error) std::rethrow_exception(error);
  if constexpr (!std::is_void_v<T>) co_return std::move(*value);
}

// `in_place` null: a Timeout of this frame's own, at `when`.
template <class F>
Coro<async_with_result_t<F, Timeout>> async_with_timeout(Timeout* in_place, std::optional<Duration> when, F body) {
  using T = async_with_result_t<F, Timeout>;
  std::optional<Timeout> owned;
  Timeout& cm = in_place != nullptr ? *in_place : owned.emplace(when);
  cm.enter();
  std::optional<value_or_void_t<T>> value;
  std::exception_ptr error = co_await uncounted(run_body(&body, &cm, &value));
  cm.exit(error);  // raises `error`, or TimeoutError in its place
  if constexpr (!std::is_void_v<T>) co_return std::move(*value);
}

// `in_place` null: a TaskGroup of this frame's own.
template <class F>
Coro<async_with_result_t<F, TaskGroup>> async_with_task_group(TaskGroup* in_place, F body) {
  using T = async_with_result_t<F, TaskGroup>;
  std::optional<TaskGroup> owned;
  TaskGroup& tg = in_place != nullptr ? *in_place : owned.emplace();
  tg.enter();
  std::optional<value_or_void_t<T>> value;
  std::exception_ptr error = co_await uncounted(run_body(&body, &tg, &value));
  // Not counted against the synchronous-resumption budget: the group must
  // be left (its children cancelled and awaited) whatever the body raised.
  co_await uncounted(tg.exit(error));
  if constexpr (!std::is_void_v<T>) co_return std::move(*value);
}

}  // namespace detail

// `async with lock: return await body(lock)` for a Lock, Semaphore,
// BoundedSemaphore or Condition (see the contract).
template <AsyncLockable L, AsyncWithBody<L> F>
Coro<detail::async_with_result_t<F, L>> async_with(L& lock, F body) {
  return detail::async_with_lock(&lock, std::move(body));
}

// `async with asyncio.timeout(delay) as cm: return await body(cm)`:
// async_with(timeout(delay), body), or timeout_at(when) (see the contract).
template <AsyncWithBody<Timeout> F>
Coro<detail::async_with_result_t<F, Timeout>> async_with(Timeout&& spec, F body) {
  if (spec.state() != Timeout::State::Created) {
    throw TimeoutStateError("async_with: the timeout has already been entered; pass a new one");
  }
  return detail::async_with_timeout(nullptr, spec.when(), std::move(body));
}
// `async with cm: return await body(cm)` for a Timeout the caller keeps.
template <AsyncWithBody<Timeout> F>
Coro<detail::async_with_result_t<F, Timeout>> async_with(Timeout& cm, F body) {
  return detail::async_with_timeout(&cm, std::nullopt, std::move(body));
}

// `async with asyncio.TaskGroup() as tg: return await body(tg)`:
// async_with(TaskGroup(), body) (see the contract).
template <AsyncWithBody<TaskGroup> F>
Coro<detail::async_with_result_t<F, TaskGroup>> async_with(TaskGroup&& spec, F body) {
  if (spec.entered()) throw TaskGroupStateError("async_with: the TaskGroup has already been entered; pass a new one");
  return detail::async_with_task_group(nullptr, std::move(body));
}
// `async with tg: return await body(tg)` for a TaskGroup the caller keeps.
template <AsyncWithBody<TaskGroup> F>
Coro<detail::async_with_result_t<F, TaskGroup>> async_with(TaskGroup& tg, F body) {
  return detail::async_with_task_group(&tg, std::move(body));
}

}  // namespace simloop
