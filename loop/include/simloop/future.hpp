// Future<T>: asyncio.Future, a result that becomes available later.
//
// Contract:
//  - A future is pending, then either finished (a value or an exception) or
//    cancelled, once. set_result / set_exception on a done future raise
//    FutureAlreadyDoneError; result() / exception() on a pending one raise
//    FutureNotDoneError; on a cancelled one they raise CancelledError.
//  - Completing a future never runs a callback inline: each done-callback is
//    scheduled with call_soon, in the order added. add_done_callback on a done
//    future schedules the callback at once, also through call_soon.
//  - An exception that nobody retrieved (result(), exception(), co_await) is
//    reported to the loop's exception handler when the future is destroyed.
//  - Future<T> is a shared handle (copies refer to the same future); the
//    state is reference counted and single-threaded: use it on its loop's
//    thread only (call_soon_threadsafe is the way in from other threads).
//  - `co_await fut` inside a task suspends until the future is done and
//    yields its value (a copy; `co_await std::move(fut)` moves it out) or
//    raises its exception. Awaiting a future of another loop raises
//    ForeignLoopError; a task awaiting itself raises SelfAwaitError.
//  - An empty handle (default-constructed or moved from) is only good for
//    assignment, destruction, operator bool, == and state(): any other use
//    (co_await included) raises InvalidStateError naming the operation.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <simloop/event_loop.hpp>

namespace simloop {

namespace detail {

class TaskBase;

// The done-callbacks of one future, in the order added. Most futures have
// one callback (the task awaiting them), kept inline.
class CallbackList {
 public:
  CallbackList() = default;
  CallbackList(const CallbackList&) = delete;
  CallbackList& operator=(const CallbackList&) = delete;
  ~CallbackList() { clear(); }

  bool empty() const noexcept { return first_ == nullptr; }
  void push_back(Handle* h);  // takes over one reference
  // Removes every entry equal to h, releasing their references; returns how many.
  std::size_t remove(Handle* h) noexcept;
  // Empties the list, calling fn(h) on each entry in order; fn takes over
  // the entry's reference.
  template <class F>
  void drain(F&& fn) {
    Handle* first = std::exchange(first_, nullptr);
    std::unique_ptr<std::vector<Handle*>> rest = std::move(rest_);
    if (first != nullptr) fn(first);
    if (rest) {
      for (Handle* h : *rest) fn(h);
    }
  }
  void clear() noexcept;

 private:
  Handle* first_ = nullptr;
  std::unique_ptr<std::vector<Handle*>> rest_;
};

class FutureBase : public Pooled {
 public:
  enum class State : std::uint8_t { Pending, Finished, Cancelled };

  explicit FutureBase(EventLoop& loop) noexcept : loop_(&loop) {}
  FutureBase(const FutureBase&) = delete;
  FutureBase& operator=(const FutureBase&) = delete;
  virtual ~FutureBase();

  EventLoop& loop() const noexcept { return *loop_; }
  State state() const noexcept { return state_; }
  bool done() const noexcept { return state_ != State::Pending; }
  bool cancelled() const noexcept { return state_ == State::Cancelled; }

  // asyncio Future.cancel(msg); a task overrides it with its counted request.
  virtual bool cancel(std::string message);
  // For a task, the task; for a plain future, null.
  virtual TaskBase* as_task() noexcept { return nullptr; }
  // asyncio's repr, e.g. "<Future pending>" or "<Task finished name='Task-1'>".
  virtual std::string repr() const;

  void set_exception(std::exception_ptr e);
  // The exception (null if finished with a value). Marks it retrieved.
  std::exception_ptr exception();
  // A cancelled future's CancelledError, without raising it (null unless
  // cancelled): exception() raises it, and a raise costs thousands of
  // instructions where a combinator only wants to pass it on.
  std::exception_ptr cancelled_error() const noexcept { return state_ == State::Cancelled ? exception_ : nullptr; }
  // What a done future would raise from result(), without raising it: its
  // CancelledError or exception (marked retrieved), or null for a value.
  std::exception_ptr error_of_done() noexcept {
    if (state_ == State::Finished && exception_) exception_retrieved_ = true;
    return exception_;
  }

  // Done-callbacks: `cb` is scheduled (call_soon) once the future is done,
  // after its on_future_done(). The list keeps a reference.
  void add_done_handle(Handle* cb);
  std::size_t remove_done_handle(Handle* cb) noexcept { return callbacks_.remove(cb); }

  void add_ref() noexcept { ++refs_; }
  void release() noexcept {
    if (--refs_ == 0) delete this;
  }

 protected:
  // Raises FutureAlreadyDoneError naming `operation` unless pending.
  friend class TaskBase;
  friend class GatherBuilder;
  void require_pending(const char* operation) const;
  // Raises FutureNotDoneError / CancelledError / the stored exception unless
  // finished with a value; marks the exception retrieved.
  void require_value(const char* operation);
  void finish() { schedule_callbacks(); }
  // Marks the future cancelled with `cancelled_error` (a CancelledError) and schedules callbacks.
  void mark_cancelled(std::exception_ptr cancelled_error);
  void schedule_callbacks();
  void schedule_callbacks_offering_grants();
  const char* state_name() const noexcept;

