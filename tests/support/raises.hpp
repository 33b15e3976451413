// raises<E>(awaitable): did awaiting this raise E? For tests, instead of
// `bool raised = false; try { co_await aw; } catch (const E&) { raised = true; }`:
//
//   EXPECT_TRUE(co_await raises<simloop::CancelledError>(task));
//   const auto cancelled = co_await raises<simloop::CancelledError>(task);
//   if (cancelled) {
//     EXPECT_EQ(cancelled->message(), "bye");
//   }
//
// Contract:
//  - `co_await raises<E>(aw)` awaits `aw` in the calling task and yields a
//    std::optional<E>: a copy of the E it raised (an exception of a type
//    derived from E is copied as an E), or nullopt when it completed without
//    raising; the value it completed with, if any, is discarded.
//  - Any exception that is not an E propagates out of the co_await as it
//    would from `co_await aw`. CancelledError derives from nothing, so only
//    raises<CancelledError> catches a cancellation, and it then swallows it,
//    exactly as the hand-written catch does.
//  - `aw` is any simloop awaitable (Future, Task, AnyTask, Coro, sleep(...)),
//    taken by value. A future or task is awaited as a named handle is: its
//    value is copied, not moved out, so other handles still see it. A Coro
//    is lazy: it runs when the helper is awaited, inline in the calling
//    task's step, as `co_await aw` in place would, so a cancellation
//    delivered at one of its co_awaits lands inside the helper and is caught
//    there.
//  - The helper's own co_await is not counted against the step's budget of
//    synchronous resumptions (EventLoop::max_sync_resumes); only `aw`'s is,
//    as in place, and a SyncResumeBudgetError raised there counts as raised
//    by `aw`.
//  - Await the result at once (it is [[nodiscard]]; `co_await std::move(r)`
//    if it was named). While the task waits inside, task dumps show this
//    header as where it is suspended.
//
// raises_sync<E>(fn) is the synchronous twin: it calls fn() and returns the
// same std::optional<E> (fn's result discarded, other exceptions propagate).
#pragma once

#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include <simloop/simloop.hpp>

namespace simloop::testing {

namespace detail {
// A handle (Future, Task, AnyTask, Coro) is awaited as an lvalue, so a
// future's value is copied; an awaitable that is its own awaiter (a sleep,
// move-only) as an rvalue, since GCC 12 copies an awaiter awaited as an lvalue.
template <class A>
concept AwaitedAsLvalue = requires(A& a) {
  a.operator co_await();
};

template <class E, class A>
simloop::Coro<std::optional<E>> await_catching(A aw) {
  std::optional<E> caught;
  try {
    if constexpr (AwaitedAsLvalue<A>) {
      static_cast<void>(co_await aw);
    } else {
      static_cast<void>(co_await std::move(aw));
    }
  } catch (const E& e) {
    caught.emplace(e);
  }
  co_return caught;
}
}  // namespace detail

template <class E, simloop::Awaitable A>
[[nodiscard]] simloop::detail::Uncounted<std::optional<E>> raises(A aw) {
  static_assert(std::is_copy_constructible_v<E>, "raises<E>: E must be copyable (it is returned as a copy)");
  return simloop::detail::uncounted(detail::await_catching<E>(std::move(aw)));
}

template <class E, class F>
[[nodiscard]] std::optional<E> raises_sync(F&& fn) {
  static_assert(std::is_copy_constructible_v<E>, "raises_sync<E>: E must be copyable (it is returned as a copy)");
  try {
    static_cast<void>(std::invoke(std::forward<F>(fn)));
  } catch (const E& e) {
    return e;
  }
  return std::nullopt;
}

}  // namespace simloop::testing
