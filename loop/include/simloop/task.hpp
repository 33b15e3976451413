// Task<T>: asyncio.Task, a coroutine scheduled independently on its loop.
//
// Contract:
//  - create_task(coro) schedules the first step with call_soon (no eager
//    start). A step resumes the coroutine until it awaits a pending future
//    (the task's wakeup becomes that future's done-callback), yields
//    (sleep(0): the next step is scheduled), or finishes.
//  - The task is a Future<T>: it finishes with the coroutine's value or
//    exception; a CancelledError escaping the coroutine cancels it.
//  - cancel(msg) is a counted request (3.11+): it cancels the future the task
//    waits on, so CancelledError is raised at that co_await; if it waits on
//    none (including a future already done whose wakeup is queued), it is
//    raised at the next step. cancelling() counts requests; uncancel()
//    takes one back (timeout() and TaskGroup rely on it).
//  - The loop keeps every pending task alive: a task needs no other owner.
//  - A suspended task knows the source location of the co_await it waits at
//    and what it waits for (repr(), dump_tasks()).
//  - AnyTask is a task of any result type (current_task, all_tasks, and
//    tasks of different result types side by side: wait, as_completed,
//    gather and timeout take it). `co_await any_task` waits until the task
//    is done, as `await task` does, and yields nothing: it raises the task's
//    exception (CancelledError if it was cancelled). Its result stays in the
//    task: read it through a typed Task<T> handle afterwards. result() is
//    the same check without waiting (FutureNotDoneError while pending).
//  - An empty Task or AnyTask (default-constructed or moved from) raises
//    InvalidStateError naming the operation on every use but assignment,
//    destruction, operator bool, ==, base() and state() (null), as an empty
//    Future.
#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>
#include <memory>
#include <source_location>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <simloop/coro.hpp>
#include <simloop/event_loop.hpp>
#include <simloop/future.hpp>

namespace simloop {

namespace detail {

class TaskBase;

// Whether `e` holds a CancelledError (or a type derived from it). Where the
// C++ runtime can name the exception's type, an exact CancelledError is
// recognised without rethrowing it (a rethrow costs thousands of
// instructions, and every cancelled task used to pay one here).
bool holds_cancelled_error(const std::exception_ptr& e) noexcept;

// The task's step, embedded in the task: scheduling it never allocates.
class StepHandle final : public Handle {
 public:
  explicit StepHandle(TaskBase* owner, std::source_location where) noexcept : Handle(where), owner_(owner) {
    set_embedded();
  }
  std::string describe() const override;
  TaskBase* owner() const noexcept { return owner_; }

 private:
  void run() override;
  void on_first_ref() noexcept override;
  void on_last_ref() noexcept override;
  void on_future_done(FutureBase* future) noexcept override;
  TaskBase* owner_;
};

// The Task invariant (as CPython's tasks.py states it), asserted at every
// step and every suspension. While the task is not done, fut_waiter_ is null
// or a future, and exactly one of these holds:
//  1. fut_waiter_ is a pending future and the step is not scheduled:
//     the task waits for that future (its step handle is a done-callback);
//  2. fut_waiter_ is null or done, and the step is scheduled:
//     the task waits for its step to run;
//  3. fut_waiter_ is null and the step is not scheduled: the task is running.
class TaskBase {
 public:
  TaskBase(const TaskBase&) = delete;
  TaskBase& operator=(const TaskBase&) = delete;

  FutureBase& future() noexcept { return *self_; }
  const FutureBase& future() const noexcept { return *self_; }
  EventLoop& loop() const noexcept { return self_->loop(); }

  // Task.cancel(msg): see the contract in the file header.
  bool request_cancel(std::string message);
  int cancelling() const noexcept { return num_cancels_requested_; }
  int uncancel() noexcept;
  // A new CancelledError carrying the message of the last cancel() that did
  // not go through a future the task waited on (CPython's _cancel_message).
  std::exception_ptr make_cancelled_error() const;

  std::string name() const;
  void set_name(std::string name);
  // The name given by create_task or set_name; null for the default "Task-<id>".
  const std::string* given_name() const noexcept { return name_.get(); }
  std::uint64_t id() const noexcept { return id_; }
  // "<Task pending name='Task-1' coro=<main() running at x.cpp:12> wait_for=<Future pending>>"
  std::string task_repr() const;
  // Where the coroutine is suspended (or was created, before its first step).
  const std::source_location& await_location() const noexcept { return trampoline_.await_location; }
  FutureBase* waiting_for() const noexcept { return fut_waiter_; }
  bool step_scheduled() const noexcept { return step_scheduled_; }
  // The next pending task of the same loop, in creation order.
  TaskBase* next_pending() const noexcept { return next_; }