  EventLoop* loop_;
  std::uint32_t refs_ = 0;
  State state_ = State::Pending;
  bool exception_retrieved_ = false;
  // Scratch for GatherBuilder: set only while it looks for duplicate
  // children, clear at every other time.
  bool gather_mark_ = false;
  std::exception_ptr exception_;  // the exception, or the CancelledError when cancelled
  CallbackList callbacks_;
};

// A done-callback that receives the future (add_done_callback(fn)). It
// holds the future only once the future is done, so no cycle keeps a pending
// future alive.
class DoneCallback : public Handle {
 protected:
  using Handle::Handle;
  void on_future_done(FutureBase* f) noexcept override {
    f->add_ref();
    future_ = f;
  }
  ~DoneCallback() override {
    if (future_ != nullptr) future_->release();
  }
  FutureBase* future_ = nullptr;
};

template <class T>
struct ResultSlot {
  std::optional<T> value;
};
template <>
struct ResultSlot<void> {};

template <class T>
class FutureState : public FutureBase {
 public:
  using FutureBase::FutureBase;

  template <class... A>
  void set_result(A&&... a) {
    require_pending("set_result");
    if constexpr (!std::is_void_v<T>) slot_.value.emplace(std::forward<A>(a)...);
    state_ = State::Finished;
    finish();
  }
  // Returns the value (copied, or moved out when `move`), or raises.
  template <bool Move>
  decltype(auto) result(const char* operation) {
    require_value(operation);
    if constexpr (std::is_void_v<T>) {
      return;
    } else if constexpr (Move) {
      return T(std::move(*slot_.value));
    } else {
      return static_cast<const T&>(*slot_.value);
    }
  }

 protected:
  ResultSlot<T> slot_;
};

// Suspends the running task on `f` (the task's wakeup becomes f's done
// callback). Raises NoRunningTaskError, ForeignLoopError or SelfAwaitError.
TaskBase* suspend_current_task_on(FutureBase& f, std::coroutine_handle<> resume_at);
// Raises the CancelledError a task must see at this resumption, if any.
void deliver_pending_cancel(TaskBase* task);
// Raises InvalidStateError: `operation` was used on an empty Future, Task or
// AnyTask. Out of line, so the check at each use is one compare and branch.
[[noreturn]] void raise_empty_handle(const char* operation);

template <class T, bool Move>
struct FutureAwaiter {
  FutureState<T>* state;
  TaskBase* task = nullptr;
  bool await_ready() const noexcept { return state->done(); }
  void await_suspend(std::coroutine_handle<> h) { task = suspend_current_task_on(*state, h); }
  decltype(auto) await_resume() {
    if (task != nullptr) deliver_pending_cancel(task);
    return state->template result<Move>("co_await");
  }
};

}  // namespace detail

template <class T>
class Future {
 public:
  using value_type = T;

