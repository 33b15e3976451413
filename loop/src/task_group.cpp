// TaskGroup: see task_group.hpp. Follows CPython 3.13's taskgroups.py.
#include <simloop/task_group.hpp>

#include <fmt/format.h>

namespace simloop {

TaskGroup::~TaskGroup() {
  // Children still pending must not call back into a destroyed group.
  for (auto& [seq, child] : tasks_) child.task.base()->future().remove_done_handle(child.callback.get());
}

void TaskGroup::enter() {
  if (entered_) throw TaskGroupStateError(fmt::format("TaskGroup {} has already been entered", repr()));
  EventLoop& loop = EventLoop::running_or_throw("TaskGroup.enter");
  AnyTask parent = current_task(loop);
  if (!parent) throw NoRunningTaskError(fmt::format("TaskGroup {} cannot determine the parent task", repr()));
  loop_ = &loop;
  parent_ = std::move(parent);
  entered_ = true;
}

void TaskGroup::check_can_create() const {
  if (!entered_) throw TaskGroupStateError(fmt::format("TaskGroup {} has not been entered", repr()));
  if (exiting_ && tasks_.empty()) throw TaskGroupStateError(fmt::format("TaskGroup {} is finished", repr()));
  if (aborting_) throw TaskGroupStateError(fmt::format("TaskGroup {} is shutting down", repr()));
}

void TaskGroup::abort() {
  aborting_ = true;
  for (auto& [seq, child] : tasks_) {
    if (!child.task.done()) child.task.cancel();
  }
}

void TaskGroup::on_task_done(std::uint64_t seq) {
  auto it = tasks_.find(seq);
  if (it == tasks_.end()) return;
  AnyTask task = std::move(it->second.task);
  tasks_.erase(it);

  if (on_completed_fut_ && tasks_.empty() && !on_completed_fut_.done()) on_completed_fut_.set_result();

  detail::FutureBase& f = task.base()->future();
  if (f.cancelled()) return;
  std::exception_ptr exc = f.exception();
  if (!exc) return;
  errors_.push_back(exc);

  if (parent_.done()) {
    loop_->call_exception_handler({fmt::format("Task {} has errored out but its parent task {} is already completed",
                                               task.repr(), parent_.repr()),
                                   exc, task.repr()});
    return;
  }
  if (!aborting_ && !parent_cancel_requested_) {
    // First failure: cancel the siblings, and the parent (once) so its body
    // stops at its current co_await.
    abort();
    parent_cancel_requested_ = true;
    parent_.cancel();
  }
}

Coro<void> TaskGroup::exit(std::exception_ptr error) {
  if (!entered_) throw TaskGroupStateError(fmt::format("TaskGroup {} has not been entered", repr()));
  exiting_ = true;
  const bool body_cancelled = detail::is_cancelled_error(error);
  std::exception_ptr propagate_cancellation = body_cancelled ? error : nullptr;
  if (error && !aborting_) abort();

  while (!tasks_.empty()) {
    if (!on_completed_fut_) on_completed_fut_ = Future<void>::create(*loop_);
    std::exception_ptr cancelled;
    try {
      co_await on_completed_fut_;
    } catch (const CancelledError&) {
      cancelled = std::current_exception();
    }
    if (cancelled && !aborting_) {
      // The parent was cancelled while waiting: cancel the children too.
      propagate_cancellation = cancelled;
      abort();
    }
    on_completed_fut_ = Future<void>();
  }

  if (parent_cancel_requested_) {
    // Take back our own cancel request; if it was the only one, our
    // CancelledError must not escape (the ExceptionGroup replaces it).
    if (parent_.uncancel() == 0) propagate_cancellation = nullptr;
  }
  if (propagate_cancellation && errors_.empty()) std::rethrow_exception(propagate_cancellation);

  if (error && !body_cancelled) errors_.push_back(error);

  if (!errors_.empty()) {
    if (parent_.cancelling() > 0) {
      // Someone else also cancelled the parent: keep that request alive.
      parent_.uncancel();
      parent_.cancel();
    }
    std::vector<std::exception_ptr> errors = std::move(errors_);
    errors_.clear();
    throw ExceptionGroup("unhandled errors in a TaskGroup", std::move(errors));
  }
  if (error) std::rethrow_exception(error);
}

std::string TaskGroup::repr() const {
  std::string info;
  if (!tasks_.empty()) info += fmt::format(" tasks={}", tasks_.size());
  if (!errors_.empty()) info += fmt::format(" errors={}", errors_.size());
  if (aborting_) {
    info += " cancelling";
  } else if (entered_) {
    info += " entered";
  }
  return fmt::format("<TaskGroup{}>", info);
}

}  // namespace simloop
