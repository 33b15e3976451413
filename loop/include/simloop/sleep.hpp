// sleep(delay[, value]): asyncio.sleep.
//
// Contract:
//  - sleep(d) with d <= 0 yields exactly one iteration: the task's next step
//    is scheduled with call_soon (asyncio's bare `yield`).
//  - sleep(d) with d > 0 arms a timer at time() + d whose callback completes
//    a future the task awaits (unless it was cancelled), so the task resumes
//    the iteration after the timer fires, at virtual time >= start + d. The
//    timer is cancelled when the task resumes, whatever the reason.
//  - sleep(d, value) returns value. Cancelling the sleeping task raises
//    CancelledError at the co_await.
#pragma once

#include <chrono>
#include <coroutine>
#include <optional>
#include <source_location>
#include <type_traits>

#include <simloop/task.hpp>

namespace simloop {

namespace detail {
// Schedules the running task's next step (state 3 -> 2) and returns the task.
TaskBase* yield_current_task(std::coroutine_handle<> resume_at);
}  // namespace detail

template <class T = void>
class [[nodiscard]] Sleep {
 public:
  template <class... V>
  explicit Sleep(Duration delay, V&&... value) : delay_(delay) {
    if constexpr (!std::is_void_v<T>) value_.emplace(std::forward<V>(value)...);
  }
  Sleep(Sleep&&) noexcept = default;
  ~Sleep() { timer_.cancel(); }

  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    if (delay_ <= Duration{0}) {
      task_ = detail::yield_current_task(h);
      return;
    }
    EventLoop& loop = EventLoop::running_or_throw("sleep");
    future_ = Future<void>::create(loop);
    timer_ = loop.call_later(delay_, [f = future_] {
      if (!f.done()) f.set_result();  // futures._set_result_unless_cancelled
    });
    try {
      task_ = detail::suspend_current_task_on(*future_.state(), h);
    } catch (...) {
      timer_.cancel();
      throw;
    }
  }
  T await_resume() {
    timer_.cancel();
    if (task_ != nullptr) task_->deliver_pending_cancel();
    if (future_) future_.result();
    if constexpr (!std::is_void_v<T>) return std::move(*value_);
  }

 private:
  Duration delay_;
  Future<void> future_;
  HandleRef timer_;
  detail::TaskBase* task_ = nullptr;
  [[no_unique_address]] std::conditional_t<std::is_void_v<T>, std::nullptr_t, std::optional<T>> value_{};
};

template <class Rep, class Period>
Duration to_duration(std::chrono::duration<Rep, Period> d) {
  if constexpr (std::is_floating_point_v<Rep>) {
    return std::chrono::round<Duration>(d);
  } else {
    return std::chrono::duration_cast<Duration>(d);
  }
}

template <class Rep, class Period>
Sleep<void> sleep(std::chrono::duration<Rep, Period> delay) {
  return Sleep<void>(to_duration(delay));
}
template <class Rep, class Period, class V>
Sleep<std::decay_t<V>> sleep(std::chrono::duration<Rep, Period> delay, V&& value) {
  return Sleep<std::decay_t<V>>(to_duration(delay), std::forward<V>(value));
}

}  // namespace simloop