  Future() noexcept = default;
  Future(const Future& o) noexcept : s_(o.s_) {
    if (s_ != nullptr) s_->add_ref();
  }
  Future(Future&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Future& operator=(Future o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  ~Future() {
    if (s_ != nullptr) s_->release();
  }

  // A new pending future on `loop` (asyncio's loop.create_future()).
  static Future create(EventLoop& loop) { return Future(new detail::FutureState<T>(loop)); }
  // A handle sharing an existing future state.
  static Future from_state(detail::FutureState<T>* s) noexcept { return Future(s); }

  explicit operator bool() const noexcept { return s_ != nullptr; }
  EventLoop& get_loop() const { return checked("get_loop()")->loop(); }
  bool done() const { return checked("done()")->done(); }
  bool cancelled() const { return checked("cancelled()")->cancelled(); }

  template <class... A>
  void set_result(A&&... a) const {
    checked("set_result()")->set_result(std::forward<A>(a)...);
  }
  void set_exception(std::exception_ptr e) const { checked("set_exception()")->set_exception(std::move(e)); }
  template <class E>
  void set_exception(E e) const {
    checked("set_exception()")->set_exception(std::make_exception_ptr(std::move(e)));
  }
  bool cancel(std::string message = {}) const { return checked("cancel()")->cancel(std::move(message)); }

  // The value (for Future<void>, nothing), or raises (see the contract).
  decltype(auto) result() const { return checked("result()")->template result<false>("result()"); }
  std::exception_ptr exception() const { return checked("exception()")->exception(); }

  // fn(Future<T>&) or fn(), scheduled with call_soon once done. The returned
  // handle identifies the callback for remove_done_callback.
  template <class F>
  HandleRef add_done_callback(F fn, std::source_location where = std::source_location::current()) const;
  std::size_t remove_done_callback(const HandleRef& callback) const {
    return checked("remove_done_callback()")->remove_done_handle(callback.get());
  }

  std::string repr() const { return checked("repr()")->repr(); }
  // The shared state; null for an empty handle (unchecked, for simloop's own use).
  detail::FutureState<T>* state() const noexcept { return s_; }

  // Whether co_await on it goes on without suspending (it is done): such a
  // co_await counts against the step's budget (EventLoop::max_sync_resumes).
  bool counts_as_sync_resume() const noexcept { return s_ != nullptr && s_->done(); }
  detail::FutureAwaiter<T, false> operator co_await() const& { return {checked("co_await")}; }
  detail::FutureAwaiter<T, true> operator co_await() && { return {checked("co_await")}; }

  friend bool operator==(const Future& a, const Future& b) noexcept { return a.s_ == b.s_; }

 protected:
  explicit Future(detail::FutureState<T>* s) noexcept : s_(s) {
    if (s_ != nullptr) s_->add_ref();
  }
  // The state, or InvalidStateError naming `operation` for an empty handle.
  detail::FutureState<T>* checked(const char* operation) const {
    if (s_ == nullptr) [[unlikely]]
      detail::raise_empty_handle(operation);
    return s_;
  }
  detail::FutureState<T>* s_ = nullptr;
};

namespace detail {
template <class T, class F>
class FutureDoneCallback final : public DoneCallback {
 public:
  FutureDoneCallback(F&& fn, std::source_location where) : DoneCallback(where), fn_(std::move(fn)) {}

 private:
  void run() override {
    if constexpr (std::is_invocable_v<F&, Future<T>&>) {
      Future<T> f = Future<T>::from_state(static_cast<FutureState<T>*>(future_));
      fn_(f);
    } else {
      fn_();
    }
  }
  F fn_;
};
}  // namespace detail

template <class T>
template <class F>
HandleRef Future<T>::add_done_callback(F fn, std::source_location where) const {
  detail::FutureState<T>* s = checked("add_done_callback()");
  auto* cb = new detail::FutureDoneCallback<T, F>(std::move(fn), where);
  HandleRef ref(cb);
  s->add_done_handle(cb);
  return ref;
}

// ---- EventLoop::run_in_executor ---------------------------------------------

namespace detail {

// The link between a loop future and its executor job (asyncio's
// _chain_future). Invariants: `dest` is touched on the loop thread only; the
// job's thread touches only `state`, `outcome` and `error`, and hands the
// object back to the loop through call_soon_threadsafe (a release/acquire
// pair through the loop's mutex), so the two never race.
template <class R>
struct ExecutorCall {
  enum : int { kQueued = 0, kRunning = 1, kCancelled = 2 };
  std::atomic<int> state{kQueued};
  Future<R> dest;
  ResultSlot<R> outcome;
  std::exception_ptr error;

  // On the loop thread, when the job's completion arrives.
  void complete() {
    Future<R> d = std::move(dest);
    if (d.cancelled()) return;  // the awaiting side gave up: drop the result
    if (error) {
      d.set_exception(error);
    } else if constexpr (std::is_void_v<R>) {
      d.set_result();
    } else {
      d.set_result(std::move(*outcome.value));
    }
  }
};

}  // namespace detail

template <class F>
auto EventLoop::run_in_executor(F fn) -> Future<std::invoke_result_t<F&>> {
  using R = std::invoke_result_t<F&>;
  static_assert(!std::is_reference_v<R>, "run_in_executor: the job must return a value, not a reference");
  check_open("run_in_executor");
  if (!executor_) {
    throw Error(
        "run_in_executor: this loop has no executor; build it with one (make_real_loop() has a thread pool; "
        "under simulation pass a fakes::FakeExecutor)");
  }
  using Call = detail::ExecutorCall<R>;
  auto call = std::make_shared<Call>();
  call->dest = Future<R>::create(*this);
  Future<R> result = call->dest;
  // Cancelling the future cancels the job if it has not started
  // (concurrent.futures.Future.cancel). A weak reference: a pending future
  // must not keep its own link alive.
  std::weak_ptr<Call> weak = call;
  result.add_done_callback([weak](Future<R>& f) {
    if (!f.cancelled()) return;
    if (auto c = weak.lock()) {
      int queued = Call::kQueued;
      c->state.compare_exchange_strong(queued, Call::kCancelled);
    }
  });
  auto job = std::make_shared<F>(std::move(fn));
  executor_->submit([this, call, job]() mutable {
    std::shared_ptr<Call> c = std::move(call);
    if (!c) return;
    int queued = Call::kQueued;
    if (c->state.compare_exchange_strong(queued, Call::kRunning)) {
      try {
        if constexpr (std::is_void_v<R>) {
          (*job)();
        } else {
          c->outcome.value.emplace((*job)());
        }
      } catch (...) {
        c->error = std::current_exception();  // delivered to the awaiting task
      }
    }
    // Even a job cancelled before it started reports back, so the loop
    // releases the link on its own thread. A loop closed meanwhile refuses
    // it; closing waits for the executor, so nothing on the loop thread
    // touches the future while the refused link is dropped here.
    try {
      call_soon_threadsafe([c = std::move(c)] { c->complete(); });
    } catch (const LoopClosedError&) {
    }
  });
  return result;
}

}  // namespace simloop
