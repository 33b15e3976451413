// wait(fs, timeout, return_when) and as_completed(aws, timeout): asyncio's,
// with CPython 3.13 semantics.
//
// Contract:
//  - wait(fs) takes a vector of futures or tasks (no coroutines, as in
//    3.12+) and waits until return_when holds: FIRST_COMPLETED (any done),
//    FIRST_EXCEPTION (one finished with an exception, or all done),
//    ALL_COMPLETED (all done), or until `timeout` passes. It never raises
//    TimeoutError and never cancels anything: it returns {done, pending}, each
//    in the order of `fs` (CPython returns sets), duplicates removed. An empty
//    `fs` raises InvalidArgumentError. Cancelling the waiting task cancels
//    only the wait.
//  - as_completed(aws, timeout) wraps coroutines in tasks (argument order)
//    and yields the awaitables as they complete: next() returns the next
//    future to complete (await it for its result), next_result() returns its
//    result directly (the plain-iterator form). Both raise TimeoutError once
//    the timeout passed with awaitables still pending, and
//    InvalidStateError when nothing is left (has_next() is false).
//    Duplicates count once.
//  - Tasks of different result types go together as AnyTask:
//    wait(std::vector<AnyTask>{task_int, task_string}), or wait({task_int,
//    task_string}) and as_completed({...}) with a braced list. done/pending
//    and next() then hold AnyTask handles (compare them with the typed
//    handles; read results through those), and next_result() returns
//    nothing but raises the task's exception.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include <simloop/awaitables.hpp>
#include <simloop/primitive_errors.hpp>
#include <simloop/queues.hpp>

namespace simloop {

enum class ReturnWhen { FirstCompleted, FirstException, AllCompleted };
inline constexpr ReturnWhen FIRST_COMPLETED = ReturnWhen::FirstCompleted;
inline constexpr ReturnWhen FIRST_EXCEPTION = ReturnWhen::FirstException;
inline constexpr ReturnWhen ALL_COMPLETED = ReturnWhen::AllCompleted;

template <class F>
struct WaitResult {
  std::vector<F> done;
  std::vector<F> pending;
};

namespace detail {
// Keeps the first occurrence of each future (by state), in order.
template <class F>
std::vector<F> unique_futures(std::vector<F> fs) {
  std::vector<F> out;
  std::unordered_set<const void*> seen;  // lookup only, never iterated
  for (F& f : fs) {
    if (!f) throw InvalidArgumentError("wait/as_completed: an empty (default-constructed or moved-from) future");
    if (seen.insert(f.state()).second) out.push_back(std::move(f));
  }
  return out;
}
}  // namespace detail

// asyncio.wait: see the contract. F is Future<T> or Task<T>.
template <class F>
requires(Awaitable<F> && !awaitable_traits<F>::is_coro) Coro<WaitResult<F>> wait(
    std::vector<F> fs, std::optional<Duration> timeout = std::nullopt, ReturnWhen return_when = ALL_COMPLETED) {
  if (fs.empty()) throw InvalidArgumentError("wait: the set of tasks/futures is empty");
  if (return_when != FIRST_COMPLETED && return_when != FIRST_EXCEPTION && return_when != ALL_COMPLETED) {
    throw InvalidArgumentError("wait: invalid return_when value");
  }
  fs = detail::unique_futures(std::move(fs));
  EventLoop& loop = EventLoop::running_or_throw("wait");
  struct Shared {
    Future<void> waiter;
    HandleRef timeout_handle;
    std::size_t counter;
  };
  auto shared = std::make_shared<Shared>(Shared{Future<void>::create(loop), HandleRef(), fs.size()});
  if (timeout) {
    shared->timeout_handle = loop.call_later(*timeout, [waiter = shared->waiter] {
      if (!waiter.done()) waiter.set_result();
    });
  }
  std::vector<HandleRef> callbacks;
  callbacks.reserve(fs.size());
  for (F& f : fs) {
    callbacks.push_back(f.add_done_callback([shared, return_when](auto& done) {
      --shared->counter;
      if (shared->counter == 0 || return_when == FIRST_COMPLETED ||
          (return_when == FIRST_EXCEPTION && !done.cancelled() && done.exception() != nullptr)) {
        shared->timeout_handle.cancel();
        if (!shared->waiter.done()) shared->waiter.set_result();
      }
    }));
  }
  std::exception_ptr error;
  try {
    co_await shared->waiter;
  } catch (...) {
    error = std::current_exception();
  }
  shared->timeout_handle.cancel();
  for (std::size_t i = 0; i < fs.size(); ++i) fs[i].remove_done_callback(callbacks[i]);
  if (error) std::rethrow_exception(error);
  WaitResult<F> result;
  for (F& f : fs) (f.done() ? result.done : result.pending).push_back(std::move(f));
  co_return result;
}

// asyncio.wait over tasks of any result types, e.g. wait({task_int, task_string}).
inline Coro<WaitResult<AnyTask>> wait(std::vector<AnyTask> fs, std::optional<Duration> timeout = std::nullopt,
                                      ReturnWhen return_when = ALL_COMPLETED) {
  return wait<AnyTask>(std::move(fs), timeout, return_when);
}

// The iterator asyncio.as_completed returns. F is the handle it yields:
// Future<T>, or AnyTask (T void) for tasks of any result types.
template <class T, class F = Future<T>>
class AsCompleted {
 public:
  AsCompleted(AsCompleted&&) noexcept = default;
  AsCompleted& operator=(AsCompleted&&) = delete;
  ~AsCompleted() {
    // Nobody will ask for the rest: stop being called back by them.
    if (!st_) return;
    for (std::size_t i = 0; i < st_->todo.size(); ++i) st_->todo[i].remove_done_callback(st_->callbacks[i]);
    st_->todo.clear();
    st_->timeout_handle.cancel();
  }

