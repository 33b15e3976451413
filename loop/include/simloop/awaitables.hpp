// What the primitives accept and return: awaitable traits, ensure_future,
// Outcome<T> (a value or an exception) and Void.
//
// Contract:
//  - An awaitable is a Future<T>, a Task<T>, a Coro<T>, a sleep(...)
//    (Sleep<T>) or an AnyTask; await_result_t<A> is T (void for an AnyTask,
//    whose result is read through a typed handle). ensure_future(aw)
//    returns a Future<T>: a future or task as is (a shared handle to the
//    same state), a Coro or a sleep wrapped in a new Task on the running
//    loop (NoRunningTaskError without one), as asyncio.ensure_future; an
//    AnyTask stays an AnyTask (future_handle_t<A> names what it returns).
//  - Outcome<T> holds either a value or an exception_ptr (gather with
//    return_exceptions). A cancelled child shows as a CancelledError.
//  - Void stands for the result of a Future<void> where a value is needed
//    (in the tuple of gather's results).
//  - detail::LoopBound is asyncio's _LoopBoundMixin: a primitive binds to the
//    running loop the first time it needs one, and raises ForeignLoopError if
//    later used from another loop (any other EventLoop object, one built at
//    the address of a destroyed loop included).
//  - detail::Watched is a LoopBound primitive the loop's liveness check looks
//    at (EventLoop::lost_wakeups()): it joins its loop's list when it binds
//    (the first time it parks a task) and leaves it when destroyed.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <deque>
#include <exception>
#include <initializer_list>
#include <source_location>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include <simloop/coro.hpp>
#include <simloop/future.hpp>
#include <simloop/sleep.hpp>
#include <simloop/task.hpp>

namespace simloop {

// The value of a Future<void> inside a tuple or vector of results.
struct Void {
  friend bool operator==(Void, Void) noexcept { return true; }
};

// is_coro: not a future yet (ensure_future wraps it in a task).
template <class A>
struct awaitable_traits {};
template <class T>
struct awaitable_traits<Future<T>> {
  using result = T;
  static constexpr bool is_coro = false;
};
template <class T>
struct awaitable_traits<Task<T>> {
  using result = T;
  static constexpr bool is_coro = false;
};
template <class T>
struct awaitable_traits<Coro<T>> {
  using result = T;
  static constexpr bool is_coro = true;
};
// sleep(d) / sleep(d, value): awaited inline, or wrapped in a coroutine
// (asyncio's _wrap_awaitable) where a task is needed.
template <class T>
struct awaitable_traits<Sleep<T>> {
  using result = T;
  static constexpr bool is_coro = true;
};

// A task of any result type: awaited for its completion alone (task.hpp).
template <>
struct awaitable_traits<AnyTask> {
  using result = void;
  static constexpr bool is_coro = false;
};

// Future<T>, Task<T>, Coro<T>, Sleep<T> or AnyTask.
template <class A>
concept Awaitable = requires {
  typename awaitable_traits<std::remove_cvref_t<A>>::result;
};

template <Awaitable A>
using await_result_t = typename awaitable_traits<std::remove_cvref_t<A>>::result;

// T, or Void for void.
template <class T>
using value_or_void_t = std::conditional_t<std::is_void_v<T>, Void, T>;

namespace detail {
// The coroutine ensure_future makes a task of.
template <class T>
Coro<T> to_coro(Coro<T> c) noexcept {
  return c;
}
template <class T>
Coro<T> to_coro(Sleep<T> s) {
  if constexpr (std::is_void_v<T>) {
    co_await std::move(s);
  } else {
    co_return co_await std::move(s);
  }
}
}  // namespace detail

// asyncio.ensure_future: a future as is, a coroutine wrapped in a task.
// `loop` (if not null) is the loop a coroutine's task is created on.
template <Awaitable A>
Future<await_result_t<A>> ensure_future(A aw, EventLoop* loop = nullptr) {
  using T = await_result_t<A>;
  if constexpr (awaitable_traits<std::remove_cvref_t<A>>::is_coro) {
    EventLoop& l = loop != nullptr ? *loop : EventLoop::running_or_throw("ensure_future");
    return Future<T>(l.create_task(detail::to_coro(std::move(aw))));
  } else {
    if (!aw) throw InvalidStateError("ensure_future: the future or task is empty (default-constructed or moved from)");
    if (loop != nullptr && &aw.get_loop() != loop) {
      throw ForeignLoopError("ensure_future: the future belongs to a different loop than the others");
    }
    return Future<T>(std::move(aw));
  }
}
// ensure_future for a task of any result type: the task itself.
inline AnyTask ensure_future(AnyTask task, EventLoop* loop = nullptr) {
  if (!task) throw InvalidStateError("ensure_future: the task is empty (default-constructed or moved from)");
  if (loop != nullptr && &task.get_loop() != loop) {
    throw ForeignLoopError("ensure_future: the task belongs to a different loop than the others");
  }
  return task;
}

// What ensure_future(A) returns: Future<await_result_t<A>>, or AnyTask.
template <Awaitable A>
using future_handle_t = decltype(ensure_future(std::declval<A>(), static_cast<EventLoop*>(nullptr)));

// A value or an exception (asyncio's gather(..., return_exceptions=True)
// puts either in its result list).
template <class T>
class Outcome {
 public:
  static Outcome of_value(T v) { return Outcome(std::in_place_index<0>, std::move(v)); }
  static Outcome of_exception(std::exception_ptr e) { return Outcome(std::in_place_index<1>, std::move(e)); }

