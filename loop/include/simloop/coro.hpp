// Coro<T>: a coroutine object, as `async def f()` returns in Python.
//
// Contract:
//  - A function returning Coro<T> is a coroutine function. Calling it runs
//    nothing (lazy); the coroutine runs when awaited or wrapped in a task.
//  - `co_await coro` runs it inline, inside the awaiting task, as
//    `await coro()` does: no trip through the ready queue. Control passes
//    between coroutines through the task's trampoline (see Trampoline), so
//    any depth of such chains, and any number of synchronous completions,
//    run in constant stack, in unoptimized builds too.
//  - `loop.create_task(coro)` makes it an independently scheduled Task.
//  - A Coro is awaited at most once; awaiting a finished or moved-from one
//    raises InvalidStateError. Destroying an unfinished Coro destroys its frame.
//  - A coroutine ends by returning, by raising, or (inside simloop) by
//    `co_await detail::propagate(error)`, which hands `error` to its awaiter
//    without raising it in its own frame.
//  - co_await inside a coroutine records the source location of the await in
//    the running task, so task dumps say where each task is suspended.
//  - co_await inside a coroutine counts against the step's budget of
//    synchronous resumptions (EventLoop::max_sync_resumes) unless the
//    awaitable says it will suspend (counts_as_sync_resume() is false: sleep,
//    a pending future); past the budget it raises SyncResumeBudgetError
//    before awaiting anything. `co_await detail::uncounted(coro)` is not
//    counted, for cleanup that must run even then.
//  - Never take a parameter by reference when the argument may be a
//    temporary: the frame outlives the caller's expression.
#pragma once

#include <concepts>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <source_location>
#include <type_traits>
#include <utility>

#include <simloop/detail/small_alloc.hpp>
#include <simloop/errors.hpp>
#include <simloop/future.hpp>

namespace simloop {

namespace detail {

// Raises the running task's pending CancelledError, if any (a task cancelled
// before its first step sees it at the top of its coroutine).
void deliver_pending_cancel_to_current();

// Symmetric transfer, done by hand. A coroutine that hands control to another
// (starting an awaited Coro, or finishing and resuming its awaiter) stores
// the next one here and suspends; the task's step resumes `next` in a loop.
// Returning a handle from await_suspend would be neater, but GCC makes that a
// tail call only when optimizing: at -O0 a chain of N awaits nests N frames.
// The trampoline also holds what each co_await of the task's coroutines
// updates, so an await reaches it through its promise, without a call: the
// source location of the last co_await, and the step's budget of
// synchronous resumptions.
struct Trampoline {
  std::coroutine_handle<> next;
  // Counted co_awaits the step may still make; set at each step's start.
  // Signed, so the count and its check are one decrement and a sign test.
  std::int64_t sync_resumes_left = 0;
  // Where the task's coroutine last awaited (before its first step: where
  // the task was created).
  std::source_location await_location;
  void run(std::coroutine_handle<> first) {
    next = first;
    while (next) std::exchange(next, nullptr).resume();
  }
};

// Raises SyncResumeBudgetError for the running task and gives `t` a full
// budget again, so code that catches it may tidy up before the next one.
[[noreturn]] void raise_sync_resume_budget_exceeded(Trampoline& t);

// Whether `co_await a` counts as a synchronous resumption: an awaitable may
// say it will suspend (counts_as_sync_resume() false); any other counts.
template <class A>
bool counts_as_sync_resume(const A& a) noexcept {
  if constexpr (requires {
                  { a.counts_as_sync_resume() } -> std::convertible_to<bool>;
                }) {
    return a.counts_as_sync_resume();
  } else {
    return true;
  }
}

struct CoroPromiseBase {
  std::coroutine_handle<> continuation;
  Trampoline* trampoline = nullptr;  // the running task's, inherited from the awaiter
  // Set by unhandled_exception() (the coroutine is then at its final
  // suspend point) or by propagate() (it stays suspended there, ended).
  std::exception_ptr exception;

  struct InitialAwaiter {
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    void await_resume() const { deliver_pending_cancel_to_current(); }
  };
  struct FinalAwaiter {
    bool await_ready() const noexcept { return false; }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) const noexcept {
      CoroPromiseBase& p = h.promise();
      if (p.continuation) p.trampoline->next = p.continuation;
    }
    void await_resume() const noexcept {}
  };

  InitialAwaiter initial_suspend() const noexcept { return {}; }
  FinalAwaiter final_suspend() const noexcept { return {}; }
  void unhandled_exception() noexcept { exception = std::current_exception(); }

  // `trampoline` is set before the coroutine first runs, so it is set here,
  // and it is the running task's: a coroutine runs only in its task's steps.
  template <class A>
  A&& await_transform(A&& awaitable, std::source_location where = std::source_location::current()) {
    trampoline->await_location = where;
    if (counts_as_sync_resume(awaitable) && --trampoline->sync_resumes_left < 0) [[unlikely]]
      raise_sync_resume_budget_exceeded(*trampoline);
    return static_cast<A&&>(awaitable);
  }