  bool has_next() const noexcept { return todo_left_ > 0; }
  std::size_t remaining() const noexcept { return todo_left_; }

  // __anext__: the next future to complete (done when returned).
  Coro<F> next() {
    take_one("as_completed.next");
    return wait_for_one(st_);
  }
  // __next__ with resolve: the next completed awaitable's result (or exception).
  Coro<T> next_result() {
    take_one("as_completed.next_result");
    return wait_for_result(st_);
  }

  // ---- internal (used by as_completed) ----
  struct State {
    Queue<std::optional<F>> done;      // nullopt: the timeout sentinel
    std::vector<F> todo;               // not completed yet, argument order
    std::vector<HandleRef> callbacks;  // parallel to todo
    HandleRef timeout_handle;
  };
  AsCompleted(std::shared_ptr<State> st, std::size_t n) : st_(std::move(st)), todo_left_(n) {}

 private:
  void take_one(const char* what) {
    if (todo_left_ == 0) throw InvalidStateError(fmt::format("{}: no awaitable left (check has_next())", what));
    --todo_left_;
  }
  static Coro<F> wait_for_one(std::shared_ptr<State> st) {
    std::optional<F> f = co_await st->done.get();
    if (!f) throw TimeoutError("as_completed: timed out");
    co_return std::move(*f);
  }
  static Coro<T> wait_for_result(std::shared_ptr<State> st) {
    std::optional<F> f = co_await st->done.get();
    if (!f) throw TimeoutError("as_completed: timed out");
    if constexpr (std::is_void_v<T>) {
      f->result();
    } else {
      co_return f->result();
    }
  }

  std::shared_ptr<State> st_;
  std::size_t todo_left_;
};

// asyncio.as_completed: see the contract.
template <Awaitable A>
AsCompleted<await_result_t<A>, future_handle_t<A>> as_completed(std::vector<A> aws,
                                                                std::optional<Duration> timeout = std::nullopt) {
  using T = await_result_t<A>;
  using F = future_handle_t<A>;
  using State = typename AsCompleted<T, F>::State;
  EventLoop& loop = EventLoop::running_or_throw("as_completed");
  std::vector<F> futs;
  futs.reserve(aws.size());
  for (A& aw : aws) futs.push_back(ensure_future(std::move(aw), &loop));
  futs = detail::unique_futures(std::move(futs));
  auto st = std::make_shared<State>();
  std::weak_ptr<State> weak = st;
  for (F& f : futs) {
    st->todo.push_back(f);
    // The callback holds the state weakly: dropping the iterator frees it.
    st->callbacks.push_back(f.add_done_callback([weak](F& done) {
      std::shared_ptr<State> s = weak.lock();
      if (!s || s->todo.empty()) return;  // the timeout was here first
      for (std::size_t i = 0; i < s->todo.size(); ++i) {
        if (s->todo[i] == done) {
          s->todo.erase(s->todo.begin() + static_cast<std::ptrdiff_t>(i));
          s->callbacks.erase(s->callbacks.begin() + static_cast<std::ptrdiff_t>(i));
          break;
        }
      }
      s->done.put_nowait(done);
      if (s->todo.empty()) s->timeout_handle.cancel();
    }));
  }
  if (!futs.empty() && timeout) {
    st->timeout_handle = loop.call_later(*timeout, [weak] {
      std::shared_ptr<State> s = weak.lock();
      if (!s) return;
      for (std::size_t i = 0; i < s->todo.size(); ++i) {
        s->todo[i].remove_done_callback(s->callbacks[i]);
        s->done.put_nowait(std::nullopt);  // one sentinel per pending awaitable
      }
      s->todo.clear();
      s->callbacks.clear();
    });
  }
  return AsCompleted<T, F>(std::move(st), futs.size());
}

// asyncio.as_completed over tasks of any result types, e.g. as_completed({task_int, task_string}).
inline AsCompleted<void, AnyTask> as_completed(std::vector<AnyTask> aws,
                                               std::optional<Duration> timeout = std::nullopt) {
  return as_completed<AnyTask>(std::move(aws), timeout);
}

}  // namespace simloop
