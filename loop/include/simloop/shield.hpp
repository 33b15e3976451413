// shield(aw): asyncio.shield, CPython 3.13 semantics.
//
// Contract:
//  - The awaitable becomes a future (a Coro a new task). If it is already
//    done, shield returns it as is. Otherwise shield returns a new outer
//    future that completes as the inner one does (value, exception, or
//    cancelled when the inner is cancelled by other means).
//  - Cancelling the outer future (e.g. cancelling the task awaiting it) does
//    not cancel the inner one: the awaiting task gets CancelledError while
//    the inner work goes on. An exception the inner then raises is marked
//    retrieved (nobody awaits it any more), as CPython does.
//  - Keep a reference to the inner task if you need its result after the
//    outer was cancelled (the loop keeps a pending task alive meanwhile).
//  - shield(AnyTask) (a task of any result type) returns a Future<void> with
//    the same rules; when the task is already done, the future is done the
//    same way (its exception, or cancelled with the task's message), so
//    awaiting it raises what awaiting the task would.
#pragma once

#include <exception>
#include <string>
#include <type_traits>
#include <utility>

#include <simloop/awaitables.hpp>

namespace simloop {

template <Awaitable A>
Future<await_result_t<A>> shield(A aw) {
  using T = await_result_t<A>;
  Future<T> inner = ensure_future(std::move(aw));
  if (inner.done()) return inner;
  Future<T> outer = Future<T>::create(inner.get_loop());
  HandleRef inner_cb = inner.add_done_callback([outer](Future<T>& in) {
    if (outer.cancelled()) {
      if (!in.cancelled()) in.exception();  // mark it retrieved
      return;
    }
    if (in.cancelled()) {
      outer.cancel();
    } else if (std::exception_ptr e = in.exception()) {
      outer.set_exception(std::move(e));
    } else if constexpr (std::is_void_v<T>) {
      outer.set_result();
    } else {
      outer.set_result(in.result());
    }
  });
  // Once the outer is done (cancelled), drop the inner's callback. The
  // callback is held by inner's list alone: owning it here as well would
  // close a cycle (outer -> this callback -> inner's callback -> outer) that
  // nothing breaks if neither ever completes. While inner is pending its
  // list keeps the callback alive, so the raw pointer is valid when used.
  Handle* inner_cb_in_list = inner_cb.get();
  outer.add_done_callback([inner, inner_cb_in_list] {
    if (!inner.done()) inner.remove_done_callback(HandleRef(inner_cb_in_list));
  });
  return outer;
}

namespace detail {
// Completes `outer` as the done task `inner` ended (see the contract).
inline void complete_like(const Future<void>& outer, const AnyTask& inner, bool keep_cancel_message) {
  if (inner.cancelled()) {
    std::string message;
    if (keep_cancel_message) {
      try {
        std::rethrow_exception(inner.state()->cancelled_error());
      } catch (const CancelledError& e) {
        message = e.message();
      }
    }
    outer.cancel(std::move(message));
  } else if (std::exception_ptr e = inner.exception()) {
    outer.set_exception(std::move(e));
  } else {
    outer.set_result();
  }
}
}  // namespace detail

inline Future<void> shield(AnyTask inner) {
  if (!inner) throw InvalidStateError("shield: the task is empty (default-constructed or moved from)");
  Future<void> outer = Future<void>::create(inner.get_loop());
  if (inner.done()) {
    detail::complete_like(outer, inner, /*keep_cancel_message=*/true);
    return outer;
  }
  HandleRef inner_cb = inner.add_done_callback([outer](AnyTask& in) {
    if (outer.cancelled()) {
      if (!in.cancelled()) (void)in.exception();  // mark it retrieved
      return;
    }
    // As asyncio's _inner_done_callback: a cancelled inner cancels the
    // outer without a message.
    detail::complete_like(outer, in, /*keep_cancel_message=*/false);
  });
  Handle* inner_cb_in_list = inner_cb.get();  // see shield(A) on why not owned
  outer.add_done_callback([inner, inner_cb_in_list] {
    if (!inner.done()) inner.remove_done_callback(HandleRef(inner_cb_in_list));
  });
  return outer;
}

}  // namespace simloop