  // ---- used by awaitables ---------------------------------------------------
  // Suspends on `f` (state 3 -> 1); if a cancel is pending, cancels `f`.
  void wait_on(FutureBase& f, std::coroutine_handle<> resume_at);
  // Suspends and schedules the next step (sleep(0); state 3 -> 2).
  void yield_step(std::coroutine_handle<> resume_at);
  // Raises the CancelledError this resumption must deliver, if any.
  void deliver_pending_cancel();
  // The same CancelledError returned instead of raised (null if none).
  std::exception_ptr take_pending_cancel();

 protected:
  TaskBase(FutureBase& self, std::string name, std::source_location created_at) noexcept;
  virtual ~TaskBase();

  // Registers with the loop and schedules the first step.
  void start(std::coroutine_handle<> root);
  // Reads the finished coroutine's outcome into the future.
  virtual void finish_from_coroutine() = 0;
  virtual bool coroutine_done() const noexcept = 0;
  virtual void destroy_coroutine() noexcept = 0;
  void cancel_self_future(std::exception_ptr cancelled_error);
  bool take_must_cancel() noexcept { return std::exchange(must_cancel_, false); }
  void check_invariant() const noexcept;

 private:
  friend class StepHandle;
  friend class FutureBase;
  friend class simloop::EventLoop;
  void step();
  void schedule_step();
  // Asks the scheduler whether to cancel this task at the co_await it is
  // suspending at (only when its cancel_at_await point is on).
  void maybe_inject_cancel();
  // Seeded injection after grant (scheduler.hpp): `granted`, the future it
  // awaited, has completed and its step is queued.
  void maybe_inject_cancel_after_grant(const FutureBase& granted);
  // "file:line" of the co_await it is suspended at (or was created at).
  std::string await_site() const;
  // The loop closes: destroy the frame, drop what the task waits on.
  void destroy_pending() noexcept;

  FutureBase* self_;
  StepHandle step_;

 protected:
  Trampoline trampoline_;  // drives the task's coroutines during a step

 private:
  FutureBase* fut_waiter_ = nullptr;  // holds a reference
  std::coroutine_handle<> resume_point_;
  std::unique_ptr<std::string> name_;            // null: "Task-<id>"
  std::unique_ptr<std::string> cancel_message_;  // set by a pending cancel(msg)
  std::uint64_t id_ = 0;
  int num_cancels_requested_ = 0;
  bool must_cancel_ = false;
  bool throw_cancel_ = false;  // the current resumption must raise CancelledError
  bool step_scheduled_ = false;
  bool started_ = false;  // the first step has run
  bool frame_destroyed_ = false;
  TaskBase* prev_ = nullptr;  // the loop's list of pending tasks
  TaskBase* next_ = nullptr;
};

template <class T>
class TaskState final : public FutureState<T>, public TaskBase {
 public:
  TaskState(EventLoop& loop, Coro<T> coro, std::string name, std::source_location created_at)
      : FutureState<T>(loop), TaskBase(*this, std::move(name), created_at), coro_(std::move(coro)) {}

  void start() {
    coro_.handle().promise().trampoline = &trampoline_;
    TaskBase::start(coro_.handle());
  }
  bool cancel(std::string message) override { return request_cancel(std::move(message)); }
  TaskBase* as_task() noexcept override { return this; }
  std::string repr() const override { return task_repr(); }

 private:
  void finish_from_coroutine() override {
    auto& promise = coro_.handle().promise();
    if (promise.exception) {
      std::exception_ptr e = promise.exception;
      coro_ = Coro<T>();
      if (holds_cancelled_error(e)) {
        cancel_self_future(e);
      } else {
        this->set_exception(e);
      }
      return;
    }
    if (take_must_cancel()) {
      coro_ = Coro<T>();
      cancel_self_future(make_cancelled_error());
      return;
    }
    if constexpr (std::is_void_v<T>) {
      coro_ = Coro<T>();
      this->set_result();
    } else {
      T value = std::move(*promise.slot.value);
      coro_ = Coro<T>();
      this->set_result(std::move(value));
    }
  }
  bool coroutine_done() const noexcept override { return coro_.done(); }
  void destroy_coroutine() noexcept override { coro_ = Coro<T>(); }

