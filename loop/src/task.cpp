#include <simloop/detail/source_path.hpp>
#include <simloop/task.hpp>

#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <typeinfo>

#include <fmt/format.h>

#include <simloop/sleep.hpp>

namespace simloop {

namespace detail {

bool holds_cancelled_error(const std::exception_ptr& e) noexcept {
  if (!e) return false;
#if defined(__GLIBCXX__)
  // libstdc++ names the type of the object an exception_ptr holds.
  if (const std::type_info* type = e.__cxa_exception_type(); type != nullptr && *type == typeid(CancelledError)) {
    return true;
  }
#endif
  // Any other type (a class derived from CancelledError included): ask the
  // language, by rethrowing.
  try {
    std::rethrow_exception(e);
  } catch (const CancelledError&) {
    return true;
  } catch (...) {
    return false;
  }
}

// ---- StepHandle --------------------------------------------------------------

std::string StepHandle::describe() const { return fmt::format("step of {}", owner_->name()); }
void StepHandle::run() { owner_->step(); }
void StepHandle::on_first_ref() noexcept { owner_->future().add_ref(); }
void StepHandle::on_last_ref() noexcept { owner_->future().release(); }
void StepHandle::on_future_done(FutureBase*) noexcept { owner_->step_scheduled_ = true; }

// ---- TaskBase ----------------------------------------------------------------

TaskBase::TaskBase(FutureBase& self, std::string name, std::source_location created_at) noexcept
    : self_(&self), step_(this, created_at) {
  trampoline_.await_location = created_at;
  if (!name.empty()) name_ = std::make_unique<std::string>(std::move(name));
}

TaskBase::~TaskBase() {
  if (fut_waiter_ != nullptr) fut_waiter_->release();
  FutureBase& f = *self_;
  if (f.state_ == FutureBase::State::Finished && f.exception_ && !f.exception_retrieved_) {
    f.exception_retrieved_ = true;
    ExceptionContext context{"Task exception was never retrieved", f.exception_, task_repr()};
    try {
      loop().call_exception_handler(context);
    } catch (...) {
      EventLoop::default_exception_handler(loop(), context);
    }
  }
}

void TaskBase::check_invariant() const noexcept {
#ifndef NDEBUG
  if (self_->done() || frame_destroyed_) return;
  const bool waiting = fut_waiter_ != nullptr && !fut_waiter_->done();
  const bool running = loop().current_task_base() == this;
  // Exactly one of the three states of the invariant (see task.hpp).
  const int states = int(waiting && !step_scheduled_) + int(!waiting && step_scheduled_) +
                     int(fut_waiter_ == nullptr && !step_scheduled_ && running);
  if (states != 1) {
    std::fprintf(stderr, "simloop: Task invariant broken for %s (waiting=%d step_scheduled=%d running=%d)\n",
                 task_repr().c_str(), int(waiting), int(step_scheduled_), int(running));
    std::abort();
  }
#endif
}

void TaskBase::start(std::coroutine_handle<> root) {
  resume_point_ = root;
  loop().register_task(this);
  schedule_step();
}

void TaskBase::schedule_step() {
  assert(!step_scheduled_);
  step_scheduled_ = true;
  loop().enqueue(&step_);
}

void TaskBase::step() {
  FutureBase& f = *self_;
  if (f.done() || frame_destroyed_) return;
  check_invariant();  // state 2
  step_scheduled_ = false;
  EventLoop& loop = this->loop();
  if (loop.current_task_ != nullptr) {
    throw Error(fmt::format("cannot step {} while {} is running", name(), loop.current_task_->name()));
  }
  bool cancel_now = std::exchange(must_cancel_, false);
  if (FutureBase* waited = std::exchange(fut_waiter_, nullptr)) {
    // The awaited future was itself cancelled (by the first of several
    // cancel() calls, say) or holds a CancelledError: the co_await raises
    // that error, with its message, as Task.__step keeps a CancelledError
    // it is handed rather than making a new one.
    if (cancel_now && (waited->cancelled() ||
                       (waited->state_ == FutureBase::State::Finished && holds_cancelled_error(waited->exception_)))) {
      cancel_now = false;
    }
    waited->release();
  }
  if (!started_) {
    started_ = true;
    if (cancel_now) {
      // Cancelled before its first step. The CancelledError would be raised
      // at the top of the coroutine, before any statement of it, where no
      // handler can catch it: end the task cancelled without resuming it
      // (as coro.throw() on an unstarted coroutine, and without a raise).
      resume_point_ = nullptr;
      destroy_coroutine();
      cancel_self_future(make_cancelled_error());
      loop.unregister_task(this);
      return;
    }
  }
  loop.current_task_ = this;
  throw_cancel_ = cancel_now;
  trampoline_.sync_resumes_left = loop.sync_resume_budget_;
  trampoline_.run(std::exchange(resume_point_, nullptr));
  loop.current_task_ = nullptr;
  throw_cancel_ = false;
  if (coroutine_done()) {
    finish_from_coroutine();
    if (loop.report_swallowed_cancel() && num_cancels_requested_ > 0 && self_->state_ == FutureBase::State::Finished &&
        !self_->exception_) {
      loop.call_exception_handler(
          {"Task swallowed a cancel request and finished normally (catch CancelledError only to clean up, then "
           "rethrow it, or call uncancel())",
           nullptr, task_repr()});
    }
    loop.unregister_task(this);
  } else {
    check_invariant();  // state 1 or 2
  }
}

void TaskBase::wait_on(FutureBase& f, std::coroutine_handle<> resume_at) {
  assert(fut_waiter_ == nullptr && !step_scheduled_);
  f.add_ref();
  fut_waiter_ = &f;
  resume_point_ = resume_at;
  f.add_done_handle(&step_);
  if (must_cancel_) {
    // Cancelled while running (e.g. by itself): cancel what it now waits on.
    std::string message = cancel_message_ ? *cancel_message_ : std::string();
    if (f.cancel(std::move(message))) must_cancel_ = false;
    return;
  }
  maybe_inject_cancel();
}

std::string TaskBase::await_site() const {
  const std::source_location& at = trampoline_.await_location;
  return fmt::format("{}:{}", display_file(at.file_name()), at.line());
}

void TaskBase::maybe_inject_cancel() {
  // Seeded cancellation injection: the scheduler may cancel the task at this
  // co_await, exactly as a cancel() from elsewhere would land here.
  EventLoop& loop = this->loop();
  if (!loop.points_.injects(Injection::Suspend)) return;
  if (loop.scheduler_->inject_cancel(Injection::Suspend, id_)) {
    loop.inject_cancel(*this, Injection::Suspend, fmt::format("suspending at the co_await at {}", await_site()));
  }
}

void TaskBase::maybe_inject_cancel_after_grant(const FutureBase& granted) {
  if (self_->done() || must_cancel_ || !step_scheduled_) return;
  EventLoop& loop = this->loop();
  if (loop.scheduler_->inject_cancel(Injection::Granted, id_)) {
    loop.inject_cancel(*this, Injection::Granted,
                       fmt::format("woken at the co_await at {}: {} completed", await_site(), granted.repr()));
  }
}

void TaskBase::yield_step(std::coroutine_handle<> resume_at) {
  assert(fut_waiter_ == nullptr && !step_scheduled_);
  resume_point_ = resume_at;
  schedule_step();
  if (!must_cancel_) maybe_inject_cancel();
}

void TaskBase::deliver_pending_cancel() {
  if (std::exception_ptr cancel = take_pending_cancel()) std::rethrow_exception(cancel);
}

std::exception_ptr TaskBase::take_pending_cancel() {
  if (!std::exchange(throw_cancel_, false)) return nullptr;
  return make_cancelled_error();
}

bool TaskBase::request_cancel(std::string message) {
  if (self_->done()) return false;
  ++num_cancels_requested_;
  if (fut_waiter_ != nullptr && fut_waiter_->cancel(message)) {
    // fut_waiter_ stays: it may be a task that swallows the cancellation,
    // to be cancelled again later.
    return true;
  }
  must_cancel_ = true;
  if (message.empty()) {
    cancel_message_.reset();
  } else {
    cancel_message_ = std::make_unique<std::string>(std::move(message));
  }
  return true;
}

int TaskBase::uncancel() noexcept {
  if (num_cancels_requested_ > 0) {
    --num_cancels_requested_;
    if (num_cancels_requested_ == 0) must_cancel_ = false;  // as CPython 3.13
  }
  return num_cancels_requested_;
}

void TaskBase::cancel_self_future(std::exception_ptr cancelled_error) {
  self_->mark_cancelled(std::move(cancelled_error));
}

std::exception_ptr TaskBase::make_cancelled_error() const {
  return std::make_exception_ptr(CancelledError(cancel_message_ ? *cancel_message_ : std::string()));
}

std::string TaskBase::name() const { return name_ ? *name_ : fmt::format("Task-{}", id_); }
void TaskBase::set_name(std::string name) { name_ = std::make_unique<std::string>(std::move(name)); }

std::string TaskBase::task_repr() const {
  const FutureBase& f = *self_;
  std::string out = fmt::format("<Task {} name='{}'", f.state_name(), name());
  if (!f.done()) {
    const std::source_location& at = trampoline_.await_location;
    out += fmt::format(" coro=<{} {} at {}:{}>", at.function_name(),
                       frame_destroyed_ ? "destroyed" : (loop().current_task_base() == this ? "running" : "suspended"),
                       display_file(at.file_name()), at.line());
    if (fut_waiter_ != nullptr) {
      out += " wait_for=";
      out += fut_waiter_->repr();
    } else if (step_scheduled_) {
      out += " step scheduled";
    }
  } else if (f.state_ == FutureBase::State::Finished && f.exception_) {
    std::string what;
    try {
      std::rethrow_exception(f.exception_);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
      what = describe_exception(f.exception_);
    }
    out += fmt::format(" exception={}", what);
  }
  out += '>';
  return out;
}

void TaskBase::destroy_pending() noexcept {
  frame_destroyed_ = true;
  if (fut_waiter_ != nullptr) std::exchange(fut_waiter_, nullptr)->release();
  resume_point_ = nullptr;
  destroy_coroutine();
  // The task can never complete now, so its done-callbacks can never run;
  // dropping them breaks the cycles they close (a gather's or shield's
  // outer future and its children hold each other until one completes).
  self_->callbacks_.clear();
}

// ---- awaitable plumbing ----------------------------------------------------

namespace {
TaskBase* running_task() noexcept {
  EventLoop* loop = EventLoop::running();
  return loop != nullptr ? loop->current_task_base() : nullptr;
}
}  // namespace

TaskBase* suspend_current_task_on(FutureBase& f, std::coroutine_handle<> resume_at) {
  EventLoop* loop = EventLoop::running();
  TaskBase* task = loop != nullptr ? loop->current_task_base() : nullptr;
  if (task == nullptr) {
    throw NoRunningTaskError(
        fmt::format("co_await {}: not inside a task; wrap the coroutine with create_task", f.repr()));
  }
  if (&f.loop() != loop) {
    throw ForeignLoopError(
        fmt::format("{} awaits {}, which belongs to another event loop; futures are bound to the loop that made them",
                    task->name(), f.repr()));
  }
  if (&f == &task->future()) {
    throw SelfAwaitError(fmt::format("{} awaits itself; it would wait forever", task->name()));
  }
  task->wait_on(f, resume_at);
  return task;
}

void deliver_pending_cancel(TaskBase* task) { task->deliver_pending_cancel(); }

void raise_sync_resume_budget_exceeded(Trampoline& t) {
  // A coroutine runs only inside its task's step, so a task is running.
  TaskBase* task = running_task();
  const std::uint64_t limit = task != nullptr ? task->loop().max_sync_resumes() : 0;
  t.sync_resumes_left = sync_resume_budget(limit);  // as at the start of a step
  throw SyncResumeBudgetError(fmt::format(
      "more than {} synchronous resumptions in one step of task '{}' without yielding to the loop (a livelock that "
      "never suspends?); the limit is EventLoop::set_max_sync_resumes (SIMLOOP_MAX_SYNC_RESUMES in the runner)",
      limit, task != nullptr ? task->name() : std::string("?")));
}

void deliver_pending_cancel_to_current() {
  if (TaskBase* task = running_task()) task->deliver_pending_cancel();
}

TaskBase* yield_current_task(std::coroutine_handle<> resume_at) {
  TaskBase* task = running_task();
  if (task == nullptr) throw NoRunningTaskError("sleep(0): not inside a task; wrap the coroutine with create_task");
  task->yield_step(resume_at);
  return task;
}

}  // namespace detail

AnyTask current_task(const EventLoop& loop) { return AnyTask(loop.current_task_base()); }
AnyTask current_task() {
  EventLoop* loop = EventLoop::running();
  return loop != nullptr ? current_task(*loop) : AnyTask();
}

std::vector<AnyTask> all_tasks(const EventLoop& loop) {
  std::vector<AnyTask> out;
  for (detail::TaskBase* t = loop.first_pending_task(); t != nullptr; t = t->next_pending()) out.emplace_back(t);
  return out;
}

}  // namespace simloop
