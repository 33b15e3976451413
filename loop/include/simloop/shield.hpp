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
#pragma once

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

}  // namespace simloop