  Coro<T> coro_;
};

}  // namespace detail

template <class T>
class Task : public Future<T> {
 public:
  Task() noexcept = default;
  static Task from_state(detail::TaskState<T>* s) noexcept {
    Task t;
    t.s_ = s;
    s->add_ref();
    return t;
  }

  // Task.cancel(msg): a counted request (see the file header).
  bool cancel(std::string message = {}) const { return checked_base("cancel()")->request_cancel(std::move(message)); }
  int cancelling() const { return checked_base("cancelling()")->cancelling(); }
  int uncancel() const { return checked_base("uncancel()")->uncancel(); }
  std::string get_name() const { return checked_base("get_name()")->name(); }
  void set_name(std::string name) const { checked_base("set_name()")->set_name(std::move(name)); }
  // The task; null for an empty handle. A Task's state is always a
  // TaskState<T> (from_state is the only way in), so no virtual call.
  detail::TaskBase* base() const noexcept { return static_cast<detail::TaskState<T>*>(this->s_); }

 private:
  detail::TaskBase* checked_base(const char* operation) const {
    return static_cast<detail::TaskState<T>*>(this->checked(operation));
  }
};

namespace detail {
// `co_await any_task`: FutureAwaiter without the value (see the contract).
struct AnyTaskAwaiter {
  FutureBase* state;
  TaskBase* task = nullptr;
  bool await_ready() const noexcept { return state->done(); }
  void await_suspend(std::coroutine_handle<> h) { task = suspend_current_task_on(*state, h); }
  void await_resume() {
    if (task != nullptr) deliver_pending_cancel(task);
    // What result() raises on a done future: its CancelledError or exception.
    if (std::exception_ptr e = state->error_of_done()) std::rethrow_exception(e);
  }
};
template <class F>
class AnyTaskDoneCallback;
}  // namespace detail

// An untyped reference to a task: what current_task and all_tasks return,
// and the common type of tasks of different result types (see the contract).
// Every Task<T> converts to it.
class AnyTask {
 public:
  AnyTask() noexcept = default;
  explicit AnyTask(detail::TaskBase* t) noexcept : t_(t) {
    if (t_ != nullptr) t_->future().add_ref();
  }
  template <class T>
  AnyTask(const Task<T>& t) noexcept : AnyTask(t.base()) {}  // NOLINT: implicit on purpose
  AnyTask(const AnyTask& o) noexcept : AnyTask(o.t_) {}
  AnyTask(AnyTask&& o) noexcept : t_(std::exchange(o.t_, nullptr)) {}
  AnyTask& operator=(AnyTask o) noexcept {
    std::swap(t_, o.t_);
    return *this;
  }
  ~AnyTask() {
    if (t_ != nullptr) t_->future().release();
  }
  explicit operator bool() const noexcept { return t_ != nullptr; }
  bool done() const { return checked("done()")->future().done(); }
  bool cancelled() const { return checked("cancelled()")->future().cancelled(); }
  bool cancel(std::string message = {}) const { return checked("cancel()")->request_cancel(std::move(message)); }
  int cancelling() const { return checked("cancelling()")->cancelling(); }
  int uncancel() const { return checked("uncancel()")->uncancel(); }
  std::string get_name() const { return checked("get_name()")->name(); }
  std::string repr() const { return checked("repr()")->task_repr(); }
  EventLoop& get_loop() const { return checked("get_loop()")->loop(); }
  // Task.result() without the value: returns if the task finished with one,
  // else raises its exception or CancelledError (FutureNotDoneError while
  // pending). Marks an exception retrieved. The value: Task<T>::result().
  void result() const {
    detail::TaskBase* t = checked("result()");
    if (!t->future().done()) {
      throw FutureNotDoneError("result(): the task is still pending (" + t->task_repr() +
                               "); await it or check done() first");
    }
    if (std::exception_ptr e = t->future().error_of_done()) std::rethrow_exception(e);
  }
  // The task's exception (null if it finished with a value); raises
  // CancelledError if it was cancelled, FutureNotDoneError while pending.
  std::exception_ptr exception() const { return checked("exception()")->future().exception(); }
  // fn(AnyTask&) or fn(), scheduled with call_soon once the task is done;
  // the handle identifies the callback for remove_done_callback.
  template <class F>
  HandleRef add_done_callback(F fn, std::source_location where = std::source_location::current()) const;
  std::size_t remove_done_callback(const HandleRef& callback) const {
    return checked("remove_done_callback()")->future().remove_done_handle(callback.get());
  }
  // The task; null for an empty handle.
  detail::TaskBase* base() const noexcept { return t_; }
  // The task's future state; null for an empty handle (for simloop's own use).
  detail::FutureBase* state() const noexcept { return t_ != nullptr ? &t_->future() : nullptr; }
  // Whether co_await on it goes on without suspending (the task is done).
  bool counts_as_sync_resume() const noexcept { return t_ != nullptr && t_->future().done(); }
  // Waits until the task is done; raises its exception or CancelledError.
  detail::AnyTaskAwaiter operator co_await() const { return {&checked("co_await")->future()}; }
  friend bool operator==(const AnyTask& a, const AnyTask& b) noexcept { return a.t_ == b.t_; }

