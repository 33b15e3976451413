// TaskGroup: asyncio.TaskGroup, CPython 3.13 semantics (Lib/asyncio/taskgroups.py).
//
// Contract:
//  - enter() binds the group to the running task (the parent); create_task()
//    starts children; exit(error) waits for every child, then raises.
//    with_task_group(body) does all three around `body(TaskGroup&)`, like
//    `async with TaskGroup() as tg: ...`.
//  - The first child to fail (an exception other than CancelledError)
//    cancels every other child and the parent task (once), so the parent's
//    body is interrupted at its current co_await. exit() then raises an
//    ExceptionGroup holding every child's exception (and the body's own
//    exception, if it raised one that is not a CancelledError), in the order
//    they were observed. Cancelled children add nothing.
//  - Outer cancellation: the group's own request to cancel the parent is
//    taken back with uncancel() in exit(); if nobody else cancelled the
//    parent (the count drops to 0), its CancelledError is not propagated
//    (the ExceptionGroup is raised instead). A cancellation from outside
//    still propagates; if the group also has errors, the ExceptionGroup is
//    raised and the parent is re-cancelled so the outer cancellation is not
//    lost. If the parent is cancelled while exit() waits, the children are
//    cancelled and the CancelledError propagates after they finish.
//  - exit(error) with a non-null `error` that it does not replace rethrows
//    `error` (as `async with` re-raises when __aexit__ returns false).
//  - Misuse raises TaskGroupStateError: entering twice, create_task before
//    enter(), after the group finished, or while it is shutting down (a
//    child failed or the body raised). enter() outside a task raises
//    NoRunningTaskError.
//  - Children are cancelled in creation order (CPython iterates a set).
//  - The group must outlive its exit(); destroying it earlier detaches it
//    from its children (they keep running, unsupervised).
#pragma once

#include <cstdint>
#include <exception>
#include <map>
#include <optional>
#include <source_location>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <simloop/awaitables.hpp>
#include <simloop/primitive_errors.hpp>

namespace simloop {

class TaskGroup {
 public:
  TaskGroup() = default;
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;
  ~TaskGroup();

  void enter();
  Coro<void> exit(std::exception_ptr error);

  template <class T>
  Task<T> create_task(Coro<T> coro, std::string name = {},
                      std::source_location where = std::source_location::current()) {
    check_can_create();
    Task<T> task = loop_->create_task(std::move(coro), std::move(name), where);
    std::uint64_t seq = next_seq_++;
    HandleRef cb = task.add_done_callback([this, seq] { on_task_done(seq); });
    tasks_.emplace(seq, Child{AnyTask(task), std::move(cb)});
    return task;
  }

  // Children not done yet.
  std::size_t size() const noexcept { return tasks_.size(); }
  // Whether enter() was called (the group cannot be entered again).
  bool entered() const noexcept { return entered_; }
  // e.g. "<TaskGroup tasks=2 errors=1 cancelling>"
  std::string repr() const;

 private:
  struct Child {
    AnyTask task;
    HandleRef callback;
  };
  void check_can_create() const;
  void abort();
  void on_task_done(std::uint64_t seq);

  EventLoop* loop_ = nullptr;
  AnyTask parent_;
  bool entered_ = false;
  bool exiting_ = false;
  bool aborting_ = false;
  bool parent_cancel_requested_ = false;
  std::uint64_t next_seq_ = 0;
  std::map<std::uint64_t, Child> tasks_;  // pending children, creation order
  std::vector<std::exception_ptr> errors_;
  Future<void> on_completed_fut_;
};

// `async with TaskGroup() as tg: return await body(tg)`. `body` is kept in
// this coroutine's frame, so it may capture by reference what the caller
// keeps alive. With GCC 12, a lambda that captures by value must be named
// before the co_await, not written inside it (see docs/loop.md: GCC 12
// destroys such a temporary twice).
template <class F>
Coro<await_result_t<std::invoke_result_t<F&, TaskGroup&>>> with_task_group(F body) {
  using T = await_result_t<std::invoke_result_t<F&, TaskGroup&>>;
  TaskGroup tg;
  tg.enter();
  std::exception_ptr error;
  std::optional<value_or_void_t<T>> value;
  try {
    if constexpr (std::is_void_v<T>) {
      co_await body(tg);
    } else {
      value.emplace(co_await body(tg));
    }
  } catch (...) {
    error = std::current_exception();
  }
  // Not counted against the synchronous-resumption budget: the group must
  // be left (its children cancelled and awaited) whatever the body raised.
  co_await detail::uncounted(tg.exit(error));
  if constexpr (!std::is_void_v<T>) co_return std::move(*value);
}

}  // namespace simloop