  static void* operator new(std::size_t size) { return SmallAlloc::allocate(size); }
  static void operator delete(void* p, std::size_t size) noexcept { SmallAlloc::deallocate(p, size); }
};

// `co_await detail::propagate(error)` ends the coroutine with `error` as
// `std::rethrow_exception(error)` would, but without raising it in this
// frame: the awaiter raises it when it resumes (or the task takes it as its
// outcome). A raise costs thousands of instructions, and a primitive that
// tidies up after a cancelled wait would otherwise pay two. The frame stays
// suspended here; its locals are destroyed with the frame, shortly after.
struct Propagate {
  // The caller's variable, copied when the coroutine suspends here: the
  // awaiter itself is trivially destructible.
  const std::exception_ptr* error;
  // An end of the coroutine, as co_return is: not counted.
  bool counts_as_sync_resume() const noexcept { return false; }
  bool await_ready() const noexcept { return false; }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) const noexcept {
    CoroPromiseBase& p = h.promise();
    p.exception = *error;
    if (p.continuation) p.trampoline->next = p.continuation;
  }
  [[noreturn]] void await_resume() const noexcept { std::terminate(); }  // never resumed
};
inline Propagate propagate(const std::exception_ptr& error) noexcept { return Propagate{&error}; }

template <class T>
struct CoroPromise : CoroPromiseBase {
  ResultSlot<T> slot;
  template <class U = T>
  void return_value(U&& v) {
    slot.value.emplace(std::forward<U>(v));
  }
  T take_result() {
    if (exception) std::rethrow_exception(exception);
    return std::move(*slot.value);
  }
};
template <>
struct CoroPromise<void> : CoroPromiseBase {
  void return_void() noexcept {}
  void take_result() {
    if (exception) std::rethrow_exception(exception);
  }
};

}  // namespace detail

template <class T = void>
class [[nodiscard]] Coro {
 public:
  using value_type = T;
  struct promise_type : detail::CoroPromise<T> {
    Coro get_return_object() noexcept { return Coro(std::coroutine_handle<promise_type>::from_promise(*this)); }
  };
  using handle_type = std::coroutine_handle<promise_type>;

  Coro() noexcept = default;
  Coro(Coro&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  Coro& operator=(Coro&& o) noexcept {
    if (this != &o) {
      if (h_) h_.destroy();
      h_ = std::exchange(o.h_, nullptr);
    }
    return *this;
  }
  ~Coro() {
    if (h_) h_.destroy();
  }

  bool valid() const noexcept { return static_cast<bool>(h_); }
  bool done() const noexcept { return h_ && ended(h_); }
  handle_type handle() const noexcept { return h_; }
  // The result of a finished coroutine (or its exception, raised).
  T take_result() { return h_.promise().take_result(); }

  struct Awaiter {
    handle_type h;
    bool await_ready() const {
      if (!h || ended(h)) throw InvalidStateError("co_await on a Coro that was already awaited or moved from");
      return false;
    }
    // Coros are awaited from Coros (their promise carries the trampoline).
    template <class P>
    void await_suspend(std::coroutine_handle<P> awaiting) const noexcept {
      auto& p = h.promise();
      p.continuation = awaiting;
      p.trampoline = awaiting.promise().trampoline;
      p.trampoline->next = h;
    }
    T await_resume() const { return h.promise().take_result(); }
  };
  Awaiter operator co_await() const& noexcept { return Awaiter{h_}; }
  Awaiter operator co_await() && noexcept { return Awaiter{h_}; }

 private:
  // Returned or raised (at its final suspend point), or ended by propagate():
  // a coroutine not at its final suspend point holds an exception only then.
  static bool ended(handle_type h) noexcept { return h.done() || h.promise().exception != nullptr; }
  explicit Coro(handle_type h) noexcept : h_(h) {}
  handle_type h_;
};

namespace detail {
// `co_await uncounted(coro)` awaits `coro` as `co_await coro` does, without
// counting it against the step's synchronous-resumption budget: cleanup that
// must run (leaving a TaskGroup, re-acquiring a Condition's lock) is never
// skipped by a SyncResumeBudgetError raised at its co_await.
template <class T>
class [[nodiscard]] Uncounted {
 public:
  explicit Uncounted(Coro<T> coro) noexcept : coro_(std::move(coro)) {}
  bool counts_as_sync_resume() const noexcept { return false; }
  typename Coro<T>::Awaiter operator co_await() && noexcept { return typename Coro<T>::Awaiter{coro_.handle()}; }

 private:
  Coro<T> coro_;  // owns the frame until the co_await's full expression ends
};
template <class T>
Uncounted<T> uncounted(Coro<T> coro) noexcept {
  return Uncounted<T>(std::move(coro));
}
}  // namespace detail

}  // namespace simloop