 private:
  detail::TaskBase* checked(const char* operation) const {
    if (t_ == nullptr) [[unlikely]]
      detail::raise_empty_handle(operation);
    return t_;
  }
  detail::TaskBase* t_ = nullptr;
};

namespace detail {
template <class F>
class AnyTaskDoneCallback final : public DoneCallback {
 public:
  AnyTaskDoneCallback(F&& fn, std::source_location where) : DoneCallback(where), fn_(std::move(fn)) {}

 private:
  void run() override {
    if constexpr (std::is_invocable_v<F&, AnyTask&>) {
      AnyTask t(future_->as_task());
      fn_(t);
    } else {
      fn_();
    }
  }
  F fn_;
};
}  // namespace detail

template <class F>
HandleRef AnyTask::add_done_callback(F fn, std::source_location where) const {
  detail::TaskBase* t = checked("add_done_callback()");
  auto* cb = new detail::AnyTaskDoneCallback<F>(std::move(fn), where);
  HandleRef ref(cb);
  t->future().add_done_handle(cb);
  return ref;
}

template <class T>
Task<T> EventLoop::create_task(Coro<T> coro, std::string name, std::source_location where) {
  check_open("create_task");
  if (!coro.valid()) throw InvalidStateError("create_task: the Coro is empty (moved from or already awaited)");
  auto* state = new detail::TaskState<T>(*this, std::move(coro), std::move(name), where);
  Task<T> task = Task<T>::from_state(state);
  state->start();
  return task;
}

// asyncio.create_task: a task on the running loop.
template <class T>
Task<T> create_task(Coro<T> coro, std::string name = {}, std::source_location where = std::source_location::current()) {
  return EventLoop::running_or_throw("create_task").create_task(std::move(coro), std::move(name), where);
}

// asyncio.current_task(loop): the task running now, or an empty AnyTask.
AnyTask current_task(const EventLoop& loop);
AnyTask current_task();
// asyncio.all_tasks(loop): every task of `loop` not done yet, in creation order.
std::vector<AnyTask> all_tasks(const EventLoop& loop);

template <class T>
T EventLoop::run_until_complete(Future<T> future) {
  check_open("run_until_complete");
  if (running_) throw LoopRunningError("run_until_complete: this event loop is already running");
  if (!future) detail::raise_empty_handle("run_until_complete");
  if (&future.get_loop() != this)
    throw ForeignLoopError("run_until_complete: the future belongs to another event loop");
  HandleRef stopper = future.add_done_callback([this] { stop(); });
  try {
    run_forever();
  } catch (...) {
    future.remove_done_callback(stopper);
    throw;
  }
  future.remove_done_callback(stopper);
  if (!future.done()) throw LoopStoppedError("run_until_complete: the event loop stopped before the future completed");
  if constexpr (std::is_void_v<T>) {
    future.state()->template result<true>("run_until_complete");
  } else {
    return future.state()->template result<true>("run_until_complete");
  }
}

template <class T>
T EventLoop::run_until_complete(Coro<T> coro) {
  check_open("run_until_complete");
  if (running_) throw LoopRunningError("run_until_complete: this event loop is already running");
  Task<T> task = create_task(std::move(coro));
  return run_until_complete(Future<T>(task));
}

}  // namespace simloop