  bool has_value() const noexcept { return v_.index() == 0; }
  bool has_exception() const noexcept { return v_.index() == 1; }
  // The value, or raises the exception.
  const T& value() const {
    if (has_exception()) std::rethrow_exception(std::get<1>(v_));
    return std::get<0>(v_);
  }
  // The exception, or null.
  std::exception_ptr exception() const noexcept { return has_exception() ? std::get<1>(v_) : nullptr; }
  // True when the exception is a CancelledError.
  bool cancelled() const {
    if (!has_exception()) return false;
    try {
      std::rethrow_exception(std::get<1>(v_));
    } catch (const CancelledError&) {
      return true;
    } catch (...) {
      return false;
    }
  }

 private:
  template <std::size_t I, class V>
  Outcome(std::in_place_index_t<I> i, V&& v) : v_(i, std::forward<V>(v)) {}
  std::variant<T, std::exception_ptr> v_;
};

template <>
class Outcome<void> {
 public:
  static Outcome of_value() { return Outcome(nullptr); }
  static Outcome of_exception(std::exception_ptr e) { return Outcome(std::move(e)); }
  bool has_value() const noexcept { return !e_; }
  bool has_exception() const noexcept { return static_cast<bool>(e_); }
  void value() const {
    if (e_) std::rethrow_exception(e_);
  }
  std::exception_ptr exception() const noexcept { return e_; }
  bool cancelled() const {
    if (!e_) return false;
    try {
      std::rethrow_exception(e_);
    } catch (const CancelledError&) {
      return true;
    } catch (...) {
      return false;
    }
  }

 private:
  explicit Outcome(std::exception_ptr e) : e_(std::move(e)) {}
  std::exception_ptr e_;
};

namespace detail {

// True if `e` holds a CancelledError (without a rethrow when it can; see task.hpp).
inline bool is_cancelled_error(const std::exception_ptr& e) { return holds_cancelled_error(e); }

// asyncio's _make_cancelled_error: the CancelledError a cancelled future
// holds; for a task that is not cancelled, one with its cancel message; else
// a plain CancelledError.
inline std::exception_ptr cancelled_error_of(FutureBase& f) {
  if (std::exception_ptr e = f.cancelled_error()) return e;
  // Not cancelled (a task that swallowed its cancellation): CPython's
  // _make_cancelled_error still uses the task's _cancel_message.
  if (const TaskBase* task = f.as_task()) return task->make_cancelled_error();
  return std::make_exception_ptr(CancelledError());
}

// The outcome of a done future: its value, its exception, or its
// CancelledError. Marks an exception retrieved.
// As CPython's gather(return_exceptions=True), a cancelled task shows as a
// CancelledError without message (a task's own cancel message is not kept
// once its coroutine raised CancelledError); a cancelled plain future keeps
// the message given to cancel(msg).
template <class T>
Outcome<T> outcome_of(FutureBase& f) {
  if (f.cancelled()) {
    if (f.as_task() != nullptr) return Outcome<T>::of_exception(std::make_exception_ptr(CancelledError()));
    return Outcome<T>::of_exception(cancelled_error_of(f));
  }
  if (std::exception_ptr e = f.exception()) return Outcome<T>::of_exception(std::move(e));
  if constexpr (std::is_void_v<T>) {
    return Outcome<void>::of_value();
  } else {
    return Outcome<T>::of_value(static_cast<FutureState<T>&>(f).template result<false>("gather"));
  }
}

// The value of a future finished with a value (Void for void). For void,
// `f` may be a future of any type (an AnyTask's): only its state is read.
template <class T>
value_or_void_t<T> value_of(FutureBase& f) {
  if constexpr (std::is_void_v<T>) {
    if (!f.done()) throw FutureNotDoneError("gather: a child is still pending");
    if (std::exception_ptr e = f.error_of_done()) std::rethrow_exception(e);
    return Void{};
  } else {
    return static_cast<FutureState<T>&>(f).template result<false>("gather");
  }
}

// asyncio's _LoopBoundMixin. A primitive may outlive the loop it is bound
// to, and a later loop may be built at the same address: the binding is the
// loop's id (EventLoop::id(), never reused), not its address.
class LoopBound {
 protected:
  // The running loop, binding this primitive to it on first use. Raises
  // NoRunningTaskError outside a loop, ForeignLoopError from another loop.
  EventLoop& get_loop(const char* what) {
    EventLoop& running = EventLoop::running_or_throw(what);
    if (loop_id_ == 0) {
      loop_id_ = running.id();
    } else if (loop_id_ != running.id()) {
      throw ForeignLoopError(fmt::format("{}: this primitive is bound to a different event loop", what));
    }
    return running;
  }

 private:
  std::uint64_t loop_id_ = 0;  // 0: not bound yet (ids start at 1)
};

// Test-only access to primitives' state, for tests that build the state a
// buggy primitive would leave (declared here, defined only by such tests).
struct PrimitiveFaults;

struct QueueView;
class Watched;
void check_queue_liveness(const Watched& queue, const EventLoop& loop, std::vector<LostWakeup>& out, const QueueView& q,
                          const std::deque<Future<void>>& getters, const std::deque<Future<void>>& putters);

// A primitive the liveness check watches. Binding (the first park: the fast
// paths never bind) links it into its loop's list; the destructor unlinks it,
// and a loop destroyed first lets go of it. Primitives are neither copyable
// nor movable, so the link never moves.
class Watched : public LoopBound, private WatchLink {
 public:
  Watched(const Watched&) = delete;
  Watched& operator=(const Watched&) = delete;
  // Where the primitive was made (its constructor's caller).
  const std::source_location& created_at() const noexcept { return created_at_; }

 protected:
  explicit Watched(std::source_location created_at) noexcept : created_at_(created_at) {}
  // Virtual: primitives have virtual functions (check_liveness), and some
  // are deleted through a pointer (a Condition's own Lock).
  virtual ~Watched() {
    if (next != nullptr) {
      prev->next = next;
      next->prev = prev;
    }
  }
  // LoopBound::get_loop, and on the first binding joins the loop's list.
  EventLoop& get_loop(const char* what) {
    EventLoop& loop = LoopBound::get_loop(what);
    if (next == nullptr) [[unlikely]]
      loop.watch(*this);
    return loop;
  }

  // Called with no wakeup in flight (EventLoop::lost_wakeups()): appends a
  // finding when this primitive could admit a task parked on it.
  virtual void check_liveness(const EventLoop& loop, std::vector<LostWakeup>& out) const = 0;
  // Whether any waiter is parked (its future still pending).
  static bool any_parked(const std::deque<Future<void>>& waiters) noexcept {
    return std::any_of(waiters.begin(), waiters.end(), [](const Future<void>& w) { return !w.done(); });
  }
  // Appends the finding "<kind> created at <file:line>", naming the tasks
  // parked on the pending futures of `waiters`.
  void add_finding(const EventLoop& loop, std::vector<LostWakeup>& out, const char* kind, std::string state,
                   std::string reason, const std::deque<Future<void>>& waiters) const;

 private:
  friend class simloop::EventLoop;
  friend void check_queue_liveness(const Watched&, const EventLoop&, std::vector<LostWakeup>&, const QueueView&,
                                   const std::deque<Future<void>>&, const std::deque<Future<void>>&);
  std::source_location created_at_;
};

// `co_await settle(waiter)` waits like `co_await waiter`, but returns what
// ended the wait (null when woken normally; the CancelledError or other
// exception otherwise) instead of raising it. Primitives park tasks on waiter
// futures this way, so they can tidy their waiter queue and hand a wakeup on
// outside any catch block, then rethrow.
class Settle {
 public:
  explicit Settle(const Future<void>& waiter) noexcept : inner_{waiter.state()} {}
  // Never counted: a primitive queues its waiter before this co_await, and a
  // SyncResumeBudgetError raised at it would strand that waiter. (It waits
  // on a new, pending future: it suspends.)
  bool counts_as_sync_resume() const noexcept { return false; }
  bool await_ready() const noexcept { return inner_.await_ready(); }
  bool await_suspend(std::coroutine_handle<> h) noexcept {
    try {
      inner_.await_suspend(h);
      return true;
    } catch (...) {  // not swallowed: await_resume hands it to the caller
      error_ = std::current_exception();
      return false;
    }
  }
  // What FutureAwaiter::await_resume would raise, returned instead: a raise
  // costs thousands of instructions, and the caller raises it again anyway.
  std::exception_ptr await_resume() {
    if (error_) return error_;
    if (inner_.task != nullptr) {
      if (std::exception_ptr cancel = inner_.task->take_pending_cancel()) return cancel;
    }
    return inner_.state->error_of_done();
  }

 private:
  FutureAwaiter<void, false> inner_;
  std::exception_ptr error_;
};
inline Settle settle(const Future<void>& waiter) noexcept { return Settle(waiter); }

// Removes the first element equal to `x` (deque.remove); false if absent.
template <class C, class V>
bool remove_first(C& c, const V& x) {
  auto it = std::find(c.begin(), c.end(), x);
  if (it == c.end()) return false;
  c.erase(it);
  return true;
}

}  // namespace detail
}  // namespace simloop
